#pragma once
// Client: a Switchboard connection (the core ClientSession over QWebSocket) for C++ and QML.

#include <switchboard/qt/Channel.h>

#include <QJSValue>
#include <QObject>
#include <QQmlParserStatus>
#include <QStringList>
#include <QUrl>
#include <QVariant>
#include <QtQml/qqmlregistration.h>

#include <functional>
#include <memory>

namespace switchboard {
class ClientSession;
}

namespace switchboard::qt {

/// Connects to a gateway, reconnects with backoff, resubscribes and recovers missed messages.
///
/// QML: `Client { url: "ws://127.0.0.1:8080/ws"; active: true }`, then `subscribe("news")`.
/// Failover over the nodes of one service: `urls: ["ws://a:8080/ws", "ws://b:8080/ws"]`; a
/// failed or lost connection moves to the next URL (round robin) and recovers there;
/// `currentUrl` tells which one is in use (docs/client.md, "Failover").
/// Ownership: the Client owns its Channels. Thread safety: create and use on one thread (with an
/// event loop); every signal and callback runs there. Callbacks may call back into the Client but
/// must not delete it.
class Client : public QObject, public QQmlParserStatus
{
    Q_OBJECT
    Q_INTERFACES(QQmlParserStatus)
    QML_ELEMENT
    Q_PROPERTY(QUrl url READ url WRITE setUrl NOTIFY urlChanged)
    Q_PROPERTY(QStringList urls READ urls WRITE setUrls NOTIFY urlsChanged)
    Q_PROPERTY(QUrl currentUrl READ currentUrl NOTIFY currentUrlChanged)
    Q_PROPERTY(bool active READ active WRITE setActive NOTIFY activeChanged)
    Q_PROPERTY(State state READ state NOTIFY stateChanged)
    Q_PROPERTY(QString sessionId READ sessionId NOTIFY sessionIdChanged)
    Q_PROPERTY(QString userId READ userId NOTIFY sessionIdChanged)
    Q_PROPERTY(QString lastError READ lastError NOTIFY errorOccurred)
    Q_PROPERTY(QString token READ token WRITE setToken NOTIFY tokenChanged)
    Q_PROPERTY(QJSValue tokenProvider READ tokenProvider WRITE setTokenProvider NOTIFY tokenChanged)
    Q_PROPERTY(int pendingOperations READ pendingOperations)
    Q_PROPERTY(double roundTripTime READ roundTripTime NOTIFY roundTripTimeChanged)
    Q_PROPERTY(int pingInterval READ pingInterval WRITE setPingInterval NOTIFY pingIntervalChanged)
    Q_PROPERTY(bool failFast READ failFast WRITE setFailFast NOTIFY failFastChanged)
    Q_PROPERTY(Encoding encoding READ encoding WRITE setEncoding NOTIFY encodingChanged)
    Q_PROPERTY(Encoding wireEncoding READ wireEncoding NOTIFY stateChanged)
    Q_PROPERTY(int waitingCalls READ waitingCalls)

public:
    enum State { Disconnected, Connecting, Connected, Reconnecting, Closed };
    Q_ENUM(State)
    /// How frames travel: JSON text, or the binary encoding (docs/protocol.md).
    enum Encoding { Json, Binary };
    Q_ENUM(Encoding)

    /// Result of request() for C++: `status` 0 on success, else the error status (an error reply's
    /// status, 408 timeout, 499 cancelled, 503 not connected) with `errorMessage`.
    using ReplyCallback = std::function<void(int status, const QString &errorMessage, const QVariant &reply)>;
    /// Result of publishForReply() for C++: `status` 0 with the first subscriber's reply
    /// (`payload`, the replier's session id `from`), else the error status (408 no reply in time,
    /// the server's refusal such as 429, 499 cancelled, 503 not connected) with `errorMessage`.
    using PublishReplyCallback = std::function<void(int status, const QString &errorMessage, const QVariant &payload, const QString &from)>;
    /// Result of publishWithAck() for C++: `status` 0 with the publication's `offset` (0 on a
    /// channel without history), else the error status (the server's refusal, 408 no ack in
    /// time, 499 cancelled, 503 not connected) with `errorMessage`.
    using AckCallback = std::function<void(int status, const QString &errorMessage, quint64 offset)>;
    /// Result of reply() for C++: `status` 0 once the gateway handed the reply on.
    using DoneCallback = std::function<void(int status, const QString &errorMessage)>;
    /// Result of waitFor() for C++: `status` 0 with the event as {key, channel, event, data,
    /// offset, sender, replyTo}, else 408 (none in time), 400 (invalid pattern), 499 (closed).
    using EventCallback = std::function<void(int status, const QVariantMap &event)>;
    /// Called before every (re)connect; call `deliver` with the token, now or later.
    using TokenProvider = std::function<void(std::function<void(const QString &token)> deliver)>;

    explicit Client(QObject *parent = nullptr);
    ~Client() override;

    QUrl url() const;
    void setUrl(const QUrl &url);
    /// Gateway URLs for failover, tried in turn; when not empty they replace `url`. Takes
    /// effect at the next connection attempt (an open connection is kept).
    QStringList urls() const;
    void setUrls(const QStringList &urls);
    /// The endpoint in use: the URL of the open connection or attempt, or of the next attempt
    /// while reconnecting. Empty before a URL is set.
    QUrl currentUrl() const;
    bool active() const;
    void setActive(bool active);
    State state() const;
    QString sessionId() const;
    QString userId() const;
    QString lastError() const;
    QString token() const;
    void setToken(const QString &token);
    /// QML: a function returning the token string, called before every (re)connect.
    QJSValue tokenProvider() const;
    void setTokenProvider(const QJSValue &provider);
    /// C++: takes precedence over the QML provider and `token`.
    void setTokenProvider(TokenProvider provider);
    int pendingOperations() const;
    /// Last measured round trip to the gateway in milliseconds (fractional), -1 while unknown:
    /// before the first `pong` of a connection and whenever the client is not connected.
    /// Measured with ClientSession::ping() (a `ping` with an ackId, timed to the `pong` echoing
    /// it), one probe in flight at a time, on a monotonic clock of microsecond resolution.
    double roundTripTime() const;
    /// Milliseconds between round-trip probes while connected (default 2000; the first probe goes
    /// out as soon as the connection is up). 0 stops probing and sets roundTripTime to -1.
    /// Negative values count as 0.
    int pingInterval() const;
    void setPingInterval(int milliseconds);
    /// publish() and request() made while connecting or reconnecting wait for the connection,
    /// bounded by their own timeout (ClientOptions::failFast, docs/client.md "Calls while
    /// connecting"). true: they fail at once (a request with status 503) instead. Default false.
    bool failFast() const;
    void setFailFast(bool failFast);
    /// The encoding offered from the next connection attempt on (default Json). Binary: the
    /// subprotocol switchboard.v1.binary; the client stays on JSON when the server does not agree.
    Encoding encoding() const;
    void setEncoding(Encoding encoding);
    /// The encoding of the open connection (Json while not connected).
    Encoding wireEncoding() const;
    /// Calls waiting for the connection.
    int waitingCalls() const;

    /// Connects (same as active = true). Reconnects by itself until close().
    Q_INVOKABLE void open();
    /// Closes for good (same as active = false); pending requests fail with status 499.
    Q_INVOKABLE void close();

    /// Subscribes (now or once connected) and returns the channel; calling it again for the same
    /// name returns the same Channel. `options`: auth (string), channelData (object or JSON
    /// text, presence), recover (bool, default true), latest (bool, default false: the channel's
    /// newest publication arrives right after the subscribe, Channel::latest shows it at once).
    Q_INVOKABLE switchboard::qt::Channel *subscribe(const QString &channel, const QVariantMap &options = {});
    Q_INVOKABLE void unsubscribe(const QString &channel);
    Q_INVOKABLE switchboard::qt::Channel *channel(const QString &name) const;

    /// Publishes `payload` (any JSON value) on `channel`. skipSelf: this client does not get it back.
    /// compress: subscribers whose connection negotiated permessage-deflate get it compressed.
    Q_INVOKABLE void publish(const QString &channel, const QString &event, const QVariant &payload,
                             bool skipSelf = false, bool compress = false);
    /// publish() waiting for the gateway's ack (C++). It carries an idempotency key, `options`'
    /// `idempotencyKey` or a random one: when the connection is lost before the ack it is sent
    /// again once after the reconnect and the gateway does not deliver it twice
    /// (docs/client.md). `options`: skipSelf, compress (bool), idempotencyKey (string).
    void publishWithAck(const QString &channel, const QString &event, const QVariant &payload,
                        AckCallback callback, const QVariantMap &options = {});
    /// Server-handler request. With a `callback` it is called as callback(error, reply), error
    /// being null or {status, message}; the function also returns a Promise resolved with the
    /// reply or rejected with the error object.
    Q_INVOKABLE QJSValue request(const QString &topic, const QVariant &payload, const QJSValue &callback = QJSValue());
    /// C++ form of request(); `timeoutMs` 0: the client's default.
    void request(const QString &topic, const QVariant &payload, ReplyCallback callback, int timeoutMs = 0);

    /// Publishes with wantReply (publish + WaitForReply): subscribers get the message with a
    /// `replyTo` token (Channel::messageReceived, the messages model's `replyTo` role) and may
    /// answer with reply(). `options`: skipSelf, compress (bool), timeout (ms, for ack and reply
    /// together; default 10000). With a `callback` it is called as callback(error, reply),
    /// error being null or {status, message}, reply {payload, from}; the function also
    /// returns a Promise resolved with the reply or rejected with the error object.
    Q_INVOKABLE QJSValue publishForReply(const QString &channel, const QString &event, const QVariant &payload,
                                         const QJSValue &callback = QJSValue(), const QVariantMap &options = {});
    /// C++ form of publishForReply().
    void publishForReply(const QString &channel, const QString &event, const QVariant &payload,
                         PublishReplyCallback callback, const QVariantMap &options = {});
    /// Answers a message whose publisher asked for a reply. `message`: the token (a string) or
    /// anything with a `replyTo` member (a row of Channel.messages, a waitFor() event).
    /// Callback and Promise as publishForReply(), resolved with true once the gateway handed the
    /// reply on (400: no token; 408: no ack in time).
    Q_INVOKABLE QJSValue reply(const QVariant &message, const QVariant &payload, const QJSValue &callback = QJSValue());
    /// C++ form of reply().
    void reply(const QString &replyTo, const QVariant &payload, DoneCallback callback = {});
    /// Waits for the next event matching `pattern` ("channel.event" with `*` / `**` wildcards,
    /// or "session.started", "error", "close"), for at most `timeoutMs`. Callback and Promise as
    /// publishForReply(), resolved with {key, channel, event, data, offset, sender, replyTo};
    /// rejected with 408 (none in time), 400 (invalid pattern) or 499 (the client was closed).
    Q_INVOKABLE QJSValue waitFor(const QString &pattern, int timeoutMs, const QJSValue &callback = QJSValue());
    /// C++ form of waitFor().
    void waitFor(const QString &pattern, int timeoutMs, EventCallback callback);

    /// The core session (for C++ users that need the full core API). Valid for the Client's life.
    ClientSession &session();

    void classBegin() override;
    void componentComplete() override;

Q_SIGNALS:
    void urlChanged();
    void urlsChanged();
    void currentUrlChanged();
    void activeChanged();
    void stateChanged(switchboard::qt::Client::State state);
    void sessionIdChanged();
    void tokenChanged();
    void errorOccurred(const QString &message, int code);
    void connected();
    void disconnected(int code, const QString &reason);
    void roundTripTimeChanged();
    void pingIntervalChanged();
    void failFastChanged();
    void encodingChanged();
    /// The server subscribed this client to `channel` (it did not ask): the Channel is the
    /// client's own from now on, like one from subscribe(), and resubscribed after reconnects.
    void serverSubscribed(switchboard::qt::Channel *channel);
    /// The server ended the subscription to `name`: its Channel is deleted later, like after
    /// unsubscribe().
    void serverUnsubscribed(const QString &name);

private:
    void sendProbe();
    void applyUrls();
    void setRoundTripTime(double milliseconds);
    /// For the QML forms: a {promise, resolve, reject} object (undefined without an engine), and
    /// the end of a call: the callback with (error, value), then the promise.
    QJSValue makeDeferred();
    void settle(const QJSValue &callback, const QJSValue &deferred, int status, const QString &message, const QJSValue &value);
    struct Private;
    std::unique_ptr<Private> d;
};

} // namespace switchboard::qt
