#pragma once
// ClientSession: the transport-agnostic client. Qt, the browser and tests drive the same code.

#include "switchboard/ClientTransport.h"
#include "switchboard/Error.h"
#include "switchboard/Executor.h"
#include "switchboard/Logger.h"
#include "switchboard/PresenceStore.h"
#include "switchboard/Publication.h"
#include "switchboard/Timer.h"
#include "switchboard/WireEncoding.h"

#include <boost/json/value.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace switchboard {

enum class ClientState { Disconnected, Connecting, Connected, Reconnecting, Closed };

/// Most `subscribe` frames a session sends right behind `connect`, before `welcome`
/// (ClientSession::subscribe), and most bytes of their channel names, auth and channel data:
/// within what a server keeps while it authenticates (16 frames, 64 KiB by default).
inline constexpr std::size_t kPipelinedSubscribes = 8;
inline constexpr std::size_t kPipelinedSubscribeBytes = 16 * 1024;
std::string_view clientStateName(ClientState state) noexcept;

struct BackoffOptions {
    std::chrono::milliseconds initial{250};
    std::chrono::milliseconds max{10'000};
    double factor = 2.0;
    double jitter = 0.5; ///< each delay is scaled by a random factor in [1 - jitter, 1]
};

struct ClientOptions {
    std::string url;
    /// Failover: gateway URLs tried in turn (nodes of one service, docs/scaling.md). A failed
    /// or lost connection moves to the next one, round robin; the backoff step grows once per
    /// full round (docs/client.md, "Failover"). Empty: `url` alone.
    std::vector<std::string> urls;
    BackoffOptions backoff;
    std::chrono::milliseconds ackTimeout{5'000};
    std::chrono::milliseconds replyTimeout{10'000};
    std::chrono::milliseconds connectTimeout{10'000}; ///< open + welcome
    std::string clientName;
    /// Binary: offer the binary encoding (`switchboard.v1.binary`, docs/protocol.md) at each
    /// upgrade; frames travel in it when the server agrees, in JSON when it does not (an older
    /// server, or a transport that cannot offer a subprotocol). Same API and events either way.
    WireEncoding encoding = WireEncoding::Json;
    /// Heartbeat: when the connection has been quiet for the `ping` interval of `welcome`, the
    /// client sends `ping`; with no frame back within pongTimeout the connection is taken as
    /// dead and closed with 3002 (idle_timeout), then reconnected. A `ping` of 0 disables it.
    std::chrono::milliseconds pongTimeout{5'000};
    /// publish(), request() and ping() called while Connecting or Reconnecting wait for the
    /// connection (sent right after the welcome and the resubscribes, in call order), bounded by
    /// their own timeout counted from the call: ackTimeout, the request's timeout (default
    /// replyTimeout), the ping's (default pongTimeout). At most waitQueueLimit calls wait; more
    /// fail with NotConnected. With failFast they fail with NotConnected at once instead.
    /// Before connect() and after close() (or a close the session does not reconnect from)
    /// nothing is coming, so calls fail with NotConnected either way.
    bool failFast = false;
    std::size_t waitQueueLimit = 1000;
    /// What the session does, one line each: Info for connection attempts, welcomes, closes
    /// (with the reconnect delay) and URL moves; Warning for every error event, refused
    /// subscriptions and incomplete recoveries; Debug for each subscribe and its answer.
    Logger logger;
};

/// A message or lifecycle event delivered to listeners.
struct ClientEvent {
    std::string_view key;       ///< "channel.event", or "session.started" / "error" / "close"
    std::string_view channel;   ///< empty for lifecycle events
    std::string_view event;
    const boost::json::value &data;
    std::uint64_t offset = 0;
    std::int64_t timestampMs = 0;
    std::string_view sender{};
    bool binary = false;
    std::string_view binaryData{};
    /// Set on a message whose publisher asked for a reply (ClientSession::publishForReply): the
    /// opaque token to answer it with ClientSession::reply(). Empty otherwise.
    std::string_view replyTo{};
    /// The channel's newest publication sent for a subscribe with SubscribeOptions::latest,
    /// not a live one (it may be older than the subscribe).
    bool latest = false;
    bool canReply() const { return !replyTo.empty(); }
};
using ClientListener = std::function<void(const ClientEvent &)>;

/// Scoped registration: destroying (or reset()) removes the listener; it never runs after.
class [[nodiscard]] ListenerHandle {
public:
    ListenerHandle() = default;
    explicit ListenerHandle(std::function<void()> remove) : m_remove(std::move(remove)) {}
    ListenerHandle(ListenerHandle &&o) noexcept : m_remove(std::move(o.m_remove)) { o.m_remove = nullptr; }
    ListenerHandle &operator=(ListenerHandle &&o) noexcept
    {
        if (this != &o) { reset(); m_remove = std::move(o.m_remove); o.m_remove = nullptr; }
        return *this;
    }
    ~ListenerHandle() { reset(); }
    void reset() { if (auto r = std::move(m_remove)) { m_remove = nullptr; r(); } }
    /// Keeps the listener for the session's lifetime.
    void release() { m_remove = nullptr; }
    bool active() const { return static_cast<bool>(m_remove); }

private:
    std::function<void()> m_remove;
};

struct SubscribeOptions {
    std::string auth;
    std::string channelData; ///< presence: JSON text {"user_id":..,"user_info":..}
    /// Resubscribe with the last seen position after reconnect. Only a position with an epoch
    /// is sent: on a channel that keeps no history (empty epoch) nothing can be recovered.
    bool recover = true;
    /// Ask for the channel's newest publication: it arrives as a message (ClientEvent::latest)
    /// right after the subscribe is confirmed, so a live value shows at once instead of at the
    /// next publication. Also on a resubscribe that does not recover (no position yet, or
    /// `recover` off); a recovering one replays up to the newest publication anyway. Needs a
    /// channel that keeps history (docs/protocol.md, "Latest value").
    bool latest = false;
    /// Asked for a fresh `auth` when the server says this subscription's authorization is about
    /// to expire (`expiring` with the channel): the session sends it in `refresh` and keeps it for
    /// later resubscribes. Without one the session sends `auth` again (an authorizer that decides
    /// by the user's current rights, such as a subscribe proxy, needs nothing new). Call
    /// `deliver` now or later.
    std::function<void(std::function<void(std::string auth)> deliver)> authProvider;
};

/// Client-side state of one channel. Owned by ClientSession; valid until unsubscribe(), the
/// server's unsubscribe (onServerSubscription) or the session's destruction. Observers are notified through the ClientSession's listener for
/// "channel.**" and through onStateChanged / onPresenceChanged.
class ClientChannel {
public:
    virtual ~ClientChannel() = default;
    virtual const std::string &name() const = 0;
    virtual bool subscribed() const = 0;
    /// The last resubscribe recovered every gap; false after a first subscribe, after a failed
    /// recovery, and always on a channel that keeps no history.
    virtual bool recovered() const = 0;
    virtual StreamPosition position() const = 0;  ///< last offset seen and epoch
    virtual std::error_code lastError() const = 0;
    virtual const std::vector<Member> &members() const = 0; ///< presence roster
    [[nodiscard]] virtual ListenerHandle onStateChanged(std::function<void()> fn) = 0;
    /// kind: "subscription_succeeded", "member_added", "member_removed"
    [[nodiscard]] virtual ListenerHandle onPresenceChanged(std::function<void(std::string_view kind, const Member &)> fn) = 0;
};

struct AckInfo {
    std::uint64_t offset = 0;
};

/// What publishForReply() completes with: the first subscriber's reply to the publication.
/// Valid only during the callback (copy what you keep).
struct PublishReply {
    /// The publication's offset from its ack; 0 on a channel without history, on an error, or
    /// when the reply overtook the ack (they travel different paths).
    std::uint64_t offset = 0;
    const boost::json::value &payload; ///< the reply's payload; null on an error
    std::string_view from;             ///< the replying session's id; empty on an error
};

/// Options of publish() and publishForReply().
struct PublishOptions {
    bool skipSelf = false; ///< the publisher does not receive its own message
    bool compress = false; ///< see publish()
    /// publishForReply(): bounds the whole wait, ack and reply together, counted from the call
    /// (also while waiting for the connection). Default: ClientOptions::replyTimeout.
    /// publish(): ignored (ClientOptions::ackTimeout bounds the ack).
    std::optional<std::chrono::milliseconds> timeout;
    /// The publish's `idempotencyKey` (docs/protocol.md "Idempotent publish"): 1 to 64
    /// printable ASCII characters without space, unique per publication of this user on this
    /// channel (another refuses the call with BadRequest). Empty: publish() with an `ack` draws
    /// a random one (128 bits); publishForReply() sends none.
    std::string idempotencyKey;
};

/// Async token source called before every (re)connect; call `deliver` with the token (possibly
/// later). An empty token connects anonymously.
using TokenProvider = std::function<void(std::function<void(std::string token)> deliver)>;

/// Thread safety: none; use from the thread that runs the Executor and Timer callbacks.
/// Callbacks (listeners, acks, replies) run on that thread and may call back into the session
/// (subscribe, publish, close); they may not destroy the session.
class ClientSession : private ClientTransportListener {
public:
    ClientSession(ClientTransport &transport, Executor &executor, Timer &timer, ClientOptions options = {});
    ~ClientSession() override;

    void setTokenProvider(TokenProvider provider);
    /// Asks the token provider for a fresh token and sends it (`refresh`) on the open
    /// connection, which then lives until the new token's expiry without reconnecting. The
    /// session does this by itself when the server says the token is about to expire
    /// (`expiring`); a refused refresh raises an `error` event (the server closes 3004 at the old
    /// expiry, and the session reconnects with a token from the provider). Nothing happens
    /// when not connected or without a provider.
    void refreshToken();
    /// ClientOptions::failFast and waitQueueLimit, for the calls made from now on (calls
    /// already waiting keep waiting).
    void setFailFast(bool failFast);
    /// Replaces ClientOptions::logger.
    void setLogger(Logger logger);
    void setWaitQueueLimit(std::size_t limit);
    /// ClientOptions::encoding, offered from the next connection attempt on.
    void setEncoding(WireEncoding encoding);
    /// The encoding of the open connection: Binary once the server agreed to it (from the
    /// transport's open until its close), Json otherwise.
    WireEncoding wireEncoding() const;
    /// Same as setUrls({url}).
    void setUrl(std::string url);
    /// Replaces the endpoint list (an empty list counts as {""}). A list equal to the current
    /// one changes nothing; another one makes its first URL current at once, for the next
    /// connection attempt (an open connection is kept).
    void setUrls(std::vector<std::string> urls);
    const std::vector<std::string> &urls() const;
    /// The endpoint in use: the URL of the open connection or attempt, or of the next attempt
    /// while waiting to reconnect (failover moves it as soon as a connection fails).
    const std::string &currentUrl() const;
    /// Called with currentUrl() whenever it changes: on failover (before the attempt on the new
    /// endpoint opens) and on setUrls(). May call back into the session.
    [[nodiscard]] ListenerHandle onUrlChanged(std::function<void(const std::string &url)> fn);
    /// Subscriptions the server made or ended (Hub::subscribeSession / subscribeUser, the
    /// gateway's /api/subscribe): `subscribed` true once the session holds a channel it did not
    /// ask for (created like one from subscribe(), already subscribed, owned by the session and
    /// from then on the client's own: resubscribed with recovery after reconnects until either
    /// side unsubscribes); false when the server ended one: the channel is no longer in the
    /// session and `channel` is destroyed when the call returns.
    [[nodiscard]] ListenerHandle onServerSubscription(std::function<void(ClientChannel &channel, bool subscribed)> fn);
    void connect();
    /// Closes for good (no reconnect); pending acks/replies fail with Error::Cancelled, from the
    /// Executor (never inside close()). Channels are kept for a later connect().
    void close();

    ClientState state() const;
    const std::string &sessionId() const;
    const std::string &userId() const;
    std::error_code lastError() const;
    [[nodiscard]] ListenerHandle onStateChanged(std::function<void(ClientState)> fn);

    /// Subscribes now if connected, else when connected; resubscribes after reconnect. On each
    /// connection the first channels' `subscribe` frames (up to kPipelinedSubscribes, with at
    /// most kPipelinedSubscribeBytes of names, auth and channel data) go right behind `connect`,
    /// without waiting for `welcome`: the server handles them right after it, so they are ready
    /// one round trip sooner; the others go at welcome. Their answer may take ackTimeout plus
    /// connectTimeout. One the server refuses for arriving before welcome (429, more than it
    /// keeps while authenticating) is sent again at welcome, with no error.
    ClientChannel &subscribe(const std::string &channel, SubscribeOptions options = {});
    void unsubscribe(const std::string &channel);
    ClientChannel *channel(std::string_view name) const;

    /// Publishes `jsonData` (JSON text). `ack` (optional) is the gateway's ack (WaitForAck):
    /// called once with the stored offset, or an error (Timeout after ackTimeout, the server's
    /// refusal, NotConnected when the connection is lost after it was sent). While Connecting
    /// or Reconnecting it waits for the connection (ClientOptions::failFast, waitQueueLimit);
    /// when it expires unsent without an `ack` callback, an `error` event names the channel.
    /// Every failure is reported from the Executor or a timer, never inside the call.
    /// `compress`: subscribers whose connection negotiated permessage-deflate get it compressed
    /// (docs/protocol.md, publish).
    ///
    /// With an `ack` the publish carries an idempotency key (options.idempotencyKey, or a random
    /// one): when the connection is lost after the publish was sent and before its ack, the
    /// session sends it again once, with the same key, after the reconnect (after the
    /// resubscribes), and `ack` gets that answer, the original offset when the first one had
    /// arrived (the gateway does not deliver it twice within its idempotency window). A second
    /// loss, failFast, a full wait queue or a close() fail it as without a key (NotConnected).
    /// The retry waits for the connection and its ack for at most ackTimeout from the loss.
    void publish(std::string_view channel, std::string_view event, std::string_view jsonData,
                 std::function<void(std::error_code, AckInfo)> ack = {}, bool skipSelf = false,
                 bool compress = false);
    /// publish() with options (skipSelf, compress, idempotencyKey).
    void publish(std::string_view channel, std::string_view event, std::string_view jsonData,
                 std::function<void(std::error_code, AckInfo)> ack, const PublishOptions &options);
    /// Publishes with `wantReply` (publish + WaitForReply): subscribers see the message with a
    /// replyTo token and may answer it with reply(); `reply` is called once, with the first
    /// answer to reach the gateway (PublishReply), or an error: Timeout (no reply within
    /// options.timeout), the server's refusal of the publish (Forbidden, RateLimited: too many
    /// publications waiting for a reply, ...), NotConnected (not connected, or the connection
    /// was lost: a reply cannot follow the session to a new connection), Cancelled (close()).
    /// Waits for the connection like publish(). Failures are reported from the Executor or a
    /// timer, never inside the call. Counted by pendingOperations() until it completes.
    void publishForReply(std::string_view channel, std::string_view event, std::string_view jsonData,
                         std::function<void(std::error_code, const PublishReply &)> reply,
                         PublishOptions options = {});
    /// Answers a message that carried a replyTo token (ClientEvent::canReply()) with
    /// `jsonPayload` (JSON text). `done` (optional) is called once: success when the gateway
    /// handed the reply on (not a sign the publisher got it: a reply to an answered or expired
    /// publication is dropped silently), or an error: Timeout after ackTimeout, BadRequest (an
    /// empty or unreadable token, unreadable JSON; the gateway refuses a forged token the same
    /// way), NotConnected, Cancelled. Waits for the connection like publish(); the token stays
    /// valid across the replier's reconnects.
    void reply(std::string_view replyTo, std::string_view jsonPayload, std::function<void(std::error_code)> done = {});
    void reply(const ClientEvent &message, std::string_view jsonPayload, std::function<void(std::error_code)> done = {})
    {
        reply(message.replyTo, jsonPayload, std::move(done));
    }
    /// Waits for the next event matching `pattern` (as once() matches it: a channel.event
    /// pattern, or a lifecycle key such as "session.started"). `done` is called once: with the
    /// event (valid during the call), or with a null event and an error: Timeout when none came
    /// within `timeout`, BadRequest for an invalid pattern (from the Executor), Cancelled when
    /// the session is closed (close(), from the Executor; or a close it does not reconnect
    /// from, after that close's `error` and `close` events). Waits survive reconnects. On the
    /// session's destruction they are dropped without a call.
    void waitFor(std::string_view pattern, std::chrono::milliseconds timeout,
                 std::function<void(std::error_code, const ClientEvent *event)> done);
    /// Server-handler request (WaitForReply). `reply` is called once with the reply payload, or
    /// an error: Timeout, an error reply (code = its status; `reply` is its payload
    /// {message, status, trace}), NotConnected (not connected, or the connection was lost), Cancelled.
    /// Waits for the connection like publish(); the wait counts against `timeout`.
    void request(std::string_view topic, std::string_view jsonPayload,
                 std::function<void(std::error_code, const boost::json::value &reply)> reply,
                 std::optional<std::chrono::milliseconds> timeout = {});

    /// Measures a round trip to the gateway: sends `ping` with an ackId of its own and calls
    /// `done` (optional) once, with the time until the `pong` echoing that ackId, or an error with
    /// a zero duration: Timeout (no matching pong within `timeout`, default pongTimeout),
    /// NotConnected (from the Executor, never inside the call: not opened, closed, over the
    /// wait queue limit or failFast; or the connection was lost meanwhile), Cancelled (close(),
    /// from the Executor). While Connecting or Reconnecting a ping with a callback waits for the
    /// connection like publish(); without one nothing is sent. The time is taken on
    /// Timer::nowPrecise(), so its resolution is the Timer's (whole milliseconds with a Timer
    /// that does not override it). A pong is queued behind whatever the gateway already sends
    /// this client, so under load the figure includes that queue. Pings are not counted by
    /// pendingOperations().
    void ping(std::function<void(std::error_code, std::chrono::microseconds rtt)> done = {},
              std::optional<std::chrono::milliseconds> timeout = {});
    /// The last round trip measured: by ping(), or by a heartbeat ping (which carries an ackId
    /// too). Empty before the first answer; not reset by reconnects.
    std::optional<std::chrono::microseconds> lastRoundTrip() const;

    /// Listeners on "channel.event" keys: patterns split on '.', '*' = one segment,
    /// '**' = one or more trailing segments (last position only). Lifecycle keys
    /// ("session.started", "error", "close") match only a listener on exactly that key. An
    /// invalid pattern registers nothing (inactive handle). See docs/client.md.
    [[nodiscard]] ListenerHandle on(std::string_view pattern, ClientListener listener);
    [[nodiscard]] ListenerHandle once(std::string_view pattern, ClientListener listener);

    std::size_t pendingOperations() const; ///< acks and replies still waited for (not subscribes, not waitFor)
    /// Publishes sent again after a reconnect, their ack lost with the connection (publish()).
    std::uint64_t publishRetries() const;
    std::size_t waitingCalls() const;      ///< publish, request and ping calls waiting for the connection

private:
    void onTransportOpen() override;
    void onTransportMessage(std::string_view bytes, bool binary) override;
    void onTransportClosed(std::uint16_t code, std::string_view reason) override;
    struct Impl;
    std::unique_ptr<Impl> d;
};

} // namespace switchboard
