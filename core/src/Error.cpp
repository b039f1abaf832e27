#include "switchboard/Error.h"

#include <string>

namespace switchboard {

namespace {
class Category final : public std::error_category {
public:
    const char *name() const noexcept override { return "switchboard"; }
    std::string message(int value) const override
    {
        return std::string(errorName(static_cast<Error>(value)));
    }
};
} // namespace

const std::error_category &errorCategory() noexcept
{
    static const Category category;
    return category;
}

std::string_view errorName(Error e) noexcept
{
    switch (e) {
    case Error::BadRequest: return "bad_request";
    case Error::Unauthorized: return "unauthorized";
    case Error::Forbidden: return "forbidden";
    case Error::NotFound: return "not_found";
    case Error::UnknownOp: return "unknown_op";
    case Error::Timeout: return "timeout";
    case Error::AlreadySubscribed: return "already_subscribed";
    case Error::TooLarge: return "too_large";
    case Error::InvalidName: return "invalid_name";
    case Error::RateLimited: return "rate_limited";
    case Error::ChannelLimit: return "channel_limit";
    case Error::Closed: return "closed";
    case Error::Internal: return "internal";
    case Error::BadGateway: return "bad_gateway";
    case Error::AuthorizationTimeout: return "authorization_timeout";
    case Error::NotConnected: return "not_connected";
    case Error::Cancelled: return "cancelled";
    }
    return "unknown";
}

bool shouldReconnect(std::uint16_t code) noexcept
{
    if (code >= 3000 && code < 3500)
        return true;
    if (code >= 3500 && code < 5000)
        return false;
    // RFC 6455 codes: a normal close is final; anything else (abnormal 1006, 1001, 1011...) retries.
    return code != static_cast<std::uint16_t>(DisconnectCode::Normal)
        && code != static_cast<std::uint16_t>(DisconnectCode::ProtocolError)
        && code != static_cast<std::uint16_t>(DisconnectCode::InvalidPayload)
        && code != static_cast<std::uint16_t>(DisconnectCode::MessageTooBig);
}

std::string_view disconnectName(DisconnectCode code) noexcept
{
    switch (code) {
    case DisconnectCode::Normal: return "normal";
    case DisconnectCode::GoingAway: return "going_away";
    case DisconnectCode::ProtocolError: return "protocol_error";
    case DisconnectCode::InvalidPayload: return "invalid_payload";
    case DisconnectCode::MessageTooBig: return "message_too_big";
    case DisconnectCode::InternalError: return "internal_error";
    case DisconnectCode::Shutdown: return "shutdown";
    case DisconnectCode::SlowConsumer: return "slow_consumer";
    case DisconnectCode::IdleTimeout: return "idle_timeout";
    case DisconnectCode::ServerFull: return "server_full";
    case DisconnectCode::TokenExpired: return "token_expired";
    case DisconnectCode::Flood: return "flood";
    case DisconnectCode::ConnectTimeout: return "connect_timeout";
    case DisconnectCode::InsufficientState: return "insufficient_state";
    case DisconnectCode::AuthUnavailable: return "auth_unavailable";
    case DisconnectCode::BadProtocol: return "bad_protocol";
    case DisconnectCode::InvalidToken: return "invalid_token";
    case DisconnectCode::Forbidden: return "forbidden";
    case DisconnectCode::UnsupportedVersion: return "unsupported_version";
    }
    return "unknown";
}

} // namespace switchboard
