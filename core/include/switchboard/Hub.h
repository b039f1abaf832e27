#pragma once
// Hub: connections, channels, presence and fan-out. Knows nothing about sockets.

#include "switchboard/Authorizer.h"
#include "switchboard/Broker.h"
#include "switchboard/ChannelPolicy.h"
#include "switchboard/ContentFilter.h"
#include "switchboard/ControlFrames.h"
#include "switchboard/Outbox.h"
#include "switchboard/PresenceStore.h"
#include "switchboard/Publication.h"
#include "switchboard/Session.h"
#include "switchboard/Timer.h"

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace switchboard {

struct HubOptions {
    OutboxLimits outbox;  ///< transports size their Outbox from this
    /// Channels matching no rule of channelPolicies, and frames that are not publications
    /// (control frames, presence changes of channels without a Disconnect rule): DropMessage
    /// acts as ChannelPolicy::DropNewest, DisconnectClient as ChannelPolicy::Disconnect.
    SlowConsumerPolicy slowConsumer = SlowConsumerPolicy::DropMessage;
    /// Slow-consumer policy per channel-name prefix, the longest matching prefix winning (as
    /// HistoryOptions::rules). Resolved once when the Hub creates a channel's record; each
    /// publication's Frame carries the policy and its conflation key, computed once per
    /// publication (see ChannelPolicy, Outbox). LatestOnly with a keyField parses the JSON data
    /// of each publication once to read the field.
    std::vector<ChannelPolicyRule> channelPolicies;
    std::size_t maxChannelsPerSession = 128;
    /// A join the authorizer has not answered within this is refused with error 504
    /// (authorization_timeout) and counted in HubCounters::authTimeouts. 0: no deadline.
    std::chrono::milliseconds authorizationTimeout{10'000};
    /// A subscription whose authorization expires (AuthDecision::expiresAtMs) is sent
    /// `{"op":"expiring","channel":..,"in":<ms>}` this long before (at half the remaining time
    /// when shorter). 0: no hint.
    std::chrono::milliseconds authorizationRefreshHint{30'000};
    /// While a join waits for its history read (a network broker answers later, and delivers
    /// live publications on another connection), the channel's live publications are held, so
    /// that the newcomer gets those the read did not return right after its `subscribed`
    /// (nothing lost, nothing twice). Bytes of payload held per channel at most; past it the
    /// joins waiting then are answered and closed with 3007 (InsufficientState: recover), and
    /// counted in HubCounters::joinHoldOverflows.
    std::size_t joinHoldBytes = 8 * 1024 * 1024;
    /// Replies between clients (publish with `wantReply`, then `reply`; docs/protocol.md).
    /// This node's id, named by the reply tokens it issues: 1 to 64 of [A-Za-z0-9_-] (the Hub
    /// constructor throws std::invalid_argument otherwise). Empty: a random one per Hub. Nodes
    /// of a cluster need distinct ids.
    std::string nodeId;
    /// Publications of one session waiting for their reply at once; past it a `wantReply`
    /// publish is refused with error 429 (HubCounters::replySlotsRefused). 0: none allowed.
    std::size_t maxReplySlotsPerSession = 64;
    /// How long a publication waits for its reply; later replies are dropped
    /// (HubCounters::repliesDroppedExpired).
    std::chrono::milliseconds replySlotLifetime{30'000};
};

struct JoinRequest {
    std::string_view auth;
    std::string_view channelData;          ///< presence: JSON text
    std::optional<StreamPosition> recover; ///< ask for the publications after this position
    /// Ask for the channel's newest publication (JoinResult::latest), read from its history in
    /// the same read that gives the position. Ignored with `recover`: a recovery replays up to
    /// the newest publication already. With a filter, only when the newest one matches it.
    bool latest = false;
    /// Deliver (and recover) only the publications it matches; null: all of them. Subscribers
    /// with equal filters (ContentFilter::key) share one evaluation per publication.
    std::shared_ptr<const ContentFilter> filter;
};

struct JoinResult {
    /// Unauthorized, Forbidden, InvalidName, ChannelLimit, AlreadySubscribed (a join still in
    /// progress, or already subscribed with another filter), AuthorizationTimeout, Cancelled (the
    /// session left or unsubscribed while the join was in progress), Internal (the authorizer threw).
    std::error_code error;
    std::string message; ///< refused by the authorizer: its reason (AuthDecision::reason), may be empty
    ChannelType type = ChannelType::Public;
    /// Stream top at join: the client's recovery start. Carries the epoch whenever the channel
    /// keeps history (a join creates the stream when there is none); {0, ""} when it keeps none.
    StreamPosition position;
    bool recoveryRequested = false;
    bool recovered = false;                ///< every missed publication is in `missed`
    /// Recovery asked: the publications after the position, oldest first. When not recovered
    /// (epoch changed, part of the gap gone), what history still holds, all of it new or partly
    /// missed: the client should treat it as a gap and reload. With a filter (JoinRequest),
    /// only the publications it matches.
    std::vector<Publication> missed;
    /// JoinRequest::latest: the newest publication history holds (its offset is `position`'s);
    /// empty when the channel keeps no history, nothing was published yet, it was evicted, or
    /// the filter refuses it.
    std::optional<Publication> latest;
    std::vector<Member> roster;            ///< presence: snapshot including the newcomer
    /// Presence: this join added the member (its user's first connection), so the others were
    /// sent presence:member_added for `member`; the caller sends it to the newcomer as well.
    bool announced = false;
    Member member;                         ///< presence: the newcomer as a member
};

/// Options of a server-side subscription (Hub::subscribeSession / subscribeUser).
struct ServerSubscribeOptions {
    /// Deliver only the publications it matches (as JoinRequest::filter); null: all of them.
    std::shared_ptr<const ContentFilter> filter;
};

/// Outcome of a server-side subscribe or unsubscribe.
struct ServerSubscriptionResult {
    /// Closed (subscribe on a closed Hub), InvalidName (channel name), NotFound (subscribeSession /
    /// unsubscribeSession: no such session on this node), BadRequest (subscribeUser /
    /// unsubscribeUser with an empty user id), ChannelLimit / AlreadySubscribed (subscribeSession:
    /// the session is at maxChannelsPerSession, or a subscribe of its own for this channel is
    /// still in progress). Empty on success, also when no session was affected.
    std::error_code error;
    /// Sessions now subscribed (including those that already were) or unsubscribed.
    std::size_t sessions = 0;
};

struct PresenceEvent {
    enum class Kind { Joined, Left } kind;
    std::string channel;
    Member member;
};

/// A session attached to the Hub (its `connect` was accepted).
struct SessionConnected {
    std::string_view sessionId;
    std::string_view userId;     ///< empty: anonymous
    std::string_view clientName; ///< the `name` of the connect frame, may be empty
};

/// A session left the Hub. `code` is the WebSocket close code that ended it: the one the server
/// closed with, the one the peer sent, or 1006 (closed abnormally) when the transport saw none.
struct SessionDisconnected {
    std::string_view sessionId;
    std::string_view userId;
    std::uint16_t code = 1006;
    std::string_view reason;
};

/// Lifecycle hooks (issue 11): each may be empty. They run synchronously on the Hub's thread,
/// inside the Hub operation that caused them, after the Hub's state reflects the change:
/// - connected: at the end of attach();
/// - disconnected: at the end of detach(), after the session's channels were left (so its
///   channelVacated and presence Left events come first);
/// - channelOccupied: a channel got its first subscriber on this node (a join completed);
/// - channelVacated: its last subscriber on this node left.
/// On a presence channel the presence hook's Joined comes before channelOccupied and its Left
/// before channelVacated.
/// The string_views are valid only during the call. A hook may publish or broadcast and read
/// the Hub (counters, channels); it must not attach, detach, join or leave (it runs while the Hub
/// is changing its own state), and it should be quick: hosts that do slow work (webhooks) queue
/// the event and return. Exceptions a hook throws are swallowed.
struct LifecycleHooks {
    std::function<void(const SessionConnected &)> connected;
    std::function<void(const SessionDisconnected &)> disconnected;
    std::function<void(std::string_view channel)> channelOccupied;
    std::function<void(std::string_view channel)> channelVacated;
};

struct ChannelStats {
    std::string name;
    ChannelType type;
    std::size_t subscribers;
    std::uint64_t published;  ///< publications fanned out on this node
};

struct SessionStats {
    std::size_t channels = 0;
    std::uint64_t framesOut = 0;
    std::uint64_t dropped = 0;   ///< frames refused by its full outbox or evicted by DropOldest
    std::uint64_t conflated = 0; ///< pending frames replaced by a newer one of their key (LatestOnly)
};

struct HubCounters {
    std::size_t sessions = 0;
    std::size_t channels = 0;
    std::uint64_t framesIn = 0;     ///< counted by the ServerProtocol via countFrameIn()
    std::uint64_t framesOut = 0;    ///< frames accepted by sessions
    std::uint64_t bytesOut = 0;
    std::uint64_t drops = 0;        ///< frames refused by full outboxes (DropNewest...) or evicted by DropOldest
    /// Pending frames replaced in an outbox by a newer frame of their conflation key
    /// (LatestOnly): never written, superseded rather than lost. framesOut counts both frames.
    std::uint64_t conflated = 0;
    std::uint64_t slowDisconnects = 0;
    std::uint64_t authFailures = 0;
    std::uint64_t authTimeouts = 0;      ///< joins refused because the authorizer did not answer in time (504)
    std::uint64_t publications = 0;
    std::uint64_t historyEvictions = 0; ///< Broker::historyEvictions(): published streams evicted
    /// Broker::idempotency(): publishes answered with an earlier publication's position (a
    /// repeated idempotency key), and keys forgotten before their window ended (the bound).
    std::uint64_t idempotentDuplicates = 0;
    std::uint64_t idempotencyKeysEvicted = 0;
    std::uint64_t filterEvaluations = 0; ///< content filter checks: one per distinct filter per publication
    std::uint64_t filteredOut = 0;       ///< deliveries withheld by content filters (per subscriber)
    std::uint64_t joinHoldOverflows = 0; ///< joins told to recover (3007): HubOptions::joinHoldBytes exceeded
    std::uint64_t latestDelivered = 0;   ///< joins answered with the channel's newest publication (JoinRequest::latest)
    // Channel authorizations with an expiry (AuthDecision::expiresAtMs).
    std::uint64_t channelAuthorizationHints = 0;       ///< `expiring` frames sent for a channel
    std::uint64_t channelAuthorizationRefreshes = 0;   ///< refreshes allowed: the expiry replaced
    std::uint64_t channelAuthorizationRefreshFailures = 0; ///< refreshes refused (the old expiry stays)
    std::uint64_t channelAuthorizationExpirations = 0; ///< subscriptions ended at their authorization's expiry
    // Replies between clients. A reply is routed (to another node, through the Broker) on the
    // replier's node, then delivered or dropped on the publisher's node.
    std::uint64_t replySlotsOpened = 0;     ///< `wantReply` publishes given a reply token
    std::uint64_t replySlotsRefused = 0;    ///< `wantReply` publishes refused 429: maxReplySlotsPerSession
    std::uint64_t repliesRouted = 0;        ///< replies handed to the Broker for the publisher's node
    std::uint64_t repliesDelivered = 0;     ///< replies sent to their publishing session
    std::uint64_t repliesDroppedUnknown = 0;  ///< no such slot: a forged nonce, or a slot long gone
    std::uint64_t repliesDroppedExpired = 0;  ///< the slot's lifetime was over
    std::uint64_t repliesDroppedAnswered = 0; ///< the slot already had its (first) reply
    std::uint64_t repliesDroppedGone = 0;     ///< the publishing session is not on its node (any more)
    std::uint64_t repliesDroppedUnroutable = 0; ///< the Broker refused to carry it, or carried bytes that are not a reply
};

/// The Hub routes publications from a Broker to local sessions and tracks presence.
///
/// Thread safety: none. Every call, and every Broker / PresenceStore callback, must come from
/// one thread or be serialized by the host (the Asio gateway holds a mutex). Session::send is
/// called inline and must only enqueue.
///
/// Fan-out: a publication is encoded into one Frame; the same SharedFrame goes to every
/// subscriber. Subscribers with a content filter are grouped by distinct filter: a publication
/// is checked once per group, and the shared frame goes to every member of a matching group. Subscriber sets are never changed while being iterated: a send that triggers a
/// slow-consumer disconnect is applied after the loop.
class Hub : private BrokerHandler {
public:
    /// Uses an in-memory broker and presence store owned by the Hub.
    explicit Hub(Timer &timer, HubOptions options = {});
    /// Uses external engines; they must outlive the Hub.
    Hub(Timer &timer, HubOptions options, Broker &broker, PresenceStore &presence);
    ~Hub() override;
    Hub(const Hub &) = delete;
    Hub &operator=(const Hub &) = delete;

    const HubOptions &options() const;
    /// Installs a synchronous authorizer (it answers inside the call). Same as
    /// setAsyncAuthorizer() with an authorizer that answers at once.
    void setAuthorizer(Authorizer authorizer);
    /// Installs an authorizer that may answer later (see AsyncAuthorizer); replaces either kind.
    /// A join waiting for it is cancelled when its session detaches or leaves the channel (its
    /// `done` runs with Cancelled and the answer is ignored) and refused with
    /// AuthorizationTimeout after HubOptions::authorizationTimeout.
    void setAsyncAuthorizer(AsyncAuthorizer authorizer);
    /// Called on a user's first connection to a presence channel (Joined) and after its last
    /// one left (Left), synchronously on the Hub's thread. With a cluster presence store only on
    /// the node where the join or leave happened (transitions from other nodes, and members of
    /// a dead node swept by this one, reach subscribers but not the hook). It may publish or broadcast; it must
    /// not attach, detach, join or leave. Exceptions it throws are swallowed.
    void setPresenceHook(std::function<void(const PresenceEvent &)> hook);
    /// Replaces the lifecycle hooks (see LifecycleHooks for when and how they run). The owner
    /// clears them (setLifecycleHooks({})) before what they capture goes away.
    void setLifecycleHooks(LifecycleHooks hooks);

    /// Closes the Hub to newcomers (graceful shutdown: ServerProtocol::closeAll calls it). From
    /// then on attach() registers nothing and returns an empty id, join() fails with
    /// Error::Closed. Sessions already attached keep receiving until their transports detach
    /// them, and server publishes are still accepted and stored (history stays complete across
    /// a gateway's stop and start). Idempotent.
    void close();
    /// Accepts attach and join again (a transport that starts listening again after close()).
    void reopen();
    bool isClosed() const;

    /// Registers a connection. Returns its session id (unique, unguessable); empty when the Hub
    /// is closed (nothing registered, Session::attached not called). `clientName` is reported to
    /// the connected hook and to the authorizer (AuthRequest::clientName). `proposedId`: the id
    /// to use when it is not taken (the id a connect authenticator was told, ServerProtocol);
    /// empty or taken: a fresh random one.
    std::string attach(std::shared_ptr<Session> session, Principal principal = {},
                       std::string_view clientName = {}, std::string_view proposedId = {});
    /// Decides the private and presence joins of one attached session instead of the Hub's
    /// authorizer (a Pusher connection's subscriptions, signed with its app's secret:
    /// PusherProtocol). Same contract as setAsyncAuthorizer(); dropped with the session.
    /// Returns false when no such session is attached.
    bool setSessionAuthorizer(std::string_view sessionId, AsyncAuthorizer authorizer);
    /// Removes the session from every channel (presence leaves fire), then forgets it. `code` and
    /// `reason` (the close that ended it) are reported to the disconnected hook only.
    void detach(std::string_view sessionId, std::uint16_t code = 1006, std::string_view reason = {});
    /// The principal the session was attached with: an empty one for an anonymous session (one
    /// the Hub shares by all of them); null when not attached. Valid until detach().
    const Principal *principal(std::string_view sessionId) const;
    /// The Hub's own copy of an attached session's id, for a caller that keeps a view of it
    /// instead of a copy: valid until detach(), whose argument must not be this view (the copy
    /// goes with the session). Empty when no such session is attached.
    std::string_view attachedId(std::string_view sessionId) const;
    /// The `clientName` the session was attached with (one copy per distinct name, shared by the
    /// sessions that sent it); empty when not attached. Valid until detach().
    std::string_view clientName(std::string_view sessionId) const;

    /// Joins a channel: validates, authorizes, adds to presence, fetches recovery. `done` runs
    /// once (synchronously with the memory engines and an authorizer that answers at once; with
    /// Cancelled inside detach() or leave() for a join still in progress). Presence: the newcomer is told the roster
    /// by the caller (from JoinResult::roster), then, when JoinResult::announced, its own
    /// presence:member_added; others get presence:member_added from the Hub.
    /// Joining a channel the session is already in with the same filter succeeds at once with
    /// the stream top (and the roster on a presence channel), changing nothing: idempotent.
    void join(std::string_view sessionId, std::string_view channel, const JoinRequest &request,
              std::function<void(JoinResult)> done);
    /// Leaves a channel. Returns NotFound when not subscribed (ServerProtocol answers
    /// `unsubscribed` all the same).
    std::error_code leave(std::string_view sessionId, std::string_view channel);
    /// Asks the authorizer again for a subscription of `sessionId` (a client `refresh` with a
    /// channel and a new `auth`), as for its join: allowed, the decision's expiry replaces the
    /// subscription's (0: it no longer expires); refused, the old expiry stays. `done` gets
    /// nothing when allowed, the refusal (AuthDecision::refusal, with its reason) otherwise,
    /// NotFound when the session is not subscribed to the channel (now or when the answer comes),
    /// Unauthorized without an authorizer. A public channel needs no authorization: allowed at
    /// once. Runs `done` once, now or when the (asynchronous) authorizer answers; no deadline.
    void refreshAuthorization(std::string_view sessionId, std::string_view channel, std::string_view auth,
                              std::function<void(std::error_code, std::string reason)> done);
    bool isSubscribed(std::string_view sessionId, std::string_view channel) const;

    /// Server-side subscriptions (issue 11, seed 001): the application, not the client, decides
    /// that a session, or every session of a user, receives a channel.
    /// - The authorizer is not asked (the server decided), but the channel name is validated
    ///   (InvalidName) and maxChannelsPerSession applies (ChannelLimit: subscribeSession fails,
    ///   subscribeUser skips that session). A closed Hub refuses with Closed.
    /// - The client is told with a `subscribed` frame marked `"server":true` (no ackId) carrying
    ///   the channel's current position (docs/protocol.md); on a presence channel it is followed
    ///   by the roster and, on its user's first connection, its own member_added, as for a
    ///   client subscribe. The member is the session's user (Principal::userId / userInfo), the
    ///   session id for an anonymous session.
    /// - Idempotent: a session already in the channel (by its own subscribe or an earlier server
    ///   one, whatever its filter) counts as subscribed and is sent nothing. A subscription is one
    ///   per session and channel, whoever made it: the client may unsubscribe it and the server
    ///   may end a client's own.
    /// - The session joins like any subscriber: with the Redis engine the broker listens to the
    ///   channel for it. The frames follow when the engines answer (at once with the memory
    ///   ones); a session that leaves meanwhile is sent nothing.
    /// - These act on this Hub's sessions only: on a cluster, a user's sessions on other nodes
    ///   are not affected (call every node). A user with no session here affects 0 sessions and
    ///   is not remembered: a later connection of that user is not subscribed.
    /// - subscribeUser walks every session of the node (O(sessions)) and ignores a session of
    ///   the user whose own subscribe of the channel is still in progress.
    /// Like every Hub call, on the Hub's thread. Returns the sessions affected.
    ServerSubscriptionResult subscribeSession(std::string_view sessionId, std::string_view channel,
                                              const ServerSubscribeOptions &options = {});
    ServerSubscriptionResult subscribeUser(std::string_view userId, std::string_view channel,
                                           const ServerSubscribeOptions &options = {});
    /// Ends the subscription (or cancels a subscribe still in progress: the client's subscribe is
    /// answered with error 499) and sends `unsubscribed` marked `"server":true`. A session not in
    /// the channel is not an error and counts 0. Works on a closed Hub too (like leave()).
    ServerSubscriptionResult unsubscribeSession(std::string_view sessionId, std::string_view channel);
    ServerSubscriptionResult unsubscribeUser(std::string_view userId, std::string_view channel);

    /// Publishes JSON text `data` (not re-parsed) to a channel through the Broker; stored in
    /// history. `sender` is the publishing session (empty for server), `exceptSession` is skipped.
    /// `data` must be JSON that parseJson() accepts (JsonParse.h: no number out of range), as the
    /// HTTP API and client frames check before they publish: the client libraries refuse a frame
    /// holding such a number (docs/protocol.md "Numbers"). The same holds for the broadcast
    /// shorthands below.
    void publish(Publication publication,
                 std::function<void(std::error_code, StreamPosition)> done = {});
    /// Server publishes: shorthands for publish() with no sender (stored in history, delivered
    /// through the Broker to every node). Invalid names are ignored.
    void broadcast(std::string_view channel, std::string_view event, std::string_view jsonData);
    void broadcastExcept(std::string_view channel, std::string_view event, std::string_view jsonData,
                         std::string_view exceptSessionId);
    /// Binary payload in a binary frame (see docs/protocol.md); not kept in history.
    void broadcastBinary(std::string_view channel, std::string_view event, std::string_view bytes);
    /// Replies between clients (docs/protocol.md). Opens a reply slot for a publication of
    /// `sessionId` on `channel` whose publish carries `ackId`, and returns its token (for
    /// Publication::replyTo). Errors: NotFound (no such session), RateLimited (the session has
    /// HubOptions::maxReplySlotsPerSession outstanding).
    std::error_code openReplySlot(std::string_view sessionId, std::string_view channel, const AckId &ackId,
                                  std::string &token);
    /// Forgets a slot whose publication failed.
    void cancelReplySlot(std::string_view token);
    /// A reply of session `fromSessionId` to `token`. Delivered to the publishing session
    /// (`{"op":"reply","topic":<channel>,"payload":..,"ackId":<its publish's>,"from":..}`) when
    /// it is on this node, else handed to the Broker for the publisher's node. `done` gets
    /// BadRequest (a token that cannot be parsed), the Broker's error when it refused, or
    /// nothing: handed on. A reply that finds no open slot is dropped and counted, not reported
    /// to the replier (HubCounters::repliesDropped*). `jsonPayload` must be JSON text.
    void reply(std::string_view fromSessionId, std::string_view token, std::string jsonPayload,
               std::function<void(std::error_code)> done = {});
    /// This node's id (HubOptions::nodeId, or the random one).
    const std::string &nodeId() const;

    /// Sends one frame to one session, applying the slow-consumer policy.
    SendResult sendTo(std::string_view sessionId, const SharedFrame &frame);

    void members(std::string_view channel, std::function<void(std::vector<Member>)> done);
    void history(std::string_view channel, const HistoryQuery &query, std::function<void(HistoryResult)> done);

    void countFrameIn() noexcept;
    void countAuthFailure() noexcept;
    HubCounters counters() const;
    std::vector<ChannelStats> channels() const;
    std::optional<SessionStats> sessionStats(std::string_view sessionId) const;
    std::size_t subscriberCount(std::string_view channel) const;

private:
    void onPublication(const Publication &publication) override;
    void onGap(std::string_view channel) override;
    struct Impl;
    std::unique_ptr<Impl> d;
};

} // namespace switchboard
