#pragma once
// Authorizer: decides private and presence joins.

#include "switchboard/ChannelName.h"

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
};

struct AuthDecision {
    bool allowed = false;
    /// For presence channels: the member this connection joins as. Empty userId: the Hub uses
    /// the principal's userId and userInfo, then channelData's user_id / user_info.
    std::string memberUserId;
    std::string memberInfo; ///< JSON text
};

/// Called for private and presence channels only (public channels are open). With no
/// authorizer installed, such joins are denied.
using Authorizer = std::function<AuthDecision(const AuthRequest &)>;

} // namespace switchboard
