#pragma once
// Gateway: an in-process Switchboard server (core Hub + ServerProtocol + QtWebSocketGateway).

#include <switchboard/qt/ChannelListModel.h>

#include <QObject>
#include <QQmlParserStatus>
#include <QStringList>
#include <QVariant>
#include <QtQml/qqmlregistration.h>

#include <functional>
#include <memory>

namespace switchboard {
class Hub;
class PusherProtocol;
class ServerProtocol;
struct AuthDecision;
struct AuthRequest;
struct ConnectDecision;
namespace qtws {
class QtEngine;
class QtWebSocketGateway;
}
}

namespace switchboard::qt {

/// QML:
/// \code
/// Gateway { port: 8080; running: true
///           tokens: ({ "secret-a": { user: "alice", channels: ["presence-room"] } }) }
/// \endcode
/// Configuration properties (outbox limits, policy, clientPublish) apply when the Hub is created,
/// at the first start; the Hub and its history live as long as the Gateway, so a stop/start keeps
/// channel history (clients recover what was published while stopped). A restart reuses the port
/// of the previous run when `port` is 0.
///
/// Engine: `engine` "memory" (default) keeps channels and history in this process; a Redis URL
/// ("redis://HOST:PORT[/DB]") puts them on Redis, shared with every other gateway (Qt or
/// switchboard-gateway) on the same Redis and `enginePrefix`. Like the other configuration
/// properties it applies at the first start; an engine this build cannot run (no hiredis) or a
/// bad URL makes start() fail with errorString set. While Redis is unreachable the Gateway keeps
/// running, `engineAvailable` is false and publishes are refused (error 503 to clients).
/// Presence stays per process for now (see docs/scaling.md).
///
/// Authorization: with `authorizer` (C++) set, it decides private and presence joins. Otherwise
/// the token table decides: a connect token listed in `tokens` gives the user id, presence info
/// and the channel filters (Topic filters, `*` and `**` allowed) the connection may join; unknown
/// tokens are refused (close 3501); no token connects anonymously when allowAnonymous is true.
///
/// Pusher Channels: with `pusherApps` (a list of {id, key, secret}, as in a Pusher dashboard) the
/// Gateway also serves pusher-js and laravel-echo on `ws://host:port/app/KEY?protocol=7`, on the
/// same Hub (docs/pusher.md: channel `C` of app `ID` is native channel `pusher/ID/C`). Private
/// and presence subscriptions are checked against the app's secret, which the application's
/// auth endpoint signs with (switchboard/qtws/QtPusherAuth.h); the authorizer and tokens above are
/// not asked for Pusher connections. Applied at the first start like the other configuration;
/// an invalid entry makes start() fail with errorString set.
///
/// Lifecycle signals: clientConnected / clientDisconnected (a connection's `connect` was accepted /
/// it ended, with the WebSocket close code that ended it: the server's, the client's, 1006 when
/// the socket dropped without one), channelOccupied / channelVacated (first subscriber on this
/// gateway / last one left) and memberAdded / memberRemoved (a user's first connection to a
/// presence channel / its last one left). They are queued: they arrive from the event loop
/// after the change, never from inside the Hub, so a handler may do anything (publish, stop).
///
/// Thread safety: GUI thread (or any thread with an event loop) only.
class Gateway : public QObject, public QQmlParserStatus
{
    Q_OBJECT
    Q_INTERFACES(QQmlParserStatus)
    QML_ELEMENT
    Q_PROPERTY(QString host READ host WRITE setHost NOTIFY hostChanged)
    Q_PROPERTY(int port READ port WRITE setPort NOTIFY portChanged)
    Q_PROPERTY(bool running READ running WRITE setRunning NOTIFY runningChanged)
    Q_PROPERTY(QString url READ url NOTIFY portChanged)
    Q_PROPERTY(int clientCount READ clientCount NOTIFY clientCountChanged)
    Q_PROPERTY(switchboard::qt::ChannelListModel *channels READ channels CONSTANT)
    Q_PROPERTY(qint64 framesIn READ framesIn NOTIFY countersChanged)
    Q_PROPERTY(qint64 framesOut READ framesOut NOTIFY countersChanged)
    Q_PROPERTY(qint64 drops READ drops NOTIFY countersChanged)
    /// Pending frames replaced by a newer frame of their key (latest-only channel policies).
    Q_PROPERTY(qint64 conflated READ conflated NOTIFY countersChanged)
    Q_PROPERTY(qint64 slowDisconnects READ slowDisconnects NOTIFY countersChanged)
    /// Replies between clients delivered to their publisher on this node, and dropped here
    /// (every reason: HubCounters::repliesDropped*).
    Q_PROPERTY(qint64 repliesDelivered READ repliesDelivered NOTIFY countersChanged)
    Q_PROPERTY(qint64 repliesDropped READ repliesDropped NOTIFY countersChanged)
    Q_PROPERTY(QVariantMap tokens READ tokens WRITE setTokens NOTIFY tokensChanged)
    Q_PROPERTY(bool allowAnonymous READ allowAnonymous WRITE setAllowAnonymous NOTIFY tokensChanged)
    Q_PROPERTY(QStringList allowedOrigins READ allowedOrigins WRITE setAllowedOrigins NOTIFY configChanged)
    Q_PROPERTY(SlowConsumerPolicy slowConsumerPolicy READ slowConsumerPolicy WRITE setSlowConsumerPolicy NOTIFY configChanged)
    /// Slow-consumer policy per channel-name prefix, as switchboard-gateway's --channel-policy:
    /// "PREFIX=POLICY" entries, the longest prefix winning, POLICY one of drop-newest,
    /// drop-oldest, latest-only, latest-only:FIELD, disconnect (HubOptions::channelPolicies).
    /// Applied at the first start; an invalid entry makes start() fail with errorString set.
    Q_PROPERTY(QStringList channelPolicies READ channelPolicies WRITE setChannelPolicies NOTIFY configChanged)
    Q_PROPERTY(ClientPublish clientPublish READ clientPublish WRITE setClientPublish NOTIFY configChanged)
    Q_PROPERTY(int maxOutboxFrames READ maxOutboxFrames WRITE setMaxOutboxFrames NOTIFY configChanged)
    Q_PROPERTY(int maxOutboxBytes READ maxOutboxBytes WRITE setMaxOutboxBytes NOTIFY configChanged)
    Q_PROPERTY(int maxConnections READ maxConnections WRITE setMaxConnections NOTIFY configChanged)
    Q_PROPERTY(int pingInterval READ pingInterval WRITE setPingInterval NOTIFY configChanged)
    Q_PROPERTY(int idleTimeout READ idleTimeout WRITE setIdleTimeout NOTIFY configChanged)
    Q_PROPERTY(int authorizationTimeout READ authorizationTimeout WRITE setAuthorizationTimeout NOTIFY configChanged)
    Q_PROPERTY(int idempotencyWindow READ idempotencyWindow WRITE setIdempotencyWindow NOTIFY configChanged)
    Q_PROPERTY(int statsInterval READ statsInterval WRITE setStatsInterval NOTIFY configChanged)
    Q_PROPERTY(QString engine READ engine WRITE setEngine NOTIFY configChanged)
    Q_PROPERTY(QString enginePrefix READ enginePrefix WRITE setEnginePrefix NOTIFY configChanged)
    Q_PROPERTY(bool engineAvailable READ engineAvailable NOTIFY countersChanged)
    Q_PROPERTY(QString errorString READ errorString NOTIFY runningChanged)
    /// [{id, key, secret}, ...]: ids and keys 1-64 of `A-Z a-z 0-9 _ - .`, unique; secret not empty.
    Q_PROPERTY(QVariantList pusherApps READ pusherApps WRITE setPusherApps NOTIFY configChanged)
    /// Seconds advertised to Pusher clients as activity_timeout (default 120); first start.
    Q_PROPERTY(int pusherActivityTimeout READ pusherActivityTimeout WRITE setPusherActivityTimeout NOTIFY configChanged)
    /// Open connections on the Pusher endpoint (included in clientCount).
    Q_PROPERTY(int pusherClientCount READ pusherClientCount NOTIFY clientCountChanged)

public:
    enum SlowConsumerPolicy { DropMessage, DisconnectClient };
    Q_ENUM(SlowConsumerPolicy)
    enum ClientPublish { Never, SubscribedOnly, Always };
    Q_ENUM(ClientPublish)

    using Authorizer = std::function<AuthDecision(const AuthRequest &)>;
    /// switchboard::AsyncAuthorizer (Authorizer.h), spelled out to keep core headers out of this one.
    using AsyncAuthorizer = std::function<void(const AuthRequest &, std::function<void(AuthDecision)>)>;
    using ConnectAuthenticator = std::function<ConnectDecision(std::string_view token)>;

    explicit Gateway(QObject *parent = nullptr);
    ~Gateway() override;

    QString host() const;
    void setHost(const QString &host);
    int port() const;           ///< the listening port while running (OS-chosen when set to 0)
    void setPort(int port);
    bool running() const;
    void setRunning(bool running);
    QString url() const;        ///< ws://host:port/ws while running, else empty
    int clientCount() const;
    /// Every channel with subscribers on this Gateway, and on the memory engine also every
    /// channel that only holds history (0 subscribers) until its TTL; refreshed every
    /// statsInterval ms. On Redis: this Gateway's channels with local subscribers only.
    ChannelListModel *channels() const;
    qint64 framesIn() const;
    qint64 framesOut() const;
    qint64 drops() const;
    qint64 conflated() const;
    qint64 slowDisconnects() const;
    qint64 repliesDelivered() const;
    qint64 repliesDropped() const;
    QVariantMap tokens() const;
    void setTokens(const QVariantMap &tokens);
    bool allowAnonymous() const;
    void setAllowAnonymous(bool allow);
    QStringList allowedOrigins() const;
    void setAllowedOrigins(const QStringList &origins);
    QStringList channelPolicies() const;
    void setChannelPolicies(const QStringList &rules);
    SlowConsumerPolicy slowConsumerPolicy() const;
    void setSlowConsumerPolicy(SlowConsumerPolicy policy);
    ClientPublish clientPublish() const;
    void setClientPublish(ClientPublish policy);
    int maxOutboxFrames() const;
    void setMaxOutboxFrames(int frames);
    int maxOutboxBytes() const;
    void setMaxOutboxBytes(int bytes);
    int maxConnections() const;
    void setMaxConnections(int connections);
    int pingInterval() const;
    void setPingInterval(int ms);
    int idleTimeout() const;
    void setIdleTimeout(int ms);
    /// ms a private/presence join may wait for the (async) authorizer before it is refused 504;
    /// 0: no deadline. Default 10000 (HubOptions::authorizationTimeout); applied at the first start.
    int authorizationTimeout() const;
    void setAuthorizationTimeout(int ms);
    /// ms a publish's idempotencyKey is remembered: a repeat within it gets the original ack
    /// and is not delivered again (docs/protocol.md); 0: keys ignored. Default 300000; applied
    /// at the first start.
    int idempotencyWindow() const;
    void setIdempotencyWindow(int ms);
    int statsInterval() const;
    void setStatsInterval(int ms);
    QString engine() const;         ///< "memory" (default) or redis://HOST:PORT[/DB]
    void setEngine(const QString &engine);
    QString enginePrefix() const;   ///< Redis key prefix, "switchboard:" by default
    void setEnginePrefix(const QString &prefix);
    bool engineAvailable() const;   ///< false before the first start and while Redis is unreachable
    QString errorString() const;
    QVariantList pusherApps() const;
    void setPusherApps(const QVariantList &apps);
    int pusherActivityTimeout() const;
    void setPusherActivityTimeout(int seconds);
    int pusherClientCount() const;

    /// C++ hooks; set before start() to be sure they see every connection.
    void setAuthorizer(Authorizer authorizer);
    /// Like setAuthorizer(), but may answer later (a database, a network call) through the
    /// AuthAnswer, on this thread; the Gateway serves everyone else meanwhile (see
    /// switchboard/Authorizer.h). Replaces setAuthorizer()'s authorizer and vice versa.
    void setAsyncAuthorizer(AsyncAuthorizer authorizer);
    void setConnectAuthenticator(ConnectAuthenticator authenticator);
    /// The core objects (created by the first start(); null before). Valid until destruction.
    Hub *hub() const;
    ServerProtocol *protocol() const;
    qtws::QtWebSocketGateway *transport() const;
    /// The Pusher protocol (created by the first start() when pusherApps is not empty; else null).
    PusherProtocol *pusher() const;
    /// The Broker and PresenceStore the Hub runs on (engine figures, availability).
    qtws::QtEngine *qtEngine() const;

    Q_INVOKABLE bool start();
    /// Closes every connection with 3000 (clients reconnect) and stops listening.
    Q_INVOKABLE void stop();
    /// Publishes from the server (sender empty) to every subscriber of `channel`.
    Q_INVOKABLE void publish(const QString &channel, const QString &event, const QVariant &payload);
    /// Server-side subscriptions (see Hub::subscribeSession): the application puts a connection
    /// (`sessionId`, the `session` of its welcome, also in clientConnected) or every connection of
    /// `userId` on this Gateway into `channel`, or takes it out. No authorization is asked (the
    /// application decided); a presence member is the connection's user. The client is told with
    /// a `subscribed` / `unsubscribed` frame marked `"server": true`. Idempotent (already
    /// subscribed counts, not subscribed is 0). A user with no connection gives 0 and is not
    /// remembered for later ones; other gateways of a cluster are not affected.
    /// Returns the connections affected, or -1 when refused, with errorOccurred saying why:
    /// not started, stopped (shutting down, subscribes only), invalid channel name, unknown
    /// session, empty user id, the connection's channel limit.
    Q_INVOKABLE int subscribeSession(const QString &sessionId, const QString &channel);
    Q_INVOKABLE int subscribeUser(const QString &userId, const QString &channel);
    Q_INVOKABLE int unsubscribeSession(const QString &sessionId, const QString &channel);
    Q_INVOKABLE int unsubscribeUser(const QString &userId, const QString &channel);
    /// Updates `channels` and the counters now (otherwise every statsInterval ms).
    Q_INVOKABLE void refreshStats();

    void classBegin() override;
    void componentComplete() override;

Q_SIGNALS:
    void hostChanged();
    void portChanged();
    void runningChanged();
    void clientCountChanged();
    void countersChanged();
    void tokensChanged();
    void configChanged();
    void errorOccurred(const QString &message);
    void clientConnected(const QString &sessionId, const QString &userId);
    void clientDisconnected(const QString &sessionId, const QString &userId, int code);
    void channelOccupied(const QString &channel);
    void channelVacated(const QString &channel);
    /// `info`: the member's presence info (JSON object as a QVariantMap; invalid when none).
    void memberAdded(const QString &channel, const QString &userId, const QVariant &info);
    void memberRemoved(const QString &channel, const QString &userId);

private:
    bool ensureCore();
    void installLifecycleSignals();
    enum class SubscriptionChange { SubscribeSession, SubscribeUser, UnsubscribeSession, UnsubscribeUser };
    int changeSubscription(SubscriptionChange change, const QString &target, const QString &channel);
    struct Private;
    std::unique_ptr<Private> d;
};

} // namespace switchboard::qt
