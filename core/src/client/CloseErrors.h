#pragma once
// CloseErrors: what a connection's close code means to the client. Private to the client.
//
// Contract: pure functions of the close code (docs/protocol.md, "Close codes"), no state.
// errorForClose() names the error reported for a connection that ended without the client asking
// (a failed connect, or a lost session for which closeIsError() is true); closeIsError() tells
// whether such a close of an established session is worth an `error` event at all, or only the
// `close` event. Whether to reconnect is shouldReconnect() (switchboard/Error.h), not decided here.

#include "switchboard/Error.h"

#include <cstdint>
#include <system_error>

namespace switchboard::client {

constexpr std::uint16_t kCloseNormal = static_cast<std::uint16_t>(DisconnectCode::Normal);

/// The error reported for a connection that ended with `code` without being asked to.
inline std::error_code errorForClose(std::uint16_t code)
{
    switch (code) {
    case static_cast<std::uint16_t>(DisconnectCode::InvalidToken):
    case static_cast<std::uint16_t>(DisconnectCode::TokenExpired):
        return make_error_code(Error::Unauthorized);
    case static_cast<std::uint16_t>(DisconnectCode::Forbidden):
        return make_error_code(Error::Forbidden);
    case static_cast<std::uint16_t>(DisconnectCode::BadProtocol):
    case static_cast<std::uint16_t>(DisconnectCode::UnsupportedVersion):
    case static_cast<std::uint16_t>(DisconnectCode::ProtocolError):
    case static_cast<std::uint16_t>(DisconnectCode::InvalidPayload):
        return make_error_code(Error::BadRequest);
    case static_cast<std::uint16_t>(DisconnectCode::MessageTooBig):
        return make_error_code(Error::TooLarge);
    case static_cast<std::uint16_t>(DisconnectCode::Flood):
        return make_error_code(Error::RateLimited);
    case static_cast<std::uint16_t>(DisconnectCode::ConnectTimeout):
        return make_error_code(Error::Timeout);
    default:
        return make_error_code(Error::NotConnected);
    }
}

/// Closes worth an `error` event once a session was established: lost connections and closes
/// after which the client must not reconnect. Graceful server closes in the reconnect range
/// (shutdown, token expiry...) only produce `close`.
inline bool closeIsError(std::uint16_t code)
{
    if (code == kCloseNormal || code == static_cast<std::uint16_t>(DisconnectCode::GoingAway))
        return false;
    if (code >= 3000 && code < 3500)
        return false;
    return true;
}

} // namespace switchboard::client
