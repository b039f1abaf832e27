#pragma once
// HeaderValue: small helpers for the values of HTTP header fields that the upgrade and the
// gateway's static files read (Sec-WebSocket-Extensions, Accept-Encoding, If-None-Match).

#include <string_view>

namespace switchboard::websocket {

/// `s` without the optional whitespace (spaces and horizontal tabs, RFC 9110 5.6.3) around it.
constexpr std::string_view trimOptionalWhitespace(std::string_view s) noexcept
{
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
        s.remove_suffix(1);
    return s;
}

} // namespace switchboard::websocket
