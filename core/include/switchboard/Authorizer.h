#pragma once
// Authorizer: decides private and presence joins.

#include "switchboard/ChannelName.h"
#include "switchboard/Error.h"

#include <functional>
#include <string>
#include <vector>

namespace switchboard {

/// Who a connection is, as established at connect (from a token) by the transport or the
/// ServerProtocol's connect authenticator. Empty userId: anonymous.
struct Principal {
    std::string userId;
    std::string userInfo;                     ///< JSON text for presence, may be empty
    std::vector<std::string> channelPatterns; ///< TopicFilter strings the token allows
};

struct AuthRequest {
    std::string_view channel;
    ChannelType type;
    std::string_view sessionId;
    const Principal &principal;
    std::string_view auth;        ///< per-subscribe credential from the client (may be empty)
    std::string_view channelData; ///< presence: JSON text {"user_id":..,"user_info":..} from the client
    std::string_view clientName;  ///< the `name` of the session's connect frame (Hub::attach), may be empty
};

struct AuthDecision {
    bool allowed = false;
    /// For presence channels: the member this connection joins as. Empty userId: the Hub uses
    /// the principal's userId and userInfo, then channelData's user_id / user_info.
    std::string memberUserId;
    std::string memberInfo; ///< JSON text
    /// Not allowed: the error the join is refused with (the client's `error` frame code), for
    /// an authorizer that can tell "no" (Unauthorized, Forbidden) from "cannot decide now" (a
    /// backend that is down: BadGateway, busy: NotConnected 503, slow: AuthorizationTimeout).
    Error refusal = Error::Unauthorized;
    std::string reason; ///< not allowed: the error frame's message; empty: the code's usual one
    /// Allowed until this wall-clock time (ms since the Unix epoch); 0: for the subscription's
    /// lifetime. Before it the client is sent `expiring` for the channel
    /// (HubOptions::authorizationRefreshHint) and may send `refresh` with the channel and a new
    /// `auth` (Hub::refreshAuthorization); at it, unrefreshed, the subscription ends: error 401
    /// `channel authorization expired`, then `unsubscribed` marked `server`.
    std::int64_t expiresAtMs = 0;
};

/// The error a refused decision answers with: its `refusal`, Unauthorized when it has none.
inline Error refusalOf(const AuthDecision &decision)
{
    return static_cast<int>(decision.refusal) == 0 ? Error::Unauthorized : decision.refusal;
}

/// Called for private and presence channels only (public channels are open). With no
/// authorizer installed, such joins are denied. Runs synchronously on the Hub's thread: a slow
/// one stalls every connection of the Hub; use an AsyncAuthorizer for anything that waits.
using Authorizer = std::function<AuthDecision(const AuthRequest &)>;

/// Delivers the decision of an AsyncAuthorizer. Call it on the Hub's thread, now (inside the
/// authorizer) or later (from a timer, a database reply, an HTTP response). Only the first call
/// counts; later calls, and calls after the join was cancelled (the session left or unsubscribed),
/// refused by the deadline (HubOptions::authorizationTimeout) or after the Hub was destroyed, are
/// ignored. Copies share that state. Holds no reference that keeps the Hub or the session alive.
using AuthAnswer = std::function<void(AuthDecision)>;

/// Decides a private or presence join and answers through `answer`, now or later; the Hub goes on
/// serving every other connection meanwhile, and the join waits (counting against the session's
/// channel limit, a second subscribe to the channel refused with 409). The AuthRequest and what
/// it refers to are valid only during the call: copy what the answer needs. If it throws before
/// answering, the join is denied (error 500, counted as an auth failure).
using AsyncAuthorizer = std::function<void(const AuthRequest &, AuthAnswer answer)>;

} // namespace switchboard
