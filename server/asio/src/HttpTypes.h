#pragma once
// HTTP message types of the gateway and small response builders.

#include <boost/beast/http.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace switchboard::asio {

namespace http = boost::beast::http;
using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

inline Response makeResponse(http::status status, std::string body, std::string_view contentType)
{
    Response res{status, 11};
    res.set(http::field::server, "switchboard-gateway");
    res.set(http::field::content_type, contentType);
    res.body() = std::move(body);
    res.prepare_payload();
    return res;
}

/// {"error":{"code":<code>,"message":"..."}} with HTTP status `status`.
Response errorResponse(http::status status, int code, std::string_view message);
inline Response errorResponse(http::status status, std::string_view message)
{
    return errorResponse(status, static_cast<int>(status), message);
}

/// A list of the query or a header (`a,b,c`): `text` cut at `separator`, empty items skipped.
std::vector<std::string> splitList(std::string_view text, char separator);

} // namespace switchboard::asio
