#pragma once
// CloseCode: the RFC 6455 close status codes a server sends for protocol violations, and which
// codes a peer may send at all (RFC 6455 7.4 and the IANA WebSocket Close Code registry).

#include <cstdint>

namespace switchboard::websocket {

/// Status codes of RFC 6455 7.4.1 the gateways use.
enum class CloseCode : std::uint16_t {
    Normal = 1000,
    GoingAway = 1001,
    ProtocolError = 1002,   ///< malformed frame, bad fragmentation, invalid close frame
    NoStatus = 1005,        ///< reported locally for a close frame without a body; never sent
    InvalidPayload = 1007,  ///< text message that is not valid UTF-8
    PolicyViolation = 1008,
    MessageTooBig = 1009,   ///< message over the receive limit
    InternalError = 1011,
};

/// True for codes a peer may put in a close frame: 1000-1003, 1007-1014 and 3000-4999. Everything
/// else (0-999, 1004-1006, 1015, 1016-2999, 5000 and up) is reserved or must never be sent, and
/// a close frame carrying it is a protocol error (1002).
constexpr bool isValidReceivedCloseCode(std::uint16_t code) noexcept
{
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
}

} // namespace switchboard::websocket
