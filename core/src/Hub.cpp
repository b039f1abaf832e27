#include "switchboard/Hub.h"

#include "switchboard/ChannelName.h"
#include "switchboard/ControlFrames.h"
#include "switchboard/JsonParse.h"
#include "switchboard/MemoryBroker.h"
#include "switchboard/MemoryPresenceStore.h"
#include "switchboard/MessageEncoding.h"
#include "ChannelGrants.h"
#include "RandomId.h"
#include "ReplyRoute.h"
#include "ReplySlots.h"

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <stdexcept>
#include <unordered_map>

namespace switchboard {
namespace {

struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view text) const noexcept { return std::hash<std::string_view>{}(text); }
};
template <typename Value>
using StringMap = std::unordered_map<std::string, Value, StringHash, std::equal_to<>>;

constexpr std::string_view kMemberAdded = "presence:member_added";
constexpr std::string_view kMemberRemoved = "presence:member_removed";

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

template <typename Callback, typename... Args>
void invokeQuietly(const Callback &callback, Args &&...args) noexcept
{
    // User hooks run inside Hub operations; their exceptions must not unwind through the Hub.
    try {
        if (callback)
            callback(std::forward<Args>(args)...);
    } catch (...) {
    }
}

} // namespace

struct Hub::Impl {
    struct SessionEntry;
    struct JoinState;

    /// The subscribers of a channel that share one content filter: a publication is checked
    /// once for all of them.
    struct FilterGroup {
        std::shared_ptr<const ContentFilter> filter;
        std::vector<SessionEntry *> subscribers;
    };

    struct Channel {
        std::string name;
        ChannelType type = ChannelType::Public;
        std::vector<SessionEntry *> subscribers; // without a filter; fan-out walks these and the groups
        std::vector<std::unique_ptr<FilterGroup>> groups; // one per distinct filter, never empty
        std::size_t subscriberCount = 0;                  // everyone, filtered or not
        std::size_t pendingJoins = 0;
        std::uint64_t published = 0;
        // Slow-consumer policy (HubOptions::channelPolicies), resolved when the record is made.
        ChannelPolicy policy = ChannelPolicy::DropNewest;
        const std::string *keyField = nullptr; // LatestOnly by a data field: the rule's (options outlive channels)
        // Live publications held while joins wait for their history read (HubOptions::
        // joinHoldBytes); emptied when no join is pending. After an overflow nothing more is held
        // and every join pending then is told to recover.
        std::vector<Publication> held;
        std::size_t heldBytes = 0;
        bool holdOverflowed = false;
    };

    /// Who the session is in a presence channel.
    struct PresenceIdentity {
        std::string userId;
        std::string info;
    };

    struct Membership {
        Channel *channel = nullptr;
        FilterGroup *group = nullptr; // null: in channel->subscribers
        std::size_t index = 0;        // position in the group's or the channel's subscribers
        /// Presence channels only: apart, so that a subscription to any other channel costs an
        /// idle connection 32 bytes here, not 88.
        std::unique_ptr<PresenceIdentity> presence;
    };

    struct SessionEntry {
        std::string id;
        std::shared_ptr<Session> session;
        Principal principal;
        std::string clientName; // for the authorizer
        std::vector<Membership> memberships;
        std::vector<std::shared_ptr<JoinState>> pending;
        std::uint64_t framesOut = 0;
        std::uint64_t dropped = 0;
        std::uint64_t conflated = 0;
        bool closing = false; // closed as a slow consumer: no more sends
        /// What few sessions use: allocated on first use, not kept by every idle connection.
        struct Extras {
            AsyncAuthorizer authorizer;    // set: decides this session's joins instead of the Hub's
            detail::ReplySlots replySlots; // its publications waiting for a reply
        };
        std::unique_ptr<Extras> extras;

        Extras &extrasOrNew()
        {
            if (!extras)
                extras = std::make_unique<Extras>();
            return *extras;
        }
        /// Its own authorizer, or null.
        const AsyncAuthorizer *ownAuthorizer() const { return extras && extras->authorizer ? &extras->authorizer : nullptr; }
    };

    /// A join in progress; shared by the engine callbacks so that a detach or leave in between
    /// can cancel it.
    struct JoinState {
        std::string sessionId;
        std::string channel;
        std::optional<StreamPosition> recover;
        bool latest = false; // JoinRequest::latest, without recover
        std::int64_t authorizationExpiresAtMs = 0; // AuthDecision::expiresAtMs of the allowed join
        std::shared_ptr<const ContentFilter> filter;
        std::function<void(JoinResult)> done;
        JoinResult result;
        Member member;
        bool presenceAdded = false;
        bool firstConnection = false; // the store said this was the user's first connection
        bool announced = false;       // member_added went out for it
        bool cancelled = false;
        std::size_t heldFrom = 0; // index into Channel::held of the first publication after the join started
        bool server = false; // made by subscribeSession / subscribeUser: no authorization, no ackId
        // Authorization (private and presence channels): while `authorizing`, the join waits for
        // the authorizer's answer and holds no channel. `answered` is set by whichever comes
        // first (the answer, the deadline, a cancel); everything after it is ignored.
        bool authorizing = false;
        bool answered = false;
        TimerId deadline = 0;
        std::string channelData; // presence: for resolveMember() once allowed
    };

    /// Transitions the presence store learned from other nodes: fanned out to this node's
    /// subscribers of the channel.
    struct RemotePresence final : PresenceHandler {
        Impl *hub = nullptr;
        void onMemberAdded(std::string_view channel, const Member &member) override
        {
            hub->presenceChanged(PresenceEvent::Kind::Joined, channel, member, false);
        }
        void onMemberRemoved(std::string_view channel, const Member &member) override
        {
            hub->presenceChanged(PresenceEvent::Kind::Left, channel, member, false);
        }
    };

    Impl(Timer &t, HubOptions o) : timer(t), options(std::move(o))
    {
        remotePresence.hub = this;
        if (options.nodeId.empty())
            options.nodeId = detail::randomHex(8);
        else if (!detail::isValidNodeId(options.nodeId))
            throw std::invalid_argument("switchboard: HubOptions::nodeId must be 1 to 64 of [A-Za-z0-9_-]");
        replyChannel = detail::replyChannelOf(options.nodeId);
    }

    Timer &timer;
    HubOptions options;
    std::unique_ptr<MemoryBroker> ownBroker;
    std::unique_ptr<MemoryPresenceStore> ownPresence;
    Broker *broker = nullptr;
    PresenceStore *presence = nullptr;
    RemotePresence remotePresence;
    AsyncAuthorizer authorizer;
    std::function<void(const PresenceEvent &)> presenceHook;
    LifecycleHooks lifecycle;

    /// Keyed by a view of the entry's own id (the entry is on the heap and outlives its key): the
    /// id is kept once, not twice.
    std::unordered_map<std::string_view, std::unique_ptr<SessionEntry>> sessions;
    StringMap<std::unique_ptr<Channel>> channels;
    HubCounters counters;
    std::vector<std::shared_ptr<Session>> toClose; // slow consumers found during a fan-out
    std::shared_ptr<Impl *> alive = std::make_shared<Impl *>(this);
    bool closed = false; // close(): no attach, no join
    /// Channel authorizations with an expiry (AuthDecision::expiresAtMs): the hint, then the
    /// end of the subscription.
    detail::ChannelGrants grants{
        timer, options.authorizationRefreshHint,
        [this](const std::string &sessionId, const std::string &channel, std::int64_t leftMs) {
            ++counters.channelAuthorizationHints;
            sendToSession(sessionId, encodeExpiringFrame(leftMs, channel));
        },
        [this](const std::string &sessionId, const std::string &channel, std::int64_t) {
            SessionEntry *entry = findSession(sessionId);
            if (!entry || entry->closing)
                return;
            ++counters.channelAuthorizationExpirations;
            sendToSession(sessionId, encodeErrorFrame(Error::Unauthorized, "channel authorization expired", {}, channel));
            if ((entry = findSession(sessionId)))
                serverLeave(*entry, channel);
        }};
    std::string replyChannel; // the Broker channel other nodes route this node's replies through

    SessionEntry *findSession(std::string_view id) const
    {
        auto it = sessions.find(id);
        return it == sessions.end() ? nullptr : it->second.get();
    }

    /// The session holds a membership of the channel (a join in progress does not count).
    bool isMember(std::string_view sessionId, std::string_view channel) const
    {
        const SessionEntry *entry = findSession(sessionId);
        return entry && std::any_of(entry->memberships.begin(), entry->memberships.end(),
                                    [&](const Membership &m) { return m.channel->name == channel; });
    }

    Channel *findChannel(std::string_view name) const
    {
        auto it = channels.find(name);
        return it == channels.end() ? nullptr : it->second.get();
    }

    Channel &acquireChannel(std::string_view name)
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

    /// Keeps a live publication for the joins of `channel` still waiting for their history read.
    void hold(Channel &channel, const Publication &publication)
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
    void joinSettled(Channel &channel)
    {
        if (--channel.pendingJoins > 0)
            return;
        std::vector<Publication>().swap(channel.held);
        channel.heldBytes = 0;
        channel.holdOverflowed = false;
    }

    void releaseChannelIfUnused(Channel &channel)
    {
        if (channel.subscriberCount > 0 || channel.pendingJoins > 0)
            return;
        const std::string name = channel.name;
        channels.erase(name);
        broker->unsubscribe(name);
    }

    // ---- fan-out -------------------------------------------------------------------------

    /// The policy of channels without a rule, and of frames that are not a channel's.
    ChannelPolicy defaultPolicy() const
    {
        return options.slowConsumer == SlowConsumerPolicy::DisconnectClient ? ChannelPolicy::Disconnect
                                                                            : ChannelPolicy::DropNewest;
    }

    /// The frame of a publication of `channel`, carrying the channel's policy and, for
    /// LatestOnly, its conflation key: once per publication, whatever the subscribers.
    SharedFrame publicationFrame(const Channel &channel, const Publication &publication) const
    {
        std::string key;
        if (channel.policy == ChannelPolicy::LatestOnly)
            key = conflationKeyOf(channel.name, channel.keyField, publication);
        if (publication.binary)
            return encodeBinaryFrame(publication.channel, publication.event, publication.data, channel.policy, std::move(key));
        return encodeMessageFrame(publication, channel.policy, std::move(key));
    }

    /// Counts what a send that queued did to the outbox's pending frames.
    void countQueued(SessionEntry &entry, const SendOutcome &outcome)
    {
        entry.conflated += outcome.conflated;
        counters.conflated += outcome.conflated;
        entry.dropped += outcome.evicted;
        counters.drops += outcome.evicted;
    }

    /// Applies the slow-consumer `policy` to a refused frame. Never closes inline: closes are
    /// collected and run by flushCloses() once no subscriber list is being walked.
    void refused(SessionEntry &entry, ChannelPolicy policy)
    {
        ++entry.dropped;
        if (policy != ChannelPolicy::Disconnect) {
            ++counters.drops;
            return;
        }
        entry.closing = true;
        ++counters.slowDisconnects;
        toClose.push_back(entry.session);
    }

    void flushCloses()
    {
        if (toClose.empty())
            return;
        std::vector<std::shared_ptr<Session>> closing;
        closing.swap(toClose);
        for (const auto &session : closing)
            session->close(DisconnectCode::SlowConsumer, "outbox full");
    }

    /// Sends the shared frame of a channel with slow-consumer `policy` to every subscriber of
    /// `list`; returns how many accepted it.
    std::uint64_t deliver(const std::vector<SessionEntry *> &list, const SharedFrame &frame, const SessionEntry *except,
                          ChannelPolicy policy)
    {
        std::uint64_t accepted = 0;
        for (SessionEntry *entry : list) {
            if (entry == except || entry->closing)
                continue;
            const SendOutcome outcome = entry->session->send(frame);
            switch (outcome.result) {
            case SendResult::Dropped:
                refused(*entry, policy);
                break;
            case SendResult::Closed:
                break; // leaving: its detach is on the way
            case SendResult::Ok:
            case SendResult::Backpressure:
                ++entry->framesOut;
                ++accepted;
                countQueued(*entry, outcome);
                break;
            }
        }
        return accepted;
    }

    void finishFanOut(std::uint64_t accepted, const SharedFrame &frame)
    {
        counters.framesOut += accepted;
        counters.bytesOut += accepted * frame->bytes.size();
        flushCloses();
    }

    /// Every subscriber, whatever its filter (presence changes).
    void fanOut(Channel &channel, const SharedFrame &frame, const SessionEntry *except)
    {
        std::uint64_t accepted = deliver(channel.subscribers, frame, except, channel.policy);
        for (const auto &group : channel.groups)
            accepted += deliver(group->subscribers, frame, except, channel.policy);
        finishFanOut(accepted, frame);
    }

    // ---- replies between clients -----------------------------------------------------------

    /// A reply for a session of this node: delivered when its slot is open, else dropped and counted.
    void deliverReply(std::string_view sessionId, std::string_view nonce, std::string_view from,
                      std::string_view payload)
    {
        SessionEntry *entry = findSession(sessionId);
        if (!entry) {
            ++counters.repliesDroppedGone;
            return;
        }
        detail::ReplySlots::Slot slot;
        const auto taken = entry->extras ? entry->extras->replySlots.take(nonce, timer.now(), slot)
                                         : detail::ReplySlots::Take::Unknown;
        switch (taken) {
        case detail::ReplySlots::Take::Unknown:
            ++counters.repliesDroppedUnknown;
            return;
        case detail::ReplySlots::Take::Expired:
            ++counters.repliesDroppedExpired;
            return;
        case detail::ReplySlots::Take::Answered:
            ++counters.repliesDroppedAnswered;
            return;
        case detail::ReplySlots::Take::Taken:
            break;
        }
        ++counters.repliesDelivered;
        sendToSession(sessionId, encodeReplyFrame(slot.channel, payload, slot.ackId, from));
    }

    /// A reply another node routed here through the Broker.
    void onRoutedReply(const Publication &publication)
    {
        detail::RoutedReply routed;
        if (!publication.binary || !detail::decodeRoutedReply(publication.data, routed)) {
            ++counters.repliesDroppedUnroutable;
            return;
        }
        deliverReply(routed.session, routed.nonce, routed.from, routed.payload);
    }

    void onPublication(const Publication &publication)
    {
        if (publication.channel == replyChannel)
            return onRoutedReply(publication);
        ++counters.publications;
        Channel *channel = findChannel(publication.channel);
        if (!channel)
            return;
        if (channel->pendingJoins > 0)
            hold(*channel, publication);
        if (channel->subscriberCount == 0)
            return;
        ++channel->published;
        const SessionEntry *except = publication.exceptSession.empty() ? nullptr : findSession(publication.exceptSession);
        const SharedFrame frame = publicationFrame(*channel, publication);
        std::uint64_t accepted = deliver(channel->subscribers, frame, except, channel->policy);
        if (!channel->groups.empty()) {
            // The data is parsed at most once per publication, and only when a filter reads it.
            unsigned char buffer[2048];
            boost::json::monotonic_resource arena(buffer, sizeof buffer);
            const boost::json::storage_ptr storage(&arena);
            boost::json::value parsed(storage);
            enum class Data { Unread, Parsed, None } data = Data::Unread;
            for (const auto &group : channel->groups) {
                const ContentFilter &filter = *group->filter;
                if (filter.needsData() && data == Data::Unread)
                    data = !publication.binary && !parseJson(publication.data, parsed) ? Data::Parsed : Data::None;
                ++counters.filterEvaluations;
                if (filter.matches(publication.event, data == Data::Parsed ? &parsed : nullptr))
                    accepted += deliver(group->subscribers, frame, except, channel->policy);
                else
                    counters.filteredOut += group->subscribers.size();
            }
        }
        finishFanOut(accepted, frame);
    }

    // ---- presence ------------------------------------------------------------------------

    /// `local`: decided on this node (a join or leave here); the presence hook hears only those,
    /// so that a cluster runs it once per transition, on the node where it happened.
    void presenceChanged(PresenceEvent::Kind kind, std::string_view channelName, const Member &member,
                         bool local = true)
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
    void removePresence(const std::string &channel, const std::string &userId, const std::string &info,
                        const std::string &sessionId, bool announce = true)
    {
        std::weak_ptr<Impl *> weak = alive;
        presence->remove(channel, userId, sessionId, [weak, channel, userId, info, announce](bool last) {
            auto self = weak.lock();
            if (self && last && announce)
                (*self)->presenceChanged(PresenceEvent::Kind::Left, channel, Member{userId, info, 0});
        });
    }

    Member resolveMember(const SessionEntry &entry, const AuthDecision &decision, std::string_view channelData) const
    {
        Member member;
        if (!decision.memberUserId.empty()) {
            member.userId = decision.memberUserId;
            member.info = decision.memberInfo;
        } else if (!entry.principal.userId.empty()) {
            member.userId = entry.principal.userId;
            member.info = entry.principal.userInfo;
        } else {
            readChannelData(channelData, member.userId, member.info);
        }
        if (member.userId.empty())
            member.userId = entry.id; // an anonymous connection is its own member
        member.info = normalizeInfo(member.info);
        member.connections = 1;
        return member;
    }

    // ---- membership ----------------------------------------------------------------------

    void addSubscriber(SessionEntry &entry, Channel &channel, const Member *member,
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
            membership.group = it->get();
            list = &membership.group->subscribers;
        }
        membership.index = list->size();
        if (member)
            membership.presence = std::make_unique<PresenceIdentity>(PresenceIdentity{member->userId, member->info});
        list->push_back(&entry);
        ++channel.subscriberCount;
        entry.memberships.push_back(std::move(membership));
        if (channel.subscriberCount == 1)
            invokeQuietly(lifecycle.channelOccupied, std::string_view(channel.name));
    }

    /// Removes membership `position` of `entry` (swap-remove in both lists) and runs the
    /// presence leave. The channel is released when nobody is left.
    void removeMembership(SessionEntry &entry, std::size_t position)
    {
        Membership membership = std::move(entry.memberships[position]);
        entry.memberships[position] = std::move(entry.memberships.back());
        entry.memberships.pop_back();

        Channel &channel = *membership.channel;
        grants.forget(entry.id, channel.name);
        FilterGroup *group = membership.group;
        auto &subscribers = group ? group->subscribers : channel.subscribers;
        const std::size_t index = membership.index;
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
        if (membership.presence) // set exactly for memberships of presence channels
            removePresence(name, membership.presence->userId, membership.presence->info, entry.id);
        if (vacated)
            invokeQuietly(lifecycle.channelVacated, std::string_view(name));
    }

    // ---- join ----------------------------------------------------------------------------

    void cancelJoin(SessionEntry &entry, std::size_t position)
    {
        std::shared_ptr<JoinState> state = std::move(entry.pending[position]);
        entry.pending.erase(entry.pending.begin() + static_cast<std::ptrdiff_t>(position));
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

    // ---- authorization -------------------------------------------------------------------

    /// The first of answer, deadline and cancel settles an authorization; returns false for
    /// every later one.
    bool settleAuthorization(JoinState &state)
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

    static void removePending(SessionEntry &entry, const std::shared_ptr<JoinState> &state)
    {
        auto &pending = entry.pending;
        pending.erase(std::remove(pending.begin(), pending.end(), state), pending.end());
    }

    /// Ends a join that never got past authorization.
    void refuseJoin(const std::shared_ptr<JoinState> &state, Error error, std::string message = {})
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

    void authorizationAnswered(const std::shared_ptr<JoinState> &state, AuthDecision decision)
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

    void authorizationExpired(const std::shared_ptr<JoinState> &state)
    {
        state->deadline = 0; // fired
        if (!settleAuthorization(*state))
            return;
        ++counters.authTimeouts;
        refuseJoin(state, Error::AuthorizationTimeout);
    }

    /// Asks the authorizer about a pending join; its answer may come now or later.
    void authorize(SessionEntry &entry, const std::shared_ptr<JoinState> &state, std::string_view auth)
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
            ask(AuthRequest{state->channel, state->result.type, entry.id, entry.principal, auth, state->channelData,
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
    void abandon(const std::shared_ptr<JoinState> &state)
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

    void afterPresenceAdded(const std::shared_ptr<JoinState> &state, bool first)
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

    void fetchHistory(const std::shared_ptr<JoinState> &state)
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

    void completeJoin(const std::shared_ptr<JoinState> &state)
    {
        SessionEntry *entry = findSession(state->sessionId);
        Channel *channel = findChannel(state->channel);
        if (!entry || !channel) // cannot happen while not cancelled; be safe anyway
            return abandon(state);
        auto &pending = entry->pending;
        pending.erase(std::remove(pending.begin(), pending.end(), state), pending.end());
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

    static bool sameFilter(const Membership &membership, const ContentFilter *filter)
    {
        if (!membership.group || !filter)
            return !membership.group && !filter;
        return membership.group->filter->key() == filter->key();
    }

    /// A join of a channel the session is already in: success with the stream top (and the
    /// roster on a presence channel), nothing else changes: no authorization, no presence
    /// change, no recovery.
    void rejoin(std::string channel, JoinResult result, std::function<void(JoinResult)> done)
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

    void join(std::string_view sessionId, std::string_view channelName, const JoinRequest &request,
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
    void startJoin(SessionEntry &entry, const std::shared_ptr<JoinState> &state, const AuthDecision &decision)
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

    // ---- server-side subscriptions ---------------------------------------------------------

    /// Subscribes one session on the server's decision (Hub::subscribeSession documents the
    /// rules). Returns an error when nothing was started; `affected` when the session is (or
    /// will be) subscribed.
    std::error_code serverJoin(SessionEntry &entry, std::string_view channelName, const ServerSubscribeOptions &options)
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
        state->sessionId = entry.id;
        state->channel = std::string(channelName);
        state->filter = options.filter;
        state->result.type = channelTypeOf(channelName);
        std::weak_ptr<Impl *> weak = alive;
        state->done = [weak, sessionId = entry.id, channel = state->channel](JoinResult result) {
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
    void sendServerSubscribed(const std::string &sessionId, const std::string &channel, const JoinResult &result)
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

    void sendToSession(std::string_view sessionId, const SharedFrame &frame)
    {
        SessionEntry *entry = findSession(sessionId);
        if (!entry || entry->closing)
            return;
        const SendOutcome result = entry->session->send(frame);
        if (result == SendResult::Dropped) {
            refused(*entry, defaultPolicy());
            flushCloses();
        } else if (result != SendResult::Closed) {
            ++entry->framesOut;
            ++counters.framesOut;
            counters.bytesOut += frame->bytes.size();
            countQueued(*entry, result);
        }
    }

    /// Ends one session's subscription (or join in progress) on the server's decision. Returns
    /// whether there was one.
    bool serverLeave(SessionEntry &entry, std::string_view channelName)
    {
        const std::string sessionId = entry.id; // the leave may fan out; keep what we need
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

    /// Ids of this node's sessions of `userId`: a snapshot, so that nothing walks `sessions`
    /// while joins and leaves run hooks.
    std::vector<std::string> sessionsOfUser(std::string_view userId) const
    {
        std::vector<std::string> ids;
        for (const auto &[id, entry] : sessions) {
            if (entry->principal.userId == userId)
                ids.emplace_back(id);
        }
        return ids;
    }
};

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
    for (const auto &[id, entry] : d->sessions) {
        for (const auto &state : entry->pending) {
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
    auto entry = std::make_unique<Impl::SessionEntry>();
    entry->id = id;
    entry->session = std::move(session);
    entry->principal = std::move(principal);
    entry->clientName = std::string(clientName);
    Session &attached = *entry->session;
    const std::string &userId = entry->principal.userId;
    const std::string_view key = entry->id;
    d->sessions.emplace(key, std::move(entry));
    attached.attached(id, userId);
    if (d->lifecycle.connected) {
        const Principal &principal = d->sessions.find(id)->second->principal;
        invokeQuietly(d->lifecycle.connected, SessionConnected{id, principal.userId, clientName});
    }
    return id;
}

bool Hub::setSessionAuthorizer(std::string_view sessionId, AsyncAuthorizer authorizer)
{
    auto it = d->sessions.find(sessionId);
    if (it == d->sessions.end())
        return false;
    it->second->extrasOrNew().authorizer = std::move(authorizer);
    return true;
}

void Hub::detach(std::string_view sessionId, std::uint16_t code, std::string_view reason)
{
    auto it = d->sessions.find(sessionId);
    if (it == d->sessions.end())
        return;
    // Keep the entry alive until every channel has let go of it; presence leaves may fan out.
    std::unique_ptr<Impl::SessionEntry> entry = std::move(it->second);
    d->sessions.erase(it);
    while (!entry->pending.empty())
        d->cancelJoin(*entry, entry->pending.size() - 1);
    while (!entry->memberships.empty())
        d->removeMembership(*entry, entry->memberships.size() - 1);
    invokeQuietly(d->lifecycle.disconnected, SessionDisconnected{entry->id, entry->principal.userId, code, reason});
}

const Principal *Hub::principal(std::string_view sessionId) const
{
    const auto *entry = d->findSession(sessionId);
    return entry ? &entry->principal : nullptr;
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
        ask(AuthRequest{channel, type, entry->id, entry->principal, auth, channelData, entry->clientName}, answer);
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

ServerSubscriptionResult Hub::subscribeSession(std::string_view sessionId, std::string_view channel,
                                               const ServerSubscribeOptions &options)
{
    ServerSubscriptionResult result;
    if (d->closed)
        result.error = Error::Closed;
    else if (auto error = validateChannelName(channel))
        result.error = error;
    else if (Impl::SessionEntry *entry = d->findSession(sessionId); !entry)
        result.error = Error::NotFound;
    else if (!(result.error = d->serverJoin(*entry, channel, options)))
        result.sessions = 1;
    return result;
}

ServerSubscriptionResult Hub::subscribeUser(std::string_view userId, std::string_view channel,
                                            const ServerSubscribeOptions &options)
{
    ServerSubscriptionResult result;
    if (d->closed)
        result.error = Error::Closed;
    else if (userId.empty())
        result.error = Error::BadRequest; // anonymous sessions are nobody's: name them by session
    else if (auto error = validateChannelName(channel))
        result.error = error;
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
    token = detail::formatReplyToken(d->options.nodeId, slot.nonce, entry->id);
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
    return SessionStats{entry->memberships.size(), entry->framesOut, entry->dropped, entry->conflated};
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
