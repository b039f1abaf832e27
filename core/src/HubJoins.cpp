// Hub::Impl, joins: a session joining a channel (authorization, presence, roster, history and
// the live publications held meanwhile), its membership once in, leaving, and presence changes.
// HubImpl.h declares Hub::Impl; fan-out is in HubFanout.cpp, server-side subscriptions in
// HubServerSubscriptions.cpp, the public Hub API in Hub.cpp.

#include "HubImpl.h"

#include "switchboard/ChannelName.h"
#include "switchboard/JsonParse.h"
#include "switchboard/MessageEncoding.h"

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

namespace switchboard {
namespace {

/// Member info must be JSON text in frames: JSON parseJson() accepts passes verbatim, anything
/// else becomes a JSON string, and nothing becomes null.
std::string normalizeInfo(std::string_view info)
{
    if (info.empty())
        return "null";
    if (isAcceptedJson(info))
        return std::string(info);
    std::string quoted;
    appendJsonString(quoted, info);
    return quoted;
}

/// user_id / user_info from a presence channelData object; both empty when absent or invalid.
void readChannelData(std::string_view channelData, std::string &userId, std::string &userInfo)
{
    if (channelData.empty())
        return;
    boost::json::value value;
    if (parseJson(channelData, value) || !value.is_object())
        return;
    const boost::json::object &object = value.get_object();
    if (const auto *id = object.if_contains("user_id")) {
        if (id->is_string())
            userId = std::string(id->get_string());
        else if (id->is_int64() || id->is_uint64())
            userId = boost::json::serialize(*id);
    }
    if (const auto *info = object.if_contains("user_info"))
        userInfo = boost::json::serialize(*info);
}

} // namespace

using detail::invokeQuietly;
using detail::kMemberAdded;
using detail::kMemberRemoved;

// ---- live publications held for pending joins --------------------------------------------

/// Keeps a live publication for the joins of `channel` still waiting for their history read.
void Hub::Impl::hold(Channel &channel, const Publication &publication)
{
    if (channel.holdOverflowed)
        return;
    const std::size_t bytes = publication.data.size() + publication.event.size();
    if (channel.heldBytes + bytes > options.joinHoldBytes) {
        channel.holdOverflowed = true;
        std::vector<Publication>().swap(channel.held);
        channel.heldBytes = 0;
        return;
    }
    channel.heldBytes += bytes;
    channel.held.push_back(publication);
}

/// A join of `channel` stopped waiting (completed or cancelled).
void Hub::Impl::joinSettled(Channel &channel)
{
    if (--channel.pendingJoins > 0)
        return;
    std::vector<Publication>().swap(channel.held);
    channel.heldBytes = 0;
    channel.holdOverflowed = false;
}

// ---- presence ----------------------------------------------------------------------------

/// `local`: decided on this node (a join or leave here); the presence hook hears only those,
/// so that a cluster runs it once per transition, on the node where it happened.
void Hub::Impl::presenceChanged(PresenceEvent::Kind kind, std::string_view channelName, const Member &member,
                                bool local)
{
    if (Channel *channel = findChannel(channelName); channel && channel->subscriberCount > 0) {
        const auto frame = encodePresenceChangeFrame(kind == PresenceEvent::Kind::Joined ? kMemberAdded : kMemberRemoved,
                                                     channelName, member);
        fanOut(*channel, frame, nullptr);
    }
    if (presenceHook && local) {
        PresenceEvent event{kind, std::string(channelName), member};
        invokeQuietly(presenceHook, event);
    }
}

/// Removes one connection of `userId` from a presence channel; the last one tells the others
/// unless `announce` is false (a join undone before its member_added went out).
void Hub::Impl::removePresence(const std::string &channel, const std::string &userId, const std::string &info,
                               std::string_view sessionId, bool announce)
{
    std::weak_ptr<Impl *> weak = alive;
    presence->remove(channel, userId, sessionId, [weak, channel, userId, info, announce](bool last) {
        auto self = weak.lock();
        if (self && last && announce)
            (*self)->presenceChanged(PresenceEvent::Kind::Left, channel, Member{userId, info, 0});
    });
}

Member Hub::Impl::resolveMember(const SessionEntry &entry, const AuthDecision &decision,
                                std::string_view channelData) const
{
    Member member;
    if (!decision.memberUserId.empty()) {
        member.userId = decision.memberUserId;
        member.info = decision.memberInfo;
    } else if (!entry.principal().userId.empty()) {
        member.userId = entry.principal().userId;
        member.info = entry.principal().userInfo;
    } else {
        readChannelData(channelData, member.userId, member.info);
    }
    if (member.userId.empty())
        member.userId = entry.id.view(); // an anonymous connection is its own member
    member.info = normalizeInfo(member.info);
    member.connections = 1;
    return member;
}

// ---- membership --------------------------------------------------------------------------

void Hub::Impl::addSubscriber(SessionEntry &entry, Channel &channel, const Member *member,
                              const std::shared_ptr<const ContentFilter> &filter)
{
    Membership membership;
    membership.channel = &channel;
    std::vector<SessionEntry *> *list = &channel.subscribers;
    if (filter) {
        auto it = std::find_if(channel.groups.begin(), channel.groups.end(),
                               [&](const auto &group) { return group->filter->key() == filter->key(); });
        if (it == channel.groups.end())
            it = channel.groups.insert(channel.groups.end(), std::make_unique<FilterGroup>(FilterGroup{filter, {}}));
        membership.detailOrNew().group = it->get();
        list = &(*it)->subscribers;
    }
    membership.index = static_cast<std::uint32_t>(list->size());
    if (member)
        membership.detailOrNew().presence = std::make_unique<PresenceIdentity>(PresenceIdentity{member->userId, member->info});
    list->push_back(&entry);
    ++channel.subscriberCount;
    entry.memberships.push_back(std::move(membership));
    if (channel.subscriberCount == 1)
        invokeQuietly(lifecycle.channelOccupied, std::string_view(channel.name));
}

/// Removes membership `position` of `entry` (swap-remove in both lists) and runs the
/// presence leave. The channel is released when nobody is left.
void Hub::Impl::removeMembership(SessionEntry &entry, std::size_t position)
{
    Membership membership = std::move(entry.memberships[position]);
    entry.memberships[position] = std::move(entry.memberships.back());
    entry.memberships.pop_back();

    Channel &channel = *membership.channel;
    grants.forget(entry.id.view(), channel.name);
    FilterGroup *group = membership.group();
    auto &subscribers = group ? group->subscribers : channel.subscribers;
    const std::uint32_t index = membership.index;
    SessionEntry *moved = subscribers.back();
    subscribers[index] = moved;
    subscribers.pop_back();
    if (moved != &entry) {
        for (Membership &other : moved->memberships) {
            if (other.channel == &channel) {
                other.index = index;
                break;
            }
        }
    }
    --channel.subscriberCount;
    if (group && group->subscribers.empty())
        std::erase_if(channel.groups, [group](const auto &g) { return g.get() == group; });
    const std::string name = channel.name;
    const bool vacated = channel.subscriberCount == 0;
    releaseChannelIfUnused(channel);
    if (const PresenceIdentity *presence = membership.presence())
        removePresence(name, presence->userId, presence->info, entry.id.view());
    if (vacated)
        invokeQuietly(lifecycle.channelVacated, std::string_view(name));
}

// ---- join --------------------------------------------------------------------------------

void Hub::Impl::cancelJoin(SessionEntry &entry, std::size_t position)
{
    std::shared_ptr<JoinState> state = entry.pending[position];
    removePending(entry, state);
    state->cancelled = true;
    if (state->authorizing) {
        // No engine callback is on its way (the authorizer may never answer): report now,
        // and ignore the answer when it comes.
        settleAuthorization(*state);
        return abandon(state);
    }
    if (Channel *channel = findChannel(state->channel)) {
        joinSettled(*channel);
        releaseChannelIfUnused(*channel);
    }
}

// ---- authorization -----------------------------------------------------------------------

/// The first of answer, deadline and cancel settles an authorization; returns false for
/// every later one.
bool Hub::Impl::settleAuthorization(JoinState &state)
{
    if (state.answered)
        return false;
    state.answered = true;
    state.authorizing = false;
    if (state.deadline) {
        timer.cancel(state.deadline);
        state.deadline = 0;
    }
    return true;
}

void Hub::Impl::removePending(SessionEntry &entry, const std::shared_ptr<JoinState> &state)
{
    entry.pending.remove(state); // the last one gone, an idle session keeps nothing for them
}

/// Ends a join that never got past authorization.
void Hub::Impl::refuseJoin(const std::shared_ptr<JoinState> &state, Error error, std::string message)
{
    if (SessionEntry *entry = findSession(state->sessionId))
        removePending(*entry, state);
    JoinResult result;
    result.error = error;
    result.message = std::move(message);
    result.type = state->result.type;
    auto done = std::move(state->done);
    invokeQuietly(done, std::move(result));
}

void Hub::Impl::authorizationAnswered(const std::shared_ptr<JoinState> &state, AuthDecision decision)
{
    if (!settleAuthorization(*state))
        return; // twice, after the deadline, or for a join cancelled meanwhile
    SessionEntry *entry = findSession(state->sessionId);
    if (!entry) // cannot happen: a detach cancels its joins
        return;
    if (!decision.allowed) {
        // An authorizer that could not decide (its backend down, busy, slow) is not a denial.
        const Error refusal = refusalOf(decision);
        if (refusal == Error::Unauthorized || refusal == Error::Forbidden)
            ++counters.authFailures;
        return refuseJoin(state, refusal, std::move(decision.reason));
    }
    state->authorizationExpiresAtMs = decision.expiresAtMs;
    startJoin(*entry, state, decision);
}

void Hub::Impl::authorizationExpired(const std::shared_ptr<JoinState> &state)
{
    state->deadline = 0; // fired
    if (!settleAuthorization(*state))
        return;
    ++counters.authTimeouts;
    refuseJoin(state, Error::AuthorizationTimeout);
}

/// Asks the authorizer about a pending join; its answer may come now or later.
void Hub::Impl::authorize(SessionEntry &entry, const std::shared_ptr<JoinState> &state, std::string_view auth)
{
    state->authorizing = true;
    std::weak_ptr<Impl *> weak = alive;
    AuthAnswer answer = [weak, state](AuthDecision decision) {
        if (auto self = weak.lock())
            (*self)->authorizationAnswered(state, std::move(decision));
    };
    const AsyncAuthorizer *own = entry.ownAuthorizer();
    const AsyncAuthorizer ask = own ? *own : authorizer; // it may replace itself
    try {
        ask(AuthRequest{state->channel, state->result.type, entry.id, entry.principal(), auth, state->channelData,
                        entry.clientName},
            std::move(answer));
    } catch (...) {
        if (settleAuthorization(*state)) {
            ++counters.authFailures;
            refuseJoin(state, Error::Internal);
        }
        return;
    }
    if (!state->answered && options.authorizationTimeout.count() > 0) {
        state->deadline = timer.start(options.authorizationTimeout, [weak, state] {
            if (auto self = weak.lock())
                (*self)->authorizationExpired(state);
        });
    }
}

/// A callback found its join cancelled: undo the presence entry and report.
void Hub::Impl::abandon(const std::shared_ptr<JoinState> &state)
{
    if (state->presenceAdded) {
        state->presenceAdded = false;
        // Nobody was told about a first connection that is undone before its announcement.
        const bool announce = !(state->firstConnection && !state->announced);
        removePresence(state->channel, state->member.userId, state->member.info, state->sessionId, announce);
    }
    JoinResult result;
    result.error = Error::Cancelled;
    result.type = state->result.type;
    auto done = std::move(state->done);
    invokeQuietly(done, std::move(result));
}

void Hub::Impl::afterPresenceAdded(const std::shared_ptr<JoinState> &state, bool first)
{
    state->presenceAdded = true;
    state->firstConnection = first;
    if (state->cancelled)
        return abandon(state);
    if (first) {
        state->announced = true;
        presenceChanged(PresenceEvent::Kind::Joined, state->channel, state->member);
    }
    if (state->cancelled) // a presence hook may have detached the session
        return abandon(state);
    std::weak_ptr<Impl *> weak = alive;
    presence->members(state->channel, [weak, state](std::vector<Member> roster) {
        auto self = weak.lock();
        if (!self)
            return;
        if (state->cancelled)
            return (*self)->abandon(state);
        state->result.roster = std::move(roster);
        (*self)->fetchHistory(state);
    });
}

void Hub::Impl::fetchHistory(const std::shared_ptr<JoinState> &state)
{
    HistoryQuery query;
    query.createStream = true; // the subscriber learns the epoch even before any publish
    if (state->recover) {
        query.since = state->recover;
        state->result.recoveryRequested = true;
    } else if (state->latest) {
        query.limit = 1; // without `since`: the newest publication, read with the top
    } else {
        query.positionOnly = true;
    }
    std::weak_ptr<Impl *> weak = alive;
    broker->history(state->channel, query, [weak, state](HistoryResult history) {
        auto self = weak.lock();
        if (!self)
            return;
        if (state->cancelled)
            return (*self)->abandon(state);
        if (!history.error) {
            state->result.position = std::move(history.top);
            if (state->recover) {
                // Not recovered (epoch changed, gap partly gone): what history still holds
                // is replayed all the same, flagged recovered false (docs/protocol.md).
                state->result.recovered = history.complete;
                state->result.missed = std::move(history.publications);
                if (state->filter)
                    std::erase_if(state->result.missed,
                                  [&](const Publication &p) { return !state->filter->matches(p); });
            } else if (state->latest && !history.publications.empty()) {
                Publication &newest = history.publications.back();
                if (!state->filter || state->filter->matches(newest)) {
                    state->result.latest = std::move(newest);
                    ++(*self)->counters.latestDelivered;
                }
            }
        }
        (*self)->completeJoin(state);
    });
}

void Hub::Impl::completeJoin(const std::shared_ptr<JoinState> &state)
{
    SessionEntry *entry = findSession(state->sessionId);
    Channel *channel = findChannel(state->channel);
    if (!entry || !channel) // cannot happen while not cancelled; be safe anyway
        return abandon(state);
    removePending(*entry, state);
    // Live publications that reached this node while the read was on the way and that the
    // read did not return: offsets after its top (or no offset: never in history).
    const bool overflowed = channel->holdOverflowed;
    std::vector<Publication> late;
    if (!overflowed) {
        const std::uint64_t top = state->result.position.offset;
        for (std::size_t i = state->heldFrom; i < channel->held.size(); ++i) {
            const Publication &p = channel->held[i];
            if ((p.offset == 0 || p.offset > top) && p.exceptSession != state->sessionId
                && (!state->filter || state->filter->matches(p)))
                late.push_back(p);
        }
    }
    joinSettled(*channel);
    const bool isPresence = channel->type == ChannelType::Presence;
    addSubscriber(*entry, *channel, isPresence ? &state->member : nullptr, state->filter);
    if (state->authorizationExpiresAtMs != 0)
        grants.set(entry->id, channel->name, state->authorizationExpiresAtMs);
    if (isPresence) {
        state->result.announced = state->announced;
        state->result.member = state->member;
    }
    state->presenceAdded = false; // owned by the membership from now on
    auto done = std::move(state->done);
    invokeQuietly(done, std::move(state->result));

    // After the answer (the transport sent `subscribed` inside it), in order.
    entry = findSession(state->sessionId);
    if (!entry || entry->closing)
        return;
    if (overflowed) {
        ++counters.joinHoldOverflows;
        entry->session->close(DisconnectCode::InsufficientState, "publications may have been missed: recover");
        return;
    }
    const std::vector<SessionEntry *> newcomer{entry};
    for (const Publication &p : late) {
        // Looked up again each time: the answer, or a slow-consumer close, may have left it.
        const Channel *current = findChannel(state->channel);
        if (!current)
            return;
        const SharedFrame frame = publicationFrame(*current, p);
        finishFanOut(deliver(newcomer, frame, nullptr, current->policy), frame);
        if (!(entry = findSession(state->sessionId)) || entry->closing)
            return;
    }
}

bool Hub::Impl::sameFilter(const Membership &membership, const ContentFilter *filter)
{
    const FilterGroup *group = membership.group();
    if (!group || !filter)
        return !group && !filter;
    return group->filter->key() == filter->key();
}

/// A join of a channel the session is already in: success with the stream top (and the
/// roster on a presence channel), nothing else changes: no authorization, no presence
/// change, no recovery.
void Hub::Impl::rejoin(std::string channel, JoinResult result, std::function<void(JoinResult)> done)
{
    auto state = std::make_shared<std::pair<JoinResult, std::function<void(JoinResult)>>>(std::move(result),
                                                                                         std::move(done));
    std::weak_ptr<Impl *> weak = alive;
    auto fetchPosition = [weak, state, channel] {
        auto self = weak.lock();
        if (!self)
            return;
        HistoryQuery query;
        query.positionOnly = true;
        query.createStream = true;
        (*self)->broker->history(channel, query, [state](HistoryResult history) {
            if (!history.error)
                state->first.position = std::move(history.top);
            auto done = std::move(state->second);
            invokeQuietly(done, std::move(state->first));
        });
    };
    if (state->first.type != ChannelType::Presence)
        return fetchPosition();
    presence->members(channel, [state, fetchPosition](std::vector<Member> roster) {
        state->first.roster = std::move(roster);
        fetchPosition();
    });
}

void Hub::Impl::join(std::string_view sessionId, std::string_view channelName, const JoinRequest &request,
                     std::function<void(JoinResult)> done)
{
    JoinResult result;
    result.type = channelTypeOf(channelName);
    auto fail = [&](std::error_code error) {
        result.error = error;
        invokeQuietly(done, std::move(result));
    };
    if (closed)
        return fail(Error::Closed);
    SessionEntry *entry = findSession(sessionId);
    if (!entry)
        return fail(Error::NotFound);
    if (auto error = validateChannelName(channelName))
        return fail(error);
    const auto joined = std::find_if(entry->memberships.begin(), entry->memberships.end(),
                                     [&](const Membership &m) { return m.channel->name == channelName; });
    if (joined != entry->memberships.end()) {
        if (!sameFilter(*joined, request.filter.get()))
            return fail(Error::AlreadySubscribed);
        return rejoin(std::string(channelName), std::move(result), std::move(done));
    }
    const bool joining = std::any_of(entry->pending.begin(), entry->pending.end(),
                                     [&](const auto &p) { return p->channel == channelName; });
    if (joining)
        return fail(Error::AlreadySubscribed);
    if (entry->memberships.size() + entry->pending.size() >= options.maxChannelsPerSession)
        return fail(Error::ChannelLimit);

    const bool needsAuthorization = result.type != ChannelType::Public;
    if (needsAuthorization && !authorizer && !entry->ownAuthorizer()) {
        ++counters.authFailures;
        return fail(Error::Unauthorized);
    }

    auto state = std::make_shared<JoinState>();
    state->sessionId = entry->id;
    state->channel = std::string(channelName);
    state->recover = request.recover;
    state->latest = request.latest && !request.recover;
    state->filter = request.filter;
    state->done = std::move(done);
    state->result = std::move(result);
    if (state->result.type == ChannelType::Presence)
        state->channelData = std::string(request.channelData);
    entry->pending.push_back(state);
    if (needsAuthorization)
        return authorize(*entry, state, request.auth);
    startJoin(*entry, state, AuthDecision{});
}

/// An allowed (or public) join: holds the channel, then presence, roster and history.
void Hub::Impl::startJoin(SessionEntry &entry, const std::shared_ptr<JoinState> &state, const AuthDecision &decision)
{
    // The channel exists (and the broker delivers it) from now on, so that nothing published
    // after the history read below is lost for the newcomer.
    Channel &channel = acquireChannel(state->channel);
    ++channel.pendingJoins;
    state->heldFrom = channel.held.size();

    if (state->result.type == ChannelType::Presence) {
        state->member = resolveMember(entry, decision, state->channelData);
        std::weak_ptr<Impl *> weak = alive;
        presence->add(state->channel, state->member, state->sessionId, [weak, state](bool first) {
            if (auto self = weak.lock())
                (*self)->afterPresenceAdded(state, first);
        });
    } else {
        fetchHistory(state);
    }
}

} // namespace switchboard
