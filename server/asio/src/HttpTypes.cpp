#include "HttpTypes.h"

#include <switchboard/MessageEncoding.h>

#include <algorithm>

namespace switchboard::asio {

Response errorResponse(http::status status, int code, std::string_view message)
{
    std::string body = "{\"error\":{\"code\":" + std::to_string(code) + ",\"message\":";
    appendJsonString(body, message);
    body += "}}\n";
    return makeResponse(status, std::move(body), "application/json");
}

std::vector<std::string> splitList(std::string_view text, char separator)
{
    std::vector<std::string> out;
    std::size_t pos = 0;
    while (pos <= text.size()) {
        const std::size_t next = std::min(text.find(separator, pos), text.size());
        if (next > pos)
            out.emplace_back(text.substr(pos, next - pos));
        pos = next + 1;
    }
    return out;
}

} // namespace switchboard::asio
