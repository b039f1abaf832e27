#include "switchboard/qt/Client.h"

#include "JsonVariant.h"

#include <switchboard/ClientSession.h>
#include <switchboard/qt/QtClientTransport.h>
#include <switchboard/qtws/QtExecutor.h>
#include <switchboard/qtws/QtTimer.h>

#include <QJSEngine>
#include <QLoggingCategory>
#include <QPointer>
#include <QQmlEngine>
#include <QTimer>

#include <boost/json/value.hpp>

#include <algorithm>
#include <string>
#include <unordered_map>

namespace switchboard::qt {

// What the session does (ClientOptions::logger), debug lines off unless enabled by a filter rule
// (QT_LOGGING_RULES="switchboard.client.debug=true").
Q_LOGGING_CATEGORY(lcClient, "switchboard.client", QtInfoMsg)

namespace {

struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

QString jsonString(const boost::json::value &value, std::string_view key)
{
    if (const auto *object = value.if_object())
        if (const auto *field = object->if_contains(boost::json::string_view(key.data(), key.size())))
            if (const auto *s = field->if_string())
                return detail::toQString(std::string_view(s->data(), s->size()));
    return {};
}

int jsonInt(const boost::json::value &value, std::string_view key)
{
    if (const auto *object = value.if_object())
        if (const auto *field = object->if_contains(boost::json::string_view(key.data(), key.size())))
            if (field->is_number())
                return static_cast<int>(field->to_number<double>());
    return 0;
}

std::string utf8(const QString &text)
{
    return text.toStdString();
}

// How long a round-trip probe waits for its pong. A slow answer (the pong queued behind a
// backlog) still gives its true figure; a probe lost for longer is dropped and the next goes out.
constexpr std::chrono::milliseconds kProbeTimeout{60'000};

} // namespace

struct Client::Private {
    // Declaration order is destruction order in reverse: the session goes first.
    qtws::QtExecutor executor;
    qtws::QtTimer timer;
    QtClientTransport transport;
    std::unique_ptr<ClientSession> session;

    // Round-trip probes (ClientSession::ping): one in flight at a time (probeInFlight is its
    // number, 0 for none).
    QTimer pingTimer;
    int pingInterval = 2000;
    bool failFast = false;
    Encoding encoding = Json;
    double roundTripTime = -1;
    std::uint64_t probeSequence = 0;
    std::uint64_t probeInFlight = 0;

    QUrl url;
    QStringList urls;
    bool active = false;
    State state = Disconnected;
    QString sessionId;
    QString userId;
    QString lastError;
    QString token;
    QJSValue tokenFunction;
    TokenProvider cppTokenProvider;

    std::unordered_map<std::string, Channel *, StringHash, std::equal_to<>> channels;
    ListenerHandle messageListener;
    ListenerHandle errorListener;
    ListenerHandle closeListener;
    ListenerHandle stateListener;
    ListenerHandle urlListener;
    ListenerHandle serverSubscriptionListener;
    QJSValue promiseFactory;
    bool completing = false; // QML: between classBegin and componentComplete
};

Client::Client(QObject *parent) : QObject(parent), d(std::make_unique<Private>())
{
    d->session = std::make_unique<ClientSession>(d->transport, d->executor, d->timer);
    d->session->setLogger([](LogLevel level, std::string_view message) {
        const QString text = QString::fromUtf8(message.data(), qsizetype(message.size()));
        switch (level) {
        case LogLevel::Debug: qCDebug(lcClient).noquote() << text; break;
        case LogLevel::Info: qCInfo(lcClient).noquote() << text; break;
        case LogLevel::Warning: qCWarning(lcClient).noquote() << text; break;
        case LogLevel::Error: qCCritical(lcClient).noquote() << text; break;
        }
    });
    connect(&d->pingTimer, &QTimer::timeout, this, &Client::sendProbe);
    d->session->setTokenProvider([this](std::function<void(std::string)> deliver) {
        if (d->cppTokenProvider) {
            d->cppTokenProvider([deliver = std::move(deliver)](const QString &token) { deliver(utf8(token)); });
            return;
        }
        if (d->tokenFunction.isCallable()) {
            const QJSValue result = d->tokenFunction.call();
            deliver(result.isError() || result.isUndefined() || result.isNull() ? std::string() : utf8(result.toString()));
            return;
        }
        deliver(utf8(d->token));
    });

    d->stateListener = d->session->onStateChanged([this](ClientState core) {
        const State state = static_cast<State>(core);
        if (state == d->state)
            return;
        d->state = state;
        if (state == Connected) {
            if (d->pingInterval > 0) {
                d->pingTimer.start(d->pingInterval);
                sendProbe();
            }
        } else {
            d->pingTimer.stop();
            d->probeInFlight = 0;
            setRoundTripTime(-1);
        }
        const QString sessionId = detail::toQString(d->session->sessionId());
        const QString userId = detail::toQString(d->session->userId());
        if (sessionId != d->sessionId || userId != d->userId) {
            d->sessionId = sessionId;
            d->userId = userId;
            Q_EMIT sessionIdChanged();
        }
        Q_EMIT stateChanged(state);
        if (state == Connected)
            Q_EMIT connected();
    });

    d->urlListener = d->session->onUrlChanged([this](const std::string &) { Q_EMIT currentUrlChanged(); });
    d->serverSubscriptionListener = d->session->onServerSubscription([this](ClientChannel &core, bool subscribed) {
        const std::string key = core.name();
        if (subscribed) {
            if (d->channels.count(key))
                return;
            auto *channel = new Channel(core, this);
            QQmlEngine::setObjectOwnership(channel, QQmlEngine::CppOwnership);
            d->channels.emplace(key, channel);
            Q_EMIT serverSubscribed(channel);
            return;
        }
        const auto it = d->channels.find(key);
        if (it == d->channels.end())
            return;
        Channel *channel = it->second;
        d->channels.erase(it);
        channel->detachCore(); // the core channel is destroyed when this call returns
        channel->deleteLater();
        Q_EMIT serverUnsubscribed(detail::toQString(key));
    });

    // One listener for every channel message, dispatched by channel name (names may contain
    // dots, so per-channel "name.*" patterns would be ambiguous).
    d->messageListener = d->session->on("**", [this](const ClientEvent &event) {
        if (event.channel.empty())
            return;
        const auto it = d->channels.find(event.channel);
        if (it != d->channels.end())
            it->second->deliver(event);
    });
    d->errorListener = d->session->on("error", [this](const ClientEvent &event) {
        QString message = jsonString(event.data, "message");
        int code = jsonInt(event.data, "code");
        if (message.isEmpty()) {
            const std::error_code error = d->session->lastError();
            message = QString::fromStdString(error.message());
            code = code ? code : error.value();
        }
        d->lastError = message;
        Q_EMIT errorOccurred(message, code);
    });
    d->closeListener = d->session->on("close", [this](const ClientEvent &event) {
        Q_EMIT disconnected(jsonInt(event.data, "code"), jsonString(event.data, "reason"));
    });
}

Client::~Client()
{
    // Channels hold listener handles into the session: release them first.
    for (auto &[name, channel] : d->channels) {
        channel->detachCore();
        delete channel;
    }
    d->channels.clear();
    d->messageListener.reset();
    d->errorListener.reset();
    d->closeListener.reset();
    d->stateListener.reset();
    d->urlListener.reset();
    d->session.reset();
}

QUrl Client::url() const { return d->url; }

void Client::setUrl(const QUrl &url)
{
    if (url == d->url)
        return;
    d->url = url;
    applyUrls();
    Q_EMIT urlChanged();
}

QStringList Client::urls() const { return d->urls; }

void Client::setUrls(const QStringList &urls)
{
    if (urls == d->urls)
        return;
    d->urls = urls;
    applyUrls();
    Q_EMIT urlsChanged();
}

QUrl Client::currentUrl() const
{
    return QUrl(detail::toQString(d->session->currentUrl()));
}

void Client::applyUrls()
{
    std::vector<std::string> endpoints;
    for (const QString &url : std::as_const(d->urls))
        endpoints.push_back(utf8(QUrl(url).toString(QUrl::FullyEncoded)));
    if (endpoints.empty())
        endpoints.push_back(utf8(d->url.toString(QUrl::FullyEncoded)));
    d->session->setUrls(std::move(endpoints));
}

bool Client::active() const { return d->active; }

void Client::setActive(bool active)
{
    if (active)
        open();
    else
        close();
}

Client::State Client::state() const { return d->state; }
QString Client::sessionId() const { return d->sessionId; }
QString Client::userId() const { return d->userId; }
QString Client::lastError() const { return d->lastError; }
QString Client::token() const { return d->token; }

void Client::setToken(const QString &token)
{
    if (token == d->token)
        return;
    d->token = token;
    Q_EMIT tokenChanged();
}

QJSValue Client::tokenProvider() const { return d->tokenFunction; }

void Client::setTokenProvider(const QJSValue &provider)
{
    d->tokenFunction = provider;
    Q_EMIT tokenChanged();
}

void Client::setTokenProvider(TokenProvider provider)
{
    d->cppTokenProvider = std::move(provider);
}

int Client::pendingOperations() const
{
    return static_cast<int>(d->session->pendingOperations());
}

ClientSession &Client::session() { return *d->session; }

double Client::roundTripTime() const { return d->roundTripTime; }
int Client::pingInterval() const { return d->pingInterval; }

bool Client::failFast() const { return d->failFast; }

Client::Encoding Client::encoding() const { return d->encoding; }

void Client::setEncoding(Encoding encoding)
{
    if (encoding == d->encoding)
        return;
    d->encoding = encoding;
    d->session->setEncoding(encoding == Binary ? WireEncoding::Binary : WireEncoding::Json);
    Q_EMIT encodingChanged();
}

Client::Encoding Client::wireEncoding() const
{
    return d->session->wireEncoding() == WireEncoding::Binary ? Binary : Json;
}

void Client::setFailFast(bool failFast)
{
    if (failFast == d->failFast)
        return;
    d->failFast = failFast;
    d->session->setFailFast(failFast);
    Q_EMIT failFastChanged();
}

int Client::waitingCalls() const { return int(d->session->waitingCalls()); }

void Client::setPingInterval(int milliseconds)
{
    milliseconds = std::max(milliseconds, 0);
    if (milliseconds == d->pingInterval)
        return;
    d->pingInterval = milliseconds;
    if (milliseconds == 0) {
        d->pingTimer.stop();
        d->probeInFlight = 0;
        setRoundTripTime(-1);
    } else if (d->state == Connected) {
        d->pingTimer.start(milliseconds);
        if (d->roundTripTime < 0)
            sendProbe();
    }
    Q_EMIT pingIntervalChanged();
}

void Client::setRoundTripTime(double milliseconds)
{
    if (milliseconds == d->roundTripTime)
        return;
    d->roundTripTime = milliseconds;
    Q_EMIT roundTripTimeChanged();
}

void Client::sendProbe()
{
    // A probe still unanswered is waited for rather than replaced: its pong, when it comes,
    // gives the true (long) round trip.
    if (d->state != Connected || d->probeInFlight != 0)
        return;
    const std::uint64_t probe = ++d->probeSequence;
    d->probeInFlight = probe;
    QPointer<Client> self(this);
    d->session->ping(
        [self, probe](std::error_code error, std::chrono::microseconds rtt) {
            // Answers to probes of an earlier connection (or of a switched-off interval) are stale.
            if (!self || self->d->probeInFlight != probe)
                return;
            self->d->probeInFlight = 0;
            if (!error)
                self->setRoundTripTime(static_cast<double>(rtt.count()) / 1000.0);
        },
        kProbeTimeout);
}

void Client::classBegin()
{
    d->completing = true;
}

void Client::componentComplete()
{
    d->completing = false;
    if (d->active) {
        d->active = false;
        open();
    }
}

void Client::open()
{
    const bool changed = !d->active;
    d->active = true;
    if (d->completing) { // connect once url and token of the QML declaration are set
        if (changed)
            Q_EMIT activeChanged();
        return;
    }
    applyUrls();
    if (d->state == Disconnected || d->state == Closed)
        d->session->connect();
    if (changed)
        Q_EMIT activeChanged();
}

void Client::close()
{
    const bool changed = d->active;
    d->active = false;
    if (d->state != Disconnected && d->state != Closed)
        d->session->close();
    if (changed)
        Q_EMIT activeChanged();
}

Channel *Client::subscribe(const QString &name, const QVariantMap &options)
{
    const std::string key = utf8(name);
    if (const auto it = d->channels.find(key); it != d->channels.end())
        return it->second;
    SubscribeOptions subscribeOptions;
    subscribeOptions.auth = utf8(options.value(QStringLiteral("auth")).toString());
    const QVariant channelData = options.value(QStringLiteral("channelData"));
    if (channelData.metaType() == QMetaType::fromType<QString>())
        subscribeOptions.channelData = utf8(channelData.toString());
    else if (channelData.isValid())
        subscribeOptions.channelData = detail::variantToJsonText(channelData);
    subscribeOptions.recover = options.value(QStringLiteral("recover"), true).toBool();
    subscribeOptions.latest = options.value(QStringLiteral("latest"), false).toBool();
    ClientChannel &core = d->session->subscribe(key, std::move(subscribeOptions));
    auto *channel = new Channel(core, this);
    QQmlEngine::setObjectOwnership(channel, QQmlEngine::CppOwnership);
    d->channels.emplace(key, channel);
    return channel;
}

void Client::unsubscribe(const QString &name)
{
    const auto it = d->channels.find(utf8(name));
    if (it == d->channels.end())
        return;
    Channel *channel = it->second;
    d->channels.erase(it);
    channel->detachCore();
    d->session->unsubscribe(utf8(name));
    channel->deleteLater();
}

Channel *Client::channel(const QString &name) const
{
    const auto it = d->channels.find(utf8(name));
    return it == d->channels.end() ? nullptr : it->second;
}

void Client::publish(const QString &channel, const QString &event, const QVariant &payload, bool skipSelf,
                     bool compress)
{
    d->session->publish(utf8(channel), utf8(event), detail::variantToJsonText(payload), {}, skipSelf, compress);
}

void Client::request(const QString &topic, const QVariant &payload, ReplyCallback callback, int timeoutMs)
{
    std::optional<std::chrono::milliseconds> timeout;
    if (timeoutMs > 0)
        timeout = std::chrono::milliseconds(timeoutMs);
    d->session->request(
        utf8(topic), detail::variantToJsonText(payload),
        [callback = std::move(callback)](std::error_code error, const boost::json::value &reply) {
            if (!callback)
                return;
            if (error) {
                QString message = jsonString(reply, "message");
                if (message.isEmpty())
                    message = QString::fromStdString(error.message());
                callback(error.value() ? error.value() : 500, message, detail::toVariant(reply));
                return;
            }
            callback(0, QString(), detail::toVariant(reply));
        },
        timeout);
}

QJSValue Client::makeDeferred()
{
    QJSEngine *engine = qjsEngine(this);
    if (!engine)
        return {};
    if (d->promiseFactory.isUndefined())
        d->promiseFactory = engine->evaluate(QStringLiteral(
            "(function() { var d = {}; d.promise = new Promise(function(resolve, reject) {"
            " d.resolve = resolve; d.reject = reject; }); return d; })"));
    return d->promiseFactory.call();
}

void Client::settle(const QJSValue &callback, const QJSValue &deferred, int status, const QString &message,
                    const QJSValue &value)
{
    QJSEngine *engine = qjsEngine(this);
    if (!engine)
        return;
    if (status != 0) {
        QJSValue error = engine->newObject();
        error.setProperty(QStringLiteral("status"), status);
        error.setProperty(QStringLiteral("message"), message);
        if (callback.isCallable())
            callback.call({error, QJSValue()});
        if (deferred.isObject())
            deferred.property(QStringLiteral("reject")).call({error});
        return;
    }
    if (callback.isCallable())
        callback.call({QJSValue(QJSValue::NullValue), value});
    if (deferred.isObject())
        deferred.property(QStringLiteral("resolve")).call({value});
}

QJSValue Client::request(const QString &topic, const QVariant &payload, const QJSValue &callback)
{
    const QJSValue deferred = makeDeferred();
    QPointer<Client> self(this);
    request(topic, payload, [self, callback, deferred](int status, const QString &message, const QVariant &reply) {
        if (QJSEngine *engine = self ? qjsEngine(self) : nullptr)
            self->settle(callback, deferred, status, message, status ? QJSValue() : engine->toScriptValue(reply));
    });
    return deferred.isObject() ? deferred.property(QStringLiteral("promise")) : QJSValue();
}

namespace {

QString errorText(std::error_code error, const QString &message = {})
{
    return message.isEmpty() ? QString::fromStdString(error.message()) : message;
}

} // namespace

void Client::publishWithAck(const QString &channel, const QString &event, const QVariant &payload,
                            AckCallback callback, const QVariantMap &options)
{
    PublishOptions core;
    core.skipSelf = options.value(QStringLiteral("skipSelf")).toBool();
    core.compress = options.value(QStringLiteral("compress")).toBool();
    core.idempotencyKey = utf8(options.value(QStringLiteral("idempotencyKey")).toString());
    d->session->publish(
        utf8(channel), utf8(event), detail::variantToJsonText(payload),
        [callback = std::move(callback)](std::error_code error, AckInfo info) {
            if (!callback)
                return;
            if (error)
                return callback(error.value(), errorText(error), 0);
            callback(0, QString(), info.offset);
        },
        core);
}

void Client::publishForReply(const QString &channel, const QString &event, const QVariant &payload,
                             PublishReplyCallback callback, const QVariantMap &options)
{
    PublishOptions core;
    core.skipSelf = options.value(QStringLiteral("skipSelf")).toBool();
    core.compress = options.value(QStringLiteral("compress")).toBool();
    if (const int ms = options.value(QStringLiteral("timeout")).toInt(); ms > 0)
        core.timeout = std::chrono::milliseconds(ms);
    d->session->publishForReply(
        utf8(channel), utf8(event), detail::variantToJsonText(payload),
        [callback = std::move(callback)](std::error_code error, const PublishReply &reply) {
            if (!callback)
                return;
            if (error)
                return callback(error.value(), errorText(error), QVariant(), QString());
            callback(0, QString(), detail::toVariant(reply.payload), detail::toQString(reply.from));
        },
        core);
}

QJSValue Client::publishForReply(const QString &channel, const QString &event, const QVariant &payload,
                                 const QJSValue &callback, const QVariantMap &options)
{
    const QJSValue deferred = makeDeferred();
    QPointer<Client> self(this);
    publishForReply(channel, event, payload,
                    [self, callback, deferred](int status, const QString &message, const QVariant &reply, const QString &from) {
                        QJSEngine *engine = self ? qjsEngine(self) : nullptr;
                        if (!engine)
                            return;
                        QJSValue value;
                        if (status == 0) {
                            value = engine->newObject();
                            value.setProperty(QStringLiteral("payload"), engine->toScriptValue(reply));
                            value.setProperty(QStringLiteral("from"), from);
                        }
                        self->settle(callback, deferred, status, message, value);
                    },
                    options);
    return deferred.isObject() ? deferred.property(QStringLiteral("promise")) : QJSValue();
}

void Client::reply(const QString &replyTo, const QVariant &payload, DoneCallback callback)
{
    std::function<void(std::error_code)> done;
    if (callback)
        done = [callback = std::move(callback)](std::error_code error) { callback(error.value(), error ? errorText(error) : QString()); };
    d->session->reply(utf8(replyTo), detail::variantToJsonText(payload), std::move(done));
}

QJSValue Client::reply(const QVariant &message, const QVariant &payload, const QJSValue &callback)
{
    // A token, or a message carrying one (a Channel.messages row, a waitFor() event).
    QVariant value = message;
    if (value.canConvert<QJSValue>() && value.value<QJSValue>().isObject())
        value = value.value<QJSValue>().toVariant();
    const QString token = value.typeId() == QMetaType::QString ? value.toString()
                                                               : value.toMap().value(QStringLiteral("replyTo")).toString();
    const QJSValue deferred = makeDeferred();
    QPointer<Client> self(this);
    reply(token, payload, [self, callback, deferred](int status, const QString &error) {
        if (self)
            self->settle(callback, deferred, status, error, QJSValue(true));
    });
    return deferred.isObject() ? deferred.property(QStringLiteral("promise")) : QJSValue();
}

void Client::waitFor(const QString &pattern, int timeoutMs, EventCallback callback)
{
    d->session->waitFor(utf8(pattern), std::chrono::milliseconds(std::max(timeoutMs, 0)),
                        [callback = std::move(callback)](std::error_code error, const ClientEvent *event) {
                            if (!callback)
                                return;
                            if (error || !event)
                                return callback(error.value(), QVariantMap{{QStringLiteral("message"), errorText(error)}});
                            callback(0, QVariantMap{{QStringLiteral("key"), detail::toQString(event->key)},
                                                    {QStringLiteral("channel"), detail::toQString(event->channel)},
                                                    {QStringLiteral("event"), detail::toQString(event->event)},
                                                    {QStringLiteral("data"), detail::toVariant(event->data)},
                                                    {QStringLiteral("offset"), static_cast<qulonglong>(event->offset)},
                                                    {QStringLiteral("sender"), detail::toQString(event->sender)},
                                                    {QStringLiteral("replyTo"), detail::toQString(event->replyTo)}});
                        });
}

QJSValue Client::waitFor(const QString &pattern, int timeoutMs, const QJSValue &callback)
{
    const QJSValue deferred = makeDeferred();
    QPointer<Client> self(this);
    waitFor(pattern, timeoutMs, [self, callback, deferred](int status, const QVariantMap &event) {
        if (QJSEngine *engine = self ? qjsEngine(self) : nullptr)
            self->settle(callback, deferred, status, event.value(QStringLiteral("message")).toString(),
                         status ? QJSValue() : engine->toScriptValue(event));
    });
    return deferred.isObject() ? deferred.property(QStringLiteral("promise")) : QJSValue();
}

} // namespace switchboard::qt
