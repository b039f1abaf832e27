#pragma once
// Error codes of Switchboard. Protocol error codes travel in `error` frames (the connection stays
// open); disconnect codes travel as WebSocket close codes. docs/protocol.md lists every code.

#include <cstdint>
#include <string_view>
#include <system_error>

namespace switchboard {

/// Errors reported to a caller or in an `error` frame. Values mirror HTTP status semantics so
/// that the same number can be used by the HTTP API.
enum class Error : int {
    BadRequest = 400,        ///< malformed frame, missing or mistyped field, bad JSON
    Unauthorized = 401,      ///< missing or invalid credentials for a private/presence channel
    Forbidden = 403,         ///< credentials valid but the operation is not allowed
    NotFound = 404,          ///< no handler for a request topic; not subscribed to the channel
    UnknownOp = 405,         ///< frame with an `op` the server does not know
    Timeout = 408,           ///< no ack or reply within the deadline (client side)
    AlreadySubscribed = 409, ///< subscribe to a channel the session is already in
    TooLarge = 413,          ///< payload or frame over the configured size, or nested too deep
    InvalidName = 422,       ///< channel, topic or event name fails validation
    RateLimited = 429,       ///< more operations per second than allowed
    ChannelLimit = 431,      ///< more channels than allowed per session
    Closed = 410,            ///< the server is shutting down (Hub::close): no new sessions or joins
    Internal = 500,          ///< a server handler failed
    BadGateway = 502,        ///< a backend the server asked (subscribe proxy) is down or answered garbage
    AuthorizationTimeout = 504, ///< the authorizer did not answer a subscribe in time (HubOptions::authorizationTimeout)
    NotConnected = 503,      ///< client side: operation needs a connected session
    Cancelled = 499,         ///< client side: the session was closed while waiting
};

const std::error_category &errorCategory() noexcept;
inline std::error_code make_error_code(Error e) noexcept { return {static_cast<int>(e), errorCategory()}; }
/// Short snake_case name of a code ("bad_request"), used in frames and metrics.
std::string_view errorName(Error e) noexcept;

/// WebSocket close codes. 1000-1015 are RFC 6455. 3000-3499: the client should reconnect with
/// backoff. 3500-3999: the client must not reconnect without a change (new token, new config).
enum class DisconnectCode : std::uint16_t {
    Normal = 1000,          ///< closed on request
    GoingAway = 1001,       ///< peer went away (browser tab closed)
    ProtocolError = 1002,   ///< WebSocket-level protocol violation
    InvalidPayload = 1007,  ///< text frame with invalid UTF-8
    MessageTooBig = 1009,   ///< frame larger than the configured maximum
    InternalError = 1011,   ///< unexpected server condition

    Shutdown = 3000,        ///< server shutting down: reconnect (to another node) with backoff
    SlowConsumer = 3001,    ///< outbox overflowed under the DisconnectClient policy: reconnect and recover
    IdleTimeout = 3002,     ///< no traffic or pong within the idle timeout
    ServerFull = 3003,      ///< connection limit reached: reconnect later
    TokenExpired = 3004,    ///< connection token expired: reconnect with a fresh token
    Flood = 3005,           ///< too many operations per second after warnings: reconnect after backoff
    ConnectTimeout = 3006,  ///< no `connect` frame within the handshake deadline
    InsufficientState = 3007, ///< the server may have lost publications owed to this connection: reconnect and recover
    AuthUnavailable = 3008, ///< the connection could not be authenticated now (the authenticator failed, timed out or is busy): reconnect with backoff

    BadProtocol = 3500,     ///< repeated malformed frames: fix the client
    InvalidToken = 3501,    ///< connection token rejected: do not retry the same token
    Forbidden = 3502,       ///< origin or client not allowed
    UnsupportedVersion = 3503, ///< protocol version not supported
};

/// Whether a client seeing this close code should reconnect (with backoff).
bool shouldReconnect(std::uint16_t closeCode) noexcept;
std::string_view disconnectName(DisconnectCode code) noexcept;

} // namespace switchboard

template <>
struct std::is_error_code_enum<switchboard::Error> : std::true_type {};
