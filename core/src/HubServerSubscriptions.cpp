// Hub::Impl and Hub, server-side subscriptions: the server subscribes a session or every session
// of a user to a channel, or ends such subscriptions (Hub::subscribeSession and the others).
// HubImpl.h declares Hub::Impl; the joins these start are in HubJoins.cpp, sends in
// HubFanout.cpp, the rest of the public Hub API in Hub.cpp.

#include "HubImpl.h"

#include "switchboard/ChannelName.h"
#include "switchboard/MessageEncoding.h"

namespace switchboard {

using detail::kMemberAdded;

// ---- server-side subscriptions -----------------------------------------------------------

/// Subscribes one session on the server's decision (Hub::subscribeSession documents the
/// rules). Returns an error when nothing was started; `affected` when the session is (or
/// will be) subscribed.
std::error_code Hub::Impl::serverJoin(SessionEntry &entry, std::string_view channelName,
                                      const ServerSubscribeOptions &options)
{
    const bool joined = std::any_of(entry.memberships.begin(), entry.memberships.end(),
                                    [&](const Membership &m) { return m.channel->name == channelName; });
    if (joined)
        return {}; // idempotent: already in, whoever subscribed it and with whatever filter
    const auto joining = std::find_if(entry.pending.begin(), entry.pending.end(),
                                      [&](const auto &p) { return p->channel == channelName; });
    if (joining != entry.pending.end())
        return (*joining)->server ? std::error_code{} : make_error_code(Error::AlreadySubscribed);
    if (entry.memberships.size() + entry.pending.size() >= this->options.maxChannelsPerSession)
        return Error::ChannelLimit;

    auto state = std::make_shared<JoinState>();
    state->server = true;
    state->sessionId = entry.id.view();
    state->channel = std::string(channelName);
    state->filter = options.filter;
    state->result.type = channelTypeOf(channelName);
    std::weak_ptr<Impl *> weak = alive;
    state->done = [weak, sessionId = std::string(entry.id.view()), channel = state->channel](JoinResult result) {
        if (auto self = weak.lock(); self && !result.error)
            (*self)->sendServerSubscribed(sessionId, channel, result);
    };
    entry.pending.push_back(state);
    // The server decided: no authorizer. The member of a presence channel is the session's
    // user (resolveMember with no decision and no channel data).
    startJoin(entry, state, AuthDecision{});
    return {};
}

/// The frames a client subscribe would have got, without ackId and marked server-made.
void Hub::Impl::sendServerSubscribed(const std::string &sessionId, const std::string &channel, const JoinResult &result)
{
    SubscribedInfo info;
    info.channel = channel;
    info.type = result.type;
    info.position = result.position;
    info.server = true;
    sendToSession(sessionId, encodeSubscribedFrame(info, AckId{}));
    if (result.type != ChannelType::Presence)
        return;
    sendToSession(sessionId, encodePresenceRosterFrame(channel, result.roster));
    if (result.announced)
        sendToSession(sessionId, encodePresenceChangeFrame(kMemberAdded, channel, result.member));
}

/// Ends one session's subscription (or join in progress) on the server's decision. Returns
/// whether there was one.
bool Hub::Impl::serverLeave(SessionEntry &entry, std::string_view channelName)
{
    const std::string sessionId(entry.id.view()); // the leave may fan out; keep what we need
    bool found = false;
    for (std::size_t i = 0; i < entry.memberships.size() && !found; ++i) {
        if (entry.memberships[i].channel->name == channelName) {
            removeMembership(entry, i);
            found = true;
        }
    }
    for (std::size_t i = 0; i < entry.pending.size() && !found; ++i) {
        if (entry.pending[i]->channel == channelName) {
            cancelJoin(entry, i);
            found = true;
        }
    }
    if (found)
        sendToSession(sessionId, encodeUnsubscribedFrame(channelName, AckId{}, true));
    return found;
}

/// Why no session can be joined to `channelName` by the server, whichever it is: the hub closed
/// or the name invalid; none when it can.
std::error_code Hub::Impl::refuseServerJoin(std::string_view channelName) const
{
    if (closed)
        return Error::Closed;
    return validateChannelName(channelName);
}

/// Ids of this node's sessions of `userId`: a snapshot, so that nothing walks `sessions`
/// while joins and leaves run hooks.
std::vector<std::string> Hub::Impl::sessionsOfUser(std::string_view userId) const
{
    std::vector<std::string> ids;
    for (const auto &entry : sessions) {
        if (entry.principal().userId == userId)
            ids.emplace_back(entry.id.view());
    }
    return ids;
}

// ---- Hub ---------------------------------------------------------------------------------

ServerSubscriptionResult Hub::subscribeSession(std::string_view sessionId, std::string_view channel,
                                               const ServerSubscribeOptions &options)
{
    ServerSubscriptionResult result;
    if ((result.error = d->refuseServerJoin(channel)))
        return result;
    if (Impl::SessionEntry *entry = d->findSession(sessionId); !entry)
        result.error = Error::NotFound;
    else if (!(result.error = d->serverJoin(*entry, channel, options)))
        result.sessions = 1;
    return result;
}

ServerSubscriptionResult Hub::subscribeUser(std::string_view userId, std::string_view channel,
                                            const ServerSubscribeOptions &options)
{
    ServerSubscriptionResult result;
    if (userId.empty())
        result.error = Error::BadRequest; // anonymous sessions are nobody's: name them by session
    else
        result.error = d->refuseServerJoin(channel);
    if (result.error)
        return result;
    for (const std::string &id : d->sessionsOfUser(userId)) {
        // Looked up again: a join of an earlier session may have closed this one (slow consumer).
        if (Impl::SessionEntry *entry = d->findSession(id); entry && !d->serverJoin(*entry, channel, options))
            ++result.sessions;
    }
    return result;
}

ServerSubscriptionResult Hub::unsubscribeSession(std::string_view sessionId, std::string_view channel)
{
    ServerSubscriptionResult result;
    if (auto error = validateChannelName(channel))
        result.error = error;
    else if (Impl::SessionEntry *entry = d->findSession(sessionId); !entry)
        result.error = Error::NotFound;
    else if (d->serverLeave(*entry, channel))
        result.sessions = 1;
    return result;
}

ServerSubscriptionResult Hub::unsubscribeUser(std::string_view userId, std::string_view channel)
{
    ServerSubscriptionResult result;
    if (userId.empty())
        result.error = Error::BadRequest;
    else if (auto error = validateChannelName(channel))
        result.error = error;
    if (result.error)
        return result;
    for (const std::string &id : d->sessionsOfUser(userId)) {
        if (Impl::SessionEntry *entry = d->findSession(id); entry && d->serverLeave(*entry, channel))
            ++result.sessions;
    }
    return result;
}

} // namespace switchboard
