#include "switchboard/TokenAuthorizer.h"

#include "switchboard/TopicFilter.h"

namespace switchboard {

bool principalAllows(const Principal &principal, std::string_view channel)
{
    for (const std::string &pattern : principal.channelPatterns) {
        std::error_code error;
        const std::optional<TopicFilter> filter = TopicFilter::parse(pattern, error);
        if (filter && filter->match(channel))
            return true;
    }
    return false;
}

AuthDecision authorizeByToken(const AuthRequest &request)
{
    AuthDecision decision;
    if (!principalAllows(request.principal, request.channel))
        return decision;
    if (request.type == ChannelType::Presence) {
        if (request.principal.userId.empty())
            return decision; // a presence member needs an identity the token vouches for
        decision.memberUserId = request.principal.userId;
        decision.memberInfo = request.principal.userInfo.empty() ? "null" : request.principal.userInfo;
    }
    decision.allowed = true;
    return decision;
}

} // namespace switchboard
