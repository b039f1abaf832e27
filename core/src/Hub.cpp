// Hub: construction, channel records and the public Hub API. HubImpl.h declares Hub::Impl (the
// state); its fan-out is in HubFanout.cpp, joins in HubJoins.cpp, server-side subscriptions
// (with Hub::subscribeSession and the others) in HubServerSubscriptions.cpp.

#include "HubImpl.h"

#include "switchboard/ChannelName.h"
#include "RandomId.h"
#include "ReplyRoute.h"

#include <stdexcept>

namespace switchboard {

using detail::invokeQuietly;

// ---- Hub::Impl ---------------------------------------------------------------------------

Hub::Impl::Impl(Timer &t, HubOptions o) : timer(t), options(std::move(o))
{
    remotePresence.hub = this;
    if (options.nodeId.empty())
        options.nodeId = detail::randomHex(8);
    else if (!detail::isValidNodeId(options.nodeId))
        throw std::invalid_argument("switchboard: HubOptions::nodeId must be 1 to 64 of [A-Za-z0-9_-]");
    replyChannel = detail::replyChannelOf(options.nodeId);
}

Hub::Impl::Channel &Hub::Impl::acquireChannel(std::string_view name)
{
    auto it = channels.find(name);
    if (it != channels.end())
        return *it->second;
    auto channel = std::make_unique<Channel>();
    channel->name = std::string(name);
    channel->type = channelTypeOf(name);
    if (const ChannelPolicyRule *rule = channelPolicyRuleFor(options.channelPolicies, name)) {
        channel->policy = rule->policy;
        if (rule->policy == ChannelPolicy::LatestOnly && !rule->keyField.empty())
            channel->keyField = &rule->keyField;
    } else {
        channel->policy = defaultPolicy();
    }
    Channel &ref = *channel;
    channels.emplace(channel->name, std::move(channel));
    broker->subscribe(ref.name);
    return ref;
}

void Hub::Impl::releaseChannelIfUnused(Channel &channel)
{
    if (channel.subscriberCount > 0 || channel.pendingJoins > 0)
        return;
    const std::string name = channel.name;
    channels.erase(name);
    broker->unsubscribe(name);
}

// ---- Hub ---------------------------------------------------------------------------------

Hub::Hub(Timer &timer, HubOptions options) : d(std::make_unique<Impl>(timer, options))
{
    d->ownBroker = std::make_unique<MemoryBroker>(timer);
    d->ownPresence = std::make_unique<MemoryPresenceStore>();
    d->broker = d->ownBroker.get();
    d->presence = d->ownPresence.get();
    d->broker->setHandler(this);
    d->broker->subscribe(d->replyChannel);
}

Hub::Hub(Timer &timer, HubOptions options, Broker &broker, PresenceStore &presence)
    : d(std::make_unique<Impl>(timer, options))
{
    d->broker = &broker;
    d->presence = &presence;
    d->broker->setHandler(this);
    d->presence->setHandler(&d->remotePresence);
    d->broker->subscribe(d->replyChannel); // replies other nodes route to this node's sessions
}

Hub::~Hub()
{
    // Authorization deadlines would find no Hub; the Timer outlives it, so leave nothing behind.
    for (const auto &entry : d->sessions) {
        for (const auto &state : entry.pending) {
            if (state->deadline)
                d->timer.cancel(state->deadline);
        }
    }
    // An external broker outlives the Hub: leave it as if every channel had emptied.
    for (const auto &[name, channel] : d->channels)
        d->broker->unsubscribe(name);
    d->broker->unsubscribe(d->replyChannel);
    d->broker->setHandler(nullptr);
    d->presence->setHandler(nullptr);
}

const HubOptions &Hub::options() const
{
    return d->options;
}

void Hub::setAuthorizer(Authorizer authorizer)
{
    if (!authorizer) {
        d->authorizer = nullptr;
        return;
    }
    // The synchronous form answers inside the call; what it throws propagates to authorize(),
    // which denies the join.
    d->authorizer = [sync = std::move(authorizer)](const AuthRequest &request, AuthAnswer answer) {
        answer(sync(request));
    };
}

void Hub::setAsyncAuthorizer(AsyncAuthorizer authorizer)
{
    d->authorizer = std::move(authorizer);
}

void Hub::setPresenceHook(std::function<void(const PresenceEvent &)> hook)
{
    d->presenceHook = std::move(hook);
}

void Hub::setLifecycleHooks(LifecycleHooks hooks)
{
    d->lifecycle = std::move(hooks);
}

void Hub::close()
{
    d->closed = true;
}

void Hub::reopen()
{
    d->closed = false;
}

bool Hub::isClosed() const
{
    return d->closed;
}

std::string Hub::attach(std::shared_ptr<Session> session, Principal principal, std::string_view clientName,
                        std::string_view proposedId)
{
    if (d->closed)
        return {};
    std::string id(proposedId);
    while (id.empty() || d->sessions.contains(id))
        id = detail::randomHex(16);
    Impl::SessionEntry &entry = Impl::entryOf(*d->sessions.emplace(id).first);
    entry.session = std::move(session);
    if (!principal.userId.empty() || !principal.userInfo.empty() || !principal.channelPatterns.empty())
        entry.ownPrincipal = std::make_unique<const Principal>(std::move(principal));
    entry.clientName = d->clientNames.take(clientName);
    entry.session->attached(id, entry.principal().userId);
    if (d->lifecycle.connected) {
        const Impl::SessionEntry *attached = d->findSession(id); // the hook above may have detached it
        const Principal &principal = attached ? attached->principal() : Impl::anonymousPrincipal();
        invokeQuietly(d->lifecycle.connected, SessionConnected{id, principal.userId, clientName});
    }
    return id;
}

bool Hub::setSessionAuthorizer(std::string_view sessionId, AsyncAuthorizer authorizer)
{
    auto it = d->sessions.find(sessionId);
    if (it == d->sessions.end())
        return false;
    Impl::entryOf(*it).extrasOrNew().authorizer = std::move(authorizer);
    return true;
}

void Hub::detach(std::string_view sessionId, std::uint16_t code, std::string_view reason)
{
    auto it = d->sessions.find(sessionId);
    if (it == d->sessions.end())
        return;
    // Keep the entry alive until every channel has let go of it; presence leaves may fan out.
    auto node = d->sessions.extract(it); // the entry stays where it is, out of the index
    Impl::SessionEntry *entry = &node.value();
    while (!entry->pending.empty())
        d->cancelJoin(*entry, entry->pending.size() - 1);
    while (!entry->memberships.empty())
        d->removeMembership(*entry, entry->memberships.size() - 1);
    invokeQuietly(d->lifecycle.disconnected, SessionDisconnected{entry->id.view(), entry->principal().userId, code, reason});
}

const Principal *Hub::principal(std::string_view sessionId) const
{
    const auto *entry = d->findSession(sessionId);
    return entry ? &entry->principal() : nullptr;
}

std::string_view Hub::attachedId(std::string_view sessionId) const
{
    const auto *entry = d->findSession(sessionId);
    return entry ? entry->id.view() : std::string_view();
}

std::string_view Hub::clientName(std::string_view sessionId) const
{
    const auto *entry = d->findSession(sessionId);
    return entry ? entry->clientName.view() : std::string_view();
}

void Hub::join(std::string_view sessionId, std::string_view channel, const JoinRequest &request,
               std::function<void(JoinResult)> done)
{
    d->join(sessionId, channel, request, std::move(done));
}

std::error_code Hub::leave(std::string_view sessionId, std::string_view channel)
{
    auto *entry = d->findSession(sessionId);
    if (!entry)
        return Error::NotFound;
    for (std::size_t i = 0; i < entry->memberships.size(); ++i) {
        if (entry->memberships[i].channel->name == channel) {
            d->removeMembership(*entry, i);
            return {};
        }
    }
    for (std::size_t i = 0; i < entry->pending.size(); ++i) {
        if (entry->pending[i]->channel == channel) {
            d->cancelJoin(*entry, i);
            return {};
        }
    }
    return Error::NotFound;
}

void Hub::refreshAuthorization(std::string_view sessionId, std::string_view channel, std::string_view auth,
                               std::function<void(std::error_code, std::string)> done)
{
    Impl::SessionEntry *entry = d->findSession(sessionId);
    if (!entry || !d->isMember(sessionId, channel))
        return invokeQuietly(done, make_error_code(Error::NotFound), std::string());
    const ChannelType type = channelTypeOf(channel);
    if (type == ChannelType::Public)
        return invokeQuietly(done, std::error_code(), std::string());
    const AsyncAuthorizer *own = entry->ownAuthorizer();
    const AsyncAuthorizer ask = own ? *own : d->authorizer; // it may replace itself
    if (!ask) {
        ++d->counters.channelAuthorizationRefreshFailures;
        return invokeQuietly(done, make_error_code(Error::Unauthorized), std::string());
    }
    auto answered = std::make_shared<bool>(false);
    AuthAnswer answer = [weak = std::weak_ptr<Impl *>(d->alive), answered, id = std::string(sessionId),
                         name = std::string(channel), done](AuthDecision decision) {
        const auto self = weak.lock();
        if (!self || *answered)
            return;
        *answered = true;
        Impl &impl = **self;
        if (!impl.findSession(id) || !impl.isMember(id, name))
            return invokeQuietly(done, make_error_code(Error::NotFound), std::string());
        if (!decision.allowed) {
            ++impl.counters.channelAuthorizationRefreshFailures;
            const Error refusal = refusalOf(decision);
            return invokeQuietly(done, make_error_code(refusal), std::move(decision.reason));
        }
        ++impl.counters.channelAuthorizationRefreshes;
        impl.grants.set(id, name, decision.expiresAtMs);
        invokeQuietly(done, std::error_code(), std::string());
    };
    const std::string channelData; // the member is not chosen again
    try {
        ask(AuthRequest{channel, type, entry->id.view(), entry->principal(), auth, channelData, entry->clientName}, answer);
    } catch (...) {
        answer(AuthDecision{false, {}, {}, Error::Internal, "authorizer failed", 0});
    }
}

bool Hub::isSubscribed(std::string_view sessionId, std::string_view channel) const
{
    return d->isMember(sessionId, channel);
}

void Hub::publish(Publication publication, std::function<void(std::error_code, StreamPosition)> done)
{
    std::error_code error = validateChannelName(publication.channel);
    if (!error)
        error = validateEventName(publication.event);
    if (error) {
        invokeQuietly(done, error, StreamPosition{});
        return;
    }
    if (publication.timestampMs == 0)
        publication.timestampMs = d->timer.wallClockMs();
    d->broker->publish(std::move(publication), std::move(done));
}

void Hub::broadcast(std::string_view channel, std::string_view event, std::string_view jsonData)
{
    Publication publication;
    publication.channel = std::string(channel);
    publication.event = std::string(event);
    publication.data = std::string(jsonData);
    publish(std::move(publication));
}

void Hub::broadcastExcept(std::string_view channel, std::string_view event, std::string_view jsonData,
                          std::string_view exceptSessionId)
{
    Publication publication;
    publication.channel = std::string(channel);
    publication.event = std::string(event);
    publication.data = std::string(jsonData);
    publication.exceptSession = std::string(exceptSessionId);
    publish(std::move(publication));
}

void Hub::broadcastBinary(std::string_view channel, std::string_view event, std::string_view bytes)
{
    Publication publication;
    publication.channel = std::string(channel);
    publication.event = std::string(event);
    publication.data = std::string(bytes);
    publication.binary = true;
    publish(std::move(publication));
}

std::error_code Hub::openReplySlot(std::string_view sessionId, std::string_view channel, const AckId &ackId,
                                   std::string &token)
{
    Impl::SessionEntry *entry = d->findSession(sessionId);
    if (!entry)
        return Error::NotFound;
    detail::ReplySlots::Slot slot;
    slot.nonce = detail::unguessableHex(detail::kReplyNonceBytes);
    slot.ackId = ackId;
    slot.channel = std::string(channel);
    slot.deadline = d->timer.now() + d->options.replySlotLifetime;
    token = detail::formatReplyToken(d->options.nodeId, slot.nonce, entry->id.view());
    if (!entry->extrasOrNew().replySlots.open(std::move(slot), d->options.maxReplySlotsPerSession, d->timer.now())) {
        token.clear();
        ++d->counters.replySlotsRefused;
        return Error::RateLimited;
    }
    ++d->counters.replySlotsOpened;
    return {};
}

void Hub::cancelReplySlot(std::string_view token)
{
    const auto parts = detail::parseReplyToken(token);
    if (!parts || parts->node != d->options.nodeId)
        return;
    if (Impl::SessionEntry *entry = d->findSession(parts->session); entry && entry->extras)
        entry->extras->replySlots.remove(parts->nonce);
}

void Hub::reply(std::string_view fromSessionId, std::string_view token, std::string jsonPayload,
                std::function<void(std::error_code)> done)
{
    const auto parts = detail::parseReplyToken(token);
    if (!parts) {
        invokeQuietly(done, make_error_code(Error::BadRequest));
        return;
    }
    if (parts->node == d->options.nodeId) {
        // One process (or the publisher is here): no Broker round trip.
        d->deliverReply(parts->session, parts->nonce, fromSessionId, jsonPayload);
        invokeQuietly(done, std::error_code{});
        return;
    }
    Publication routed;
    routed.channel = detail::replyChannelOf(parts->node);
    routed.event = "reply";
    // Binary: no Broker keeps it in history, whatever its history rules say.
    routed.binary = true;
    routed.data = detail::encodeRoutedReply(parts->session, parts->nonce, fromSessionId, jsonPayload);
    routed.timestampMs = d->timer.wallClockMs();
    d->broker->publish(std::move(routed), [weak = std::weak_ptr<Impl *>(d->alive), done = std::move(done)](
                                              std::error_code error, StreamPosition) {
        if (const auto self = weak.lock()) {
            if (error)
                ++(*self)->counters.repliesDroppedUnroutable;
            else
                ++(*self)->counters.repliesRouted;
        }
        invokeQuietly(done, error);
    });
}

const std::string &Hub::nodeId() const
{
    return d->options.nodeId;
}

SendResult Hub::sendTo(std::string_view sessionId, const SharedFrame &frame)
{
    auto *entry = d->findSession(sessionId);
    if (!entry || entry->closing || !frame)
        return SendResult::Dropped;
    const SendOutcome result = entry->session->send(frame);
    if (result == SendResult::Dropped) {
        d->refused(*entry, d->defaultPolicy());
        d->flushCloses();
    } else if (result != SendResult::Closed) {
        ++entry->framesOut;
        ++d->counters.framesOut;
        d->counters.bytesOut += frame->bytes.size();
        d->countQueued(*entry, result);
    }
    return result;
}

void Hub::members(std::string_view channel, std::function<void(std::vector<Member>)> done)
{
    if (channelTypeOf(channel) != ChannelType::Presence || validateChannelName(channel)) {
        invokeQuietly(done, std::vector<Member>{});
        return;
    }
    d->presence->members(channel, std::move(done));
}

void Hub::history(std::string_view channel, const HistoryQuery &query, std::function<void(HistoryResult)> done)
{
    if (auto error = validateChannelName(channel)) {
        HistoryResult result;
        result.error = error;
        invokeQuietly(done, std::move(result));
        return;
    }
    d->broker->history(channel, query, std::move(done));
}

void Hub::countFrameIn() noexcept
{
    ++d->counters.framesIn;
}

void Hub::countAuthFailure() noexcept
{
    ++d->counters.authFailures;
}

HubCounters Hub::counters() const
{
    HubCounters counters = d->counters;
    counters.sessions = d->sessions.size();
    counters.channels = d->channels.size();
    counters.historyEvictions = d->broker->historyEvictions();
    const IdempotencyCounters idempotency = d->broker->idempotency();
    counters.idempotentDuplicates = idempotency.duplicates;
    counters.idempotencyKeysEvicted = idempotency.evictions;
    return counters;
}

std::vector<ChannelStats> Hub::channels() const
{
    std::vector<ChannelStats> result;
    result.reserve(d->channels.size());
    for (const auto &[name, channel] : d->channels)
        result.push_back(ChannelStats{name, channel->type, channel->subscriberCount, channel->published});
    std::sort(result.begin(), result.end(), [](const auto &a, const auto &b) { return a.name < b.name; });
    return result;
}

std::optional<SessionStats> Hub::sessionStats(std::string_view sessionId) const
{
    const auto *entry = d->findSession(sessionId);
    if (!entry)
        return std::nullopt;
    return SessionStats{entry->memberships.size(), entry->framesOut, entry->dropped(), entry->conflated()};
}

std::size_t Hub::subscriberCount(std::string_view channel) const
{
    const auto *channelEntry = d->findChannel(channel);
    return channelEntry ? channelEntry->subscriberCount : 0;
}

void Hub::onPublication(const Publication &publication)
{
    d->onPublication(publication);
}

void Hub::onGap(std::string_view channel)
{
    // Closed after the walk (close never detaches inline, but keep the rule): the clients
    // reconnect and resubscribe with `recover`, which tells them whether anything is lost.
    Impl::Channel *entry = d->findChannel(channel);
    if (!entry)
        return;
    std::vector<std::shared_ptr<Session>> closing;
    for (Impl::SessionEntry *subscriber : entry->subscribers) {
        if (!subscriber->closing) {
            subscriber->closing = true;
            closing.push_back(subscriber->session);
        }
    }
    for (const auto &session : closing)
        session->close(DisconnectCode::InsufficientState, "publications may have been missed: recover");
}

} // namespace switchboard
