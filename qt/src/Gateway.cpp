#include "switchboard/qt/Gateway.h"

#include "JsonVariant.h"

#include <switchboard/HistoryChannels.h>
#include <switchboard/Hub.h>
#include <switchboard/PusherProtocol.h>
#include <switchboard/ServerProtocol.h>
#include <switchboard/TokenAuthorizer.h>
#include <switchboard/qtws/QtEngine.h>
#include <switchboard/qtws/QtPusherAuth.h>
#include <switchboard/qtws/QtTimer.h>
#include <switchboard/qtws/QtWebSocketGateway.h>

#include <QElapsedTimer>
#include <QHash>
#include <QJSValue>
#include <QTimer>

#include <stdexcept>

namespace switchboard::qt {

struct Gateway::Private {
    // Destroyed bottom-up: the transport before the protocol before the Hub before its engine
    // before the timer.
    qtws::QtTimer timer;
    std::unique_ptr<qtws::QtEngine> engine;
    std::unique_ptr<Hub> hub;
    std::unique_ptr<ServerProtocol> protocol;
    std::unique_ptr<PusherProtocol> pusher;
    std::unique_ptr<qtws::QtWebSocketGateway> transport;

    ChannelListModel *channels = nullptr;
    QTimer stats;
    QElapsedTimer sinceStats;

    QString host = QStringLiteral("127.0.0.1");
    int port = 0;
    int lastPort = 0;
    bool running = false;
    QString error;
    QVariantMap tokens;
    QHash<QString, Principal> principals;
    bool allowAnonymous = true;
    QStringList allowedOrigins;
    SlowConsumerPolicy slowConsumer = DropMessage;
    QStringList channelPolicies; // "PREFIX=POLICY"
    ClientPublish clientPublish = SubscribedOnly;
    int maxOutboxFrames = int(OutboxLimits{}.maxFrames);
    int maxOutboxBytes = int(OutboxLimits{}.maxBytes);
    int maxConnections = qtws::QtGatewayOptions{}.maxConnections;
    int pingInterval = int(qtws::QtGatewayOptions{}.pingInterval.count());
    int idleTimeout = int(qtws::QtGatewayOptions{}.idleTimeout.count());
    int authorizationTimeout = int(HubOptions{}.authorizationTimeout.count());
    int statsInterval = 1000;
    QVariantList pusherApps;
    int pusherActivityTimeout = int(PusherOptions{}.activityTimeout.count());
    qtws::QtEngineOptions engineOptions;
    bool completing = false;   // QML: between classBegin and componentComplete
    bool startOnComplete = false;
    Authorizer authorizer;
    AsyncAuthorizer asyncAuthorizer;
    ConnectAuthenticator connectAuthenticator;

    qtws::QtGatewayOptions transportOptions() const
    {
        qtws::QtGatewayOptions o;
        if (host.isEmpty() || host == QLatin1String("localhost"))
            o.address = QHostAddress(QHostAddress::LocalHost);
        else if (host == QLatin1String("*") || host == QLatin1String("0.0.0.0"))
            o.address = QHostAddress(QHostAddress::Any);
        else
            o.address = QHostAddress(host);
        o.port = static_cast<quint16>(port != 0 ? port : lastPort);
        o.allowedOrigins = allowedOrigins;
        o.maxConnections = maxConnections;
        o.pingInterval = std::chrono::milliseconds(pingInterval);
        o.idleTimeout = std::chrono::milliseconds(idleTimeout);
        if (protocol)
            o.maxFrameBytes = static_cast<qint64>(protocol->options().limits.maxFrameBytes);
        return o;
    }

    /// `pusherApps` as core apps; false with `problem` when an entry is invalid.
    bool parsePusherApps(std::vector<PusherApp> &apps, QString &problem) const
    {
        const auto validName = [](const QString &name) {
            if (name.isEmpty() || name.size() > 64)
                return false;
            for (const QChar c : name) {
                const bool ok = (c >= u'a' && c <= u'z') || (c >= u'A' && c <= u'Z') || (c >= u'0' && c <= u'9')
                    || c == u'_' || c == u'-' || c == u'.';
                if (!ok)
                    return false;
            }
            return true;
        };
        for (const QVariant &entry : pusherApps) {
            const QVariantMap app = entry.toMap();
            const QString id = app.value(QStringLiteral("id")).toString();
            const QString key = app.value(QStringLiteral("key")).toString();
            const QString secret = app.value(QStringLiteral("secret")).toString();
            if (!validName(id) || !validName(key) || secret.isEmpty()) {
                problem = QStringLiteral("pusherApps: every entry needs an id and a key of 1-64 A-Z a-z 0-9 _ - . and a non-empty secret");
                return false;
            }
            for (const PusherApp &other : apps) {
                if (other.id == id.toStdString() || other.key == key.toStdString()) {
                    problem = QStringLiteral("pusherApps: ids and keys must be unique (%1 / %2)").arg(id, key);
                    return false;
                }
            }
            apps.push_back(PusherApp{id.toStdString(), key.toStdString(), secret.toStdString()});
        }
        return true;
    }

    ConnectDecision authenticate(std::string_view token) const
    {
        if (connectAuthenticator)
            return connectAuthenticator(token);
        ConnectDecision decision;
        if (token.empty()) {
            decision.accepted = allowAnonymous;
            if (!allowAnonymous)
                decision.reason = "a token is required";
            return decision;
        }
        const auto it = principals.constFind(detail::toQString(token));
        if (it == principals.cend()) {
            decision.accepted = false;
            decision.reason = "unknown token";
            return decision;
        }
        decision.principal = it.value();
        return decision;
    }

    void authorize(const AuthRequest &request, AuthAnswer answer) const
    {
        if (asyncAuthorizer)
            return asyncAuthorizer(request, std::move(answer));
        if (authorizer)
            return answer(authorizer(request));
        // The core's one token check: patterns, and a presence member is the token's user only.
        answer(authorizeByToken(request));
    }
};

Gateway::Gateway(QObject *parent) : QObject(parent), d(std::make_unique<Private>())
{
    d->channels = new ChannelListModel(this);
    connect(&d->stats, &QTimer::timeout, this, &Gateway::refreshStats);
}

Gateway::~Gateway()
{
    d->stats.stop();
    if (d->hub) { // closing the connections below must not reach this half-destroyed object
        d->hub->setLifecycleHooks({});
        d->hub->setPresenceHook({});
    }
    d->transport.reset();
}

bool Gateway::ensureCore()
{
    if (d->hub)
        return true;
    QString problem;
    std::vector<PusherApp> pusherApps;
    if (!d->parsePusherApps(pusherApps, problem)) {
        d->error = problem;
        Q_EMIT errorOccurred(d->error);
        return false;
    }
    std::vector<ChannelPolicyRule> channelPolicies;
    try {
        for (const QString &rule : d->channelPolicies)
            channelPolicies.push_back(parseChannelPolicyRule(rule.toStdString()));
    } catch (const std::invalid_argument &e) {
        d->error = QStringLiteral("channelPolicies: ") + QString::fromStdString(e.what());
        Q_EMIT errorOccurred(d->error);
        return false;
    }
    d->engine = qtws::QtEngine::create(d->timer, d->engineOptions, &problem);
    if (!d->engine) {
        d->error = problem;
        Q_EMIT errorOccurred(d->error);
        return false;
    }
    HubOptions hubOptions;
    hubOptions.channelPolicies = std::move(channelPolicies);
    hubOptions.outbox.maxFrames = static_cast<std::size_t>(std::max(1, d->maxOutboxFrames));
    hubOptions.outbox.maxBytes = static_cast<std::size_t>(std::max(1, d->maxOutboxBytes));
    hubOptions.slowConsumer = d->slowConsumer == DisconnectClient ? switchboard::SlowConsumerPolicy::DisconnectClient
                                                                  : switchboard::SlowConsumerPolicy::DropMessage;
    hubOptions.authorizationTimeout = std::chrono::milliseconds(std::max(0, d->authorizationTimeout));
    d->hub = std::make_unique<Hub>(d->timer, hubOptions, d->engine->broker(), d->engine->presence());
    d->hub->setAsyncAuthorizer(
        [this](const AuthRequest &request, AuthAnswer answer) { d->authorize(request, std::move(answer)); });
    installLifecycleSignals();

    ServerProtocolOptions protocolOptions;
    protocolOptions.clientPublish = static_cast<switchboard::ClientPublishPolicy>(d->clientPublish);
    protocolOptions.limits.pingInterval = std::chrono::milliseconds(d->pingInterval);
    d->protocol = std::make_unique<ServerProtocol>(*d->hub, d->timer, protocolOptions);
    d->protocol->setConnectAuthenticator([this](std::string_view token) { return d->authenticate(token); });

    d->transport = std::make_unique<qtws::QtWebSocketGateway>(*d->hub, *d->protocol, d->transportOptions());
    if (!pusherApps.empty()) {
        PusherOptions pusherOptions;
        pusherOptions.activityTimeout = std::chrono::seconds(std::max(1, d->pusherActivityTimeout));
        d->pusher = std::make_unique<PusherProtocol>(*d->hub, d->timer, std::move(pusherApps), qtws::qtHmacSha256(), pusherOptions);
        d->transport->setPusherProtocol(d->pusher.get());
    }
    connect(d->transport.get(), &qtws::QtWebSocketGateway::connectionCountChanged, this,
            [this] { Q_EMIT clientCountChanged(); });
    d->engine->start();
    return true;
}

void Gateway::installLifecycleSignals()
{
    // Queued: QML handlers run from the event loop, never inside a Hub operation.
    const auto later = [this](auto emitter) { QMetaObject::invokeMethod(this, std::move(emitter), Qt::QueuedConnection); };
    using detail::toQString;
    LifecycleHooks hooks;
    hooks.connected = [this, later](const SessionConnected &e) {
        later([this, id = toQString(e.sessionId), user = toQString(e.userId)] { Q_EMIT clientConnected(id, user); });
    };
    hooks.disconnected = [this, later](const SessionDisconnected &e) {
        later([this, id = toQString(e.sessionId), user = toQString(e.userId), code = int(e.code)] {
            Q_EMIT clientDisconnected(id, user, code);
        });
    };
    hooks.channelOccupied = [this, later](std::string_view channel) {
        later([this, name = toQString(channel)] { Q_EMIT channelOccupied(name); });
    };
    hooks.channelVacated = [this, later](std::string_view channel) {
        later([this, name = toQString(channel)] { Q_EMIT channelVacated(name); });
    };
    d->hub->setLifecycleHooks(std::move(hooks));
    d->hub->setPresenceHook([this, later](const PresenceEvent &e) {
        const QString channel = toQString(e.channel);
        const QString user = toQString(e.member.userId);
        if (e.kind == PresenceEvent::Kind::Joined) {
            const QVariant info = detail::jsonTextToVariant(e.member.info);
            later([this, channel, user, info] { Q_EMIT memberAdded(channel, user, info); });
        } else {
            later([this, channel, user] { Q_EMIT memberRemoved(channel, user); });
        }
    });
}

bool Gateway::start()
{
    if (d->running)
        return true;
    if (!ensureCore()) {
        Q_EMIT runningChanged();
        return false;
    }
    d->transport->setOptions(d->transportOptions());
    if (!d->transport->listen()) {
        d->error = d->transport->errorString();
        Q_EMIT errorOccurred(d->error);
        Q_EMIT runningChanged();
        return false;
    }
    d->error.clear();
    d->running = true;
    d->lastPort = d->transport->serverPort();
    d->sinceStats.start();
    if (d->statsInterval > 0)
        d->stats.start(d->statsInterval);
    Q_EMIT portChanged();
    Q_EMIT runningChanged();
    return true;
}

void Gateway::stop()
{
    if (!d->running)
        return;
    d->transport->close(DisconnectCode::Shutdown, QStringLiteral("gateway stopped"));
    d->running = false;
    d->stats.stop();
    Q_EMIT runningChanged();
    Q_EMIT portChanged();
}

void Gateway::publish(const QString &channel, const QString &event, const QVariant &payload)
{
    if (!ensureCore())
        return;
    Publication publication;
    publication.channel = channel.toStdString();
    publication.event = event.toStdString();
    publication.data = detail::variantToJsonText(payload);
    publication.timestampMs = d->timer.wallClockMs();
    d->hub->publish(std::move(publication), [this](std::error_code error, StreamPosition) {
        if (error)
            Q_EMIT errorOccurred(QString::fromStdString(error.message()));
    });
}

int Gateway::subscribeSession(const QString &sessionId, const QString &channel)
{
    return changeSubscription(SubscriptionChange::SubscribeSession, sessionId, channel);
}

int Gateway::subscribeUser(const QString &userId, const QString &channel)
{
    return changeSubscription(SubscriptionChange::SubscribeUser, userId, channel);
}

int Gateway::unsubscribeSession(const QString &sessionId, const QString &channel)
{
    return changeSubscription(SubscriptionChange::UnsubscribeSession, sessionId, channel);
}

int Gateway::unsubscribeUser(const QString &userId, const QString &channel)
{
    return changeSubscription(SubscriptionChange::UnsubscribeUser, userId, channel);
}

int Gateway::changeSubscription(SubscriptionChange change, const QString &target, const QString &channel)
{
    if (!d->hub) {
        Q_EMIT errorOccurred(QStringLiteral("server-side subscription refused: the gateway was never started"));
        return -1;
    }
    const std::string id = target.toStdString();
    const std::string name = channel.toStdString();
    ServerSubscriptionResult result;
    switch (change) {
    case SubscriptionChange::SubscribeSession: result = d->hub->subscribeSession(id, name); break;
    case SubscriptionChange::SubscribeUser: result = d->hub->subscribeUser(id, name); break;
    case SubscriptionChange::UnsubscribeSession: result = d->hub->unsubscribeSession(id, name); break;
    case SubscriptionChange::UnsubscribeUser: result = d->hub->unsubscribeUser(id, name); break;
    }
    if (result.error) {
        QString why;
        if (result.error == make_error_code(Error::NotFound))
            why = QStringLiteral("no session %1").arg(target);
        else if (result.error == make_error_code(Error::InvalidName))
            why = QStringLiteral("invalid channel name '%1'").arg(channel);
        else if (result.error == make_error_code(Error::Closed))
            why = QStringLiteral("the gateway is stopped");
        else if (result.error == make_error_code(Error::BadRequest))
            why = QStringLiteral("empty user id");
        else
            why = QString::fromStdString(result.error.message());
        Q_EMIT errorOccurred(QStringLiteral("server-side subscription refused: ") + why);
        return -1;
    }
    return int(result.sessions);
}

void Gateway::classBegin()
{
    d->completing = true;
}

void Gateway::componentComplete()
{
    d->completing = false;
    if (d->startOnComplete)
        start();
}

void Gateway::refreshStats()
{
    if (!d->hub)
        return;
    const qint64 elapsed = d->sinceStats.isValid() ? d->sinceStats.restart() : 0;
    // Channels with subscribers, and those that only hold history (0 subscribers; memory engine).
    std::vector<ChannelStats> stats = d->hub->channels();
    if (d->engine)
        addHistoryOnlyChannels(stats, d->engine->channelsWithHistory());
    d->channels->refresh(std::move(stats), elapsed);
    Q_EMIT countersChanged();
}

QString Gateway::host() const { return d->host; }
void Gateway::setHost(const QString &host)
{
    if (host == d->host)
        return;
    d->host = host;
    Q_EMIT hostChanged();
}

int Gateway::port() const
{
    if (d->running && d->transport)
        return d->transport->serverPort();
    return d->port;
}

void Gateway::setPort(int port)
{
    if (port == d->port)
        return;
    d->port = port;
    d->lastPort = 0;
    Q_EMIT portChanged();
}

bool Gateway::running() const { return d->running; }
void Gateway::setRunning(bool running)
{
    if (d->completing) { // start once every property of the QML declaration is set
        d->startOnComplete = running;
        return;
    }
    if (running)
        start();
    else
        stop();
}

QString Gateway::url() const
{
    if (!d->running || !d->transport)
        return {};
    QString host = d->transport->serverAddress().toString();
    if (d->transport->serverAddress() == QHostAddress(QHostAddress::Any)
        || d->transport->serverAddress() == QHostAddress(QHostAddress::AnyIPv6))
        host = QStringLiteral("127.0.0.1");
    if (host.contains(QLatin1Char(':')))
        host = QLatin1Char('[') + host + QLatin1Char(']');
    return QStringLiteral("ws://%1:%2/ws").arg(host).arg(d->transport->serverPort());
}

int Gateway::clientCount() const { return d->transport ? d->transport->connectionCount() : 0; }
ChannelListModel *Gateway::channels() const { return d->channels; }
qint64 Gateway::framesIn() const { return d->hub ? qint64(d->hub->counters().framesIn) : 0; }
qint64 Gateway::framesOut() const { return d->hub ? qint64(d->hub->counters().framesOut) : 0; }
qint64 Gateway::drops() const { return d->hub ? qint64(d->hub->counters().drops) : 0; }
qint64 Gateway::conflated() const { return d->hub ? qint64(d->hub->counters().conflated) : 0; }
qint64 Gateway::slowDisconnects() const { return d->hub ? qint64(d->hub->counters().slowDisconnects) : 0; }
qint64 Gateway::repliesDelivered() const { return d->hub ? qint64(d->hub->counters().repliesDelivered) : 0; }
qint64 Gateway::repliesDropped() const
{
    if (!d->hub)
        return 0;
    const HubCounters c = d->hub->counters();
    return qint64(c.repliesDroppedUnknown + c.repliesDroppedExpired + c.repliesDroppedAnswered + c.repliesDroppedGone
                  + c.repliesDroppedUnroutable);
}

QVariantMap Gateway::tokens() const { return d->tokens; }
void Gateway::setTokens(const QVariantMap &tokens)
{
    d->tokens = tokens;
    d->principals.clear();
    for (auto it = tokens.begin(); it != tokens.end(); ++it) {
        QVariant entryValue = it.value();
        if (entryValue.metaType() == QMetaType::fromType<QJSValue>())
            entryValue = entryValue.value<QJSValue>().toVariant();
        const QVariantMap entry = entryValue.toMap();
        Principal principal;
        principal.userId = entry.value(QStringLiteral("user")).toString().toStdString();
        const QVariant info = entry.value(QStringLiteral("info"));
        if (info.isValid())
            principal.userInfo = detail::variantToJsonText(info);
        for (const QVariant &pattern : entry.value(QStringLiteral("channels")).toList())
            principal.channelPatterns.push_back(pattern.toString().toStdString());
        d->principals.insert(it.key(), std::move(principal));
    }
    Q_EMIT tokensChanged();
}

bool Gateway::allowAnonymous() const { return d->allowAnonymous; }
void Gateway::setAllowAnonymous(bool allow)
{
    if (allow == d->allowAnonymous)
        return;
    d->allowAnonymous = allow;
    Q_EMIT tokensChanged();
}

#define SWITCHBOARD_GATEWAY_SETTER(Type, getter, setter, member)                                   \
    Type Gateway::getter() const { return d->member; }                                            \
    void Gateway::setter(Type value)                                                               \
    {                                                                                              \
        if (value == d->member)                                                                    \
            return;                                                                                \
        d->member = value;                                                                         \
        Q_EMIT configChanged();                                                                    \
    }

SWITCHBOARD_GATEWAY_SETTER(Gateway::SlowConsumerPolicy, slowConsumerPolicy, setSlowConsumerPolicy, slowConsumer)
SWITCHBOARD_GATEWAY_SETTER(Gateway::ClientPublish, clientPublish, setClientPublish, clientPublish)
SWITCHBOARD_GATEWAY_SETTER(int, maxOutboxFrames, setMaxOutboxFrames, maxOutboxFrames)
SWITCHBOARD_GATEWAY_SETTER(int, maxOutboxBytes, setMaxOutboxBytes, maxOutboxBytes)
SWITCHBOARD_GATEWAY_SETTER(int, maxConnections, setMaxConnections, maxConnections)
SWITCHBOARD_GATEWAY_SETTER(int, pingInterval, setPingInterval, pingInterval)
SWITCHBOARD_GATEWAY_SETTER(int, idleTimeout, setIdleTimeout, idleTimeout)
SWITCHBOARD_GATEWAY_SETTER(int, authorizationTimeout, setAuthorizationTimeout, authorizationTimeout)

int Gateway::idempotencyWindow() const { return int(d->engineOptions.idempotency.window.count()); }
void Gateway::setIdempotencyWindow(int ms)
{
    const std::chrono::milliseconds window(std::max(0, ms));
    if (window == d->engineOptions.idempotency.window)
        return;
    d->engineOptions.idempotency.window = window;
    Q_EMIT configChanged();
}
#undef SWITCHBOARD_GATEWAY_SETTER

QStringList Gateway::channelPolicies() const { return d->channelPolicies; }
void Gateway::setChannelPolicies(const QStringList &rules)
{
    if (rules == d->channelPolicies)
        return;
    d->channelPolicies = rules;
    Q_EMIT configChanged();
}

QStringList Gateway::allowedOrigins() const { return d->allowedOrigins; }
void Gateway::setAllowedOrigins(const QStringList &origins)
{
    if (origins == d->allowedOrigins)
        return;
    d->allowedOrigins = origins;
    Q_EMIT configChanged();
}

int Gateway::statsInterval() const { return d->statsInterval; }
void Gateway::setStatsInterval(int ms)
{
    if (ms == d->statsInterval)
        return;
    d->statsInterval = ms;
    if (d->running) {
        if (ms > 0)
            d->stats.start(ms);
        else
            d->stats.stop();
    }
    Q_EMIT configChanged();
}

QString Gateway::engine() const { return d->engineOptions.engine; }
void Gateway::setEngine(const QString &engine)
{
    if (engine == d->engineOptions.engine)
        return;
    d->engineOptions.engine = engine;
    Q_EMIT configChanged();
}

QString Gateway::enginePrefix() const { return d->engineOptions.enginePrefix; }
void Gateway::setEnginePrefix(const QString &prefix)
{
    if (prefix == d->engineOptions.enginePrefix)
        return;
    d->engineOptions.enginePrefix = prefix;
    Q_EMIT configChanged();
}

bool Gateway::engineAvailable() const { return d->engine && d->engine->available(); }

QString Gateway::errorString() const { return d->error; }

void Gateway::setAuthorizer(Authorizer authorizer)
{
    d->authorizer = std::move(authorizer);
    d->asyncAuthorizer = nullptr;
}

void Gateway::setAsyncAuthorizer(AsyncAuthorizer authorizer)
{
    d->asyncAuthorizer = std::move(authorizer);
    d->authorizer = nullptr;
}
void Gateway::setConnectAuthenticator(ConnectAuthenticator authenticator)
{
    d->connectAuthenticator = std::move(authenticator);
}

Hub *Gateway::hub() const { return d->hub.get(); }
ServerProtocol *Gateway::protocol() const { return d->protocol.get(); }
qtws::QtWebSocketGateway *Gateway::transport() const { return d->transport.get(); }
PusherProtocol *Gateway::pusher() const { return d->pusher.get(); }

QVariantList Gateway::pusherApps() const { return d->pusherApps; }

void Gateway::setPusherApps(const QVariantList &apps)
{
    if (d->pusherApps == apps)
        return;
    d->pusherApps = apps;
    Q_EMIT configChanged();
}

int Gateway::pusherActivityTimeout() const { return d->pusherActivityTimeout; }

void Gateway::setPusherActivityTimeout(int seconds)
{
    if (d->pusherActivityTimeout == seconds)
        return;
    d->pusherActivityTimeout = seconds;
    Q_EMIT configChanged();
}

int Gateway::pusherClientCount() const { return d->transport ? d->transport->pusherConnectionCount() : 0; }
qtws::QtEngine *Gateway::qtEngine() const { return d->engine.get(); }

} // namespace switchboard::qt
