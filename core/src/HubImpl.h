#pragma once
// Hub::Impl: the state behind switchboard::Hub (sessions, channels, joins in progress) and the
// declarations of its member functions, with the helpers the Hub's files share. Private to core.
//
// The member functions are defined by concept: Hub.cpp (construction, channel records, the public
// Hub API), HubFanout.cpp (fan-out of publications, sends, replies between clients), HubJoins.cpp
// (presence, membership, joins and their authorization) and HubServerSubscriptions.cpp
// (subscriptions the server makes and ends).

#include "switchboard/Hub.h"

#include "switchboard/ControlFrames.h"
#include "switchboard/MemoryBroker.h"
#include "switchboard/MemoryPresenceStore.h"
#include "ChannelGrants.h"
#include "OneOrMany.h"
#include "ReplySlots.h"
#include "SessionIdText.h"
#include "SharedNames.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

namespace switchboard::detail {

struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view text) const noexcept { return std::hash<std::string_view>{}(text); }
};
template <typename Value>
using StringMap = std::unordered_map<std::string, Value, StringHash, std::equal_to<>>;

inline constexpr std::string_view kMemberAdded = "presence:member_added";
inline constexpr std::string_view kMemberRemoved = "presence:member_removed";

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

} // namespace switchboard::detail

namespace switchboard {

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

    /// A session's subscription to a channel: 24 bytes, kept in its entry (OneOrMany) when it is
    /// the session's only one.
    struct Membership {
        /// What only filtered subscriptions and presence channels need: apart, so that any other
        /// subscription costs an idle connection 24 bytes here, not 88.
        struct Detail {
            FilterGroup *group = nullptr;               // set: in this group's subscribers
            std::unique_ptr<PresenceIdentity> presence; // presence channels only
        };
        Channel *channel = nullptr;
        std::unique_ptr<Detail> detail;
        std::uint32_t index = 0; // position in the group's or the channel's subscribers

        /// Null: in channel->subscribers.
        FilterGroup *group() const { return detail ? detail->group : nullptr; }
        /// Set exactly for memberships of presence channels.
        const PresenceIdentity *presence() const { return detail ? detail->presence.get() : nullptr; }
        Detail &detailOrNew()
        {
            if (!detail)
                detail = std::make_unique<Detail>();
            return *detail;
        }
    };

    /// The principal of every anonymous session.
    static const Principal &anonymousPrincipal()
    {
        static const Principal anonymous;
        return anonymous;
    }

    /// A session's joins in progress, in the order they began: nothing but a pointer while there
    /// are none (every idle connection), a vector while there are.
    class PendingJoins {
    public:
        using List = std::vector<std::shared_ptr<JoinState>>;
        bool empty() const { return !m_list; }
        std::size_t size() const { return m_list ? m_list->size() : 0; }
        const std::shared_ptr<JoinState> &operator[](std::size_t i) const { return (*m_list)[i]; }
        List::const_iterator begin() const { return m_list ? m_list->cbegin() : List::const_iterator(); }
        List::const_iterator end() const { return m_list ? m_list->cend() : List::const_iterator(); }
        void push_back(std::shared_ptr<JoinState> state)
        {
            if (!m_list)
                m_list = std::make_unique<List>();
            m_list->push_back(std::move(state));
        }
        /// Removes `state`; the last one gone, the vector goes too.
        void remove(const std::shared_ptr<JoinState> &state)
        {
            if (!m_list)
                return;
            std::erase(*m_list, state);
            if (m_list->empty())
                m_list.reset();
        }

    private:
        std::unique_ptr<List> m_list;
    };

    /// A session's record, in the node of the Hub's index (`sessions`): one heap block per
    /// session. Its address is stable from attach to detach (channels hold pointers to it).
    struct SessionEntry {
        explicit SessionEntry(std::string_view sessionId) { id.assign(sessionId); }

        // 136 bytes, 144 with the index's link: one 160-byte chunk per session, its first
        // subscription included (docs/benchmarks.md, "Where an idle connection's memory goes").
        /// The index's key: never changes while the entry is in it. [[no_unique_address]] lets
        /// `closing` take the id's tail padding.
        [[no_unique_address]] detail::SessionIdText id;
        bool closing = false; // closed as a slow consumer: no more sends
        std::shared_ptr<Session> session;
        /// Null for an anonymous session (no user id, info or patterns): it keeps a pointer
        /// here, not the 88 bytes of an empty Principal.
        std::unique_ptr<const Principal> ownPrincipal;
        detail::SharedName clientName; // for the authorizer; one copy per distinct name
        /// Most sessions subscribe to one channel: that membership lives here, not in a block.
        detail::OneOrMany<Membership> memberships;
        PendingJoins pending;
        std::uint64_t framesOut = 0;
        /// What few sessions use: allocated on first use, not kept by every idle connection.
        struct Extras {
            AsyncAuthorizer authorizer;    // set: decides this session's joins instead of the Hub's
            detail::ReplySlots replySlots; // its publications waiting for a reply
            std::uint64_t dropped = 0;     // frames refused or evicted for this session
            std::uint64_t conflated = 0;   // frames replaced by a newer one of their key
        };
        std::unique_ptr<Extras> extras;

        Extras &extrasOrNew()
        {
            if (!extras)
                extras = std::make_unique<Extras>();
            return *extras;
        }
        const Principal &principal() const { return ownPrincipal ? *ownPrincipal : anonymousPrincipal(); }
        /// Its own authorizer, or null.
        const AsyncAuthorizer *ownAuthorizer() const { return extras && extras->authorizer ? &extras->authorizer : nullptr; }
        std::uint64_t dropped() const { return extras ? extras->dropped : 0; }
        std::uint64_t conflated() const { return extras ? extras->conflated : 0; }
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

    Impl(Timer &t, HubOptions o);

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

    /// The client names of the sessions: declared before `sessions`, so that it outlives them.
    detail::SharedNames clientNames;
    /// The entries, found by their own id (SessionIdText): the id is kept once, and an index
    /// node holds a pointer and the id's hash (32 bytes with the allocator's header, 48 for a
    /// node that held a view of the id as its key).
    struct EntryId {
        using is_transparent = void;
        static std::string_view of(std::string_view id) noexcept { return id; }
        static std::string_view of(const SessionEntry &entry) noexcept { return entry.id.view(); }
        std::size_t operator()(const auto &key) const noexcept { return std::hash<std::string_view>{}(of(key)); }
        bool operator()(const auto &a, const auto &b) const noexcept { return of(a) == of(b); }
    };
    /// The entries themselves, found by their id. A set hands out its elements as const, for
    /// their key's sake; everything of an entry but its id is the Hub's to change (entryOf()).
    std::unordered_set<SessionEntry, EntryId, EntryId> sessions;
    static SessionEntry &entryOf(const SessionEntry &element) { return const_cast<SessionEntry &>(element); }
    detail::StringMap<std::unique_ptr<Channel>> channels;
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
        return it == sessions.end() ? nullptr : &entryOf(*it);
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

    /// The policy of channels without a rule, and of frames that are not a channel's.
    ChannelPolicy defaultPolicy() const
    {
        return options.slowConsumer == SlowConsumerPolicy::DisconnectClient ? ChannelPolicy::Disconnect
                                                                            : ChannelPolicy::DropNewest;
    }

    // ---- channel records (Hub.cpp) -------------------------------------------------------

    Channel &acquireChannel(std::string_view name);
    void releaseChannelIfUnused(Channel &channel);

    // ---- fan-out, sends and replies between clients (HubFanout.cpp) ----------------------

    SharedFrame publicationFrame(const Channel &channel, const Publication &publication) const;
    /// Counts what queueing a frame conflated or evicted. Runs once per delivery and almost
    /// always finds nothing: the test is inline, the counting (which may allocate the entry's
    /// Extras) out of line.
    void countQueued(SessionEntry &entry, const SendOutcome &outcome)
    {
        if (outcome.conflated != 0 || outcome.evicted != 0) [[unlikely]]
            countConflatedOrEvicted(entry, outcome);
    }
    void countConflatedOrEvicted(SessionEntry &entry, const SendOutcome &outcome);
    void refused(SessionEntry &entry, ChannelPolicy policy);
    void flushCloses();
    std::uint64_t deliver(const std::vector<SessionEntry *> &list, const SharedFrame &frame, const SessionEntry *except,
                          ChannelPolicy policy);
    void finishFanOut(std::uint64_t accepted, const SharedFrame &frame);
    void fanOut(Channel &channel, const SharedFrame &frame, const SessionEntry *except);
    void sendToSession(std::string_view sessionId, const SharedFrame &frame);
    void deliverReply(std::string_view sessionId, std::string_view nonce, std::string_view from,
                      std::string_view payload);
    void onRoutedReply(const Publication &publication);
    void onPublication(const Publication &publication);

    // ---- presence, membership, joins and their authorization (HubJoins.cpp) --------------

    void hold(Channel &channel, const Publication &publication);
    void joinSettled(Channel &channel);
    void presenceChanged(PresenceEvent::Kind kind, std::string_view channelName, const Member &member,
                         bool local = true);
    void removePresence(const std::string &channel, const std::string &userId, const std::string &info,
                        std::string_view sessionId, bool announce = true);
    Member resolveMember(const SessionEntry &entry, const AuthDecision &decision, std::string_view channelData) const;
    void addSubscriber(SessionEntry &entry, Channel &channel, const Member *member,
                       const std::shared_ptr<const ContentFilter> &filter);
    void removeMembership(SessionEntry &entry, std::size_t position);
    void cancelJoin(SessionEntry &entry, std::size_t position);
    bool settleAuthorization(JoinState &state);
    static void removePending(SessionEntry &entry, const std::shared_ptr<JoinState> &state);
    void refuseJoin(const std::shared_ptr<JoinState> &state, Error error, std::string message = {});
    void authorizationAnswered(const std::shared_ptr<JoinState> &state, AuthDecision decision);
    void authorizationExpired(const std::shared_ptr<JoinState> &state);
    void authorize(SessionEntry &entry, const std::shared_ptr<JoinState> &state, std::string_view auth);
    void abandon(const std::shared_ptr<JoinState> &state);
    void afterPresenceAdded(const std::shared_ptr<JoinState> &state, bool first);
    void fetchHistory(const std::shared_ptr<JoinState> &state);
    void completeJoin(const std::shared_ptr<JoinState> &state);
    static bool sameFilter(const Membership &membership, const ContentFilter *filter);
    void rejoin(std::string channel, JoinResult result, std::function<void(JoinResult)> done);
    void join(std::string_view sessionId, std::string_view channelName, const JoinRequest &request,
              std::function<void(JoinResult)> done);
    void startJoin(SessionEntry &entry, const std::shared_ptr<JoinState> &state, const AuthDecision &decision);

    // ---- server-side subscriptions (HubServerSubscriptions.cpp) --------------------------

    std::error_code serverJoin(SessionEntry &entry, std::string_view channelName,
                               const ServerSubscribeOptions &options);
    void sendServerSubscribed(const std::string &sessionId, const std::string &channel, const JoinResult &result);
    bool serverLeave(SessionEntry &entry, std::string_view channelName);
    std::error_code refuseServerJoin(std::string_view channelName) const;
    std::vector<std::string> sessionsOfUser(std::string_view userId) const;
};

} // namespace switchboard
