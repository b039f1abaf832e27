#include "HttpTypes.h"

#include <switchboard/MessageEncoding.h>

namespace switchboard::asio {

Response errorResponse(http::status status, int code, std::string_view message)
{
    std::string body = "{\"error\":{\"code\":" + std::to_string(code) + ",\"message\":";
    appendJsonString(body, message);
    body += "}}\n";
    return makeResponse(status, std::move(body), "application/json");
}

} // namespace switchboard::asio
