#pragma once
// Helpers shared by the cluster tests: a raw SSE reader and waits on gateway metrics.

#include "../server/GatewayProcess.h"
#include "RedisProcess.h"

#include <QTcpSocket>

#include <initializer_list>

namespace clustertest {

using namespace gatewaytest;

/// Gateway arguments for a node of the Redis cluster under test.
inline QStringList nodeArgs(const RedisProcess &redis, const QString &prefix)
{
    return {"--engine", redis.url(), "--engine-prefix", prefix, "--engine-reconnect-max", "200"};
}

/// An SSE stream read over a plain socket, so the test sees exactly what the gateway wrote.
class RawSse {
public:
    bool open(quint16 port, const QByteArray &target, const QByteArray &lastEventId = {})
    {
        QObject::connect(&socket, &QTcpSocket::readyRead, &socket, [this] { received += socket.readAll(); });
        socket.connectToHost(QHostAddress::LocalHost, port);
        if (!socket.waitForConnected(5000))
            return false;
        QByteArray request = "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n";
        if (!lastEventId.isEmpty())
            request += "Last-Event-ID: " + lastEventId + "\r\n";
        socket.write(request + "\r\n");
        return true;
    }
    bool waitFor(const QByteArray &text, int timeoutMs = 5000)
    {
        QDeadlineTimer deadline(timeoutMs);
        while (!received.contains(text) && !deadline.hasExpired())
            QTest::qWait(5);
        return received.contains(text);
    }
    QByteArray received;
    QTcpSocket socket;
};

/// Polls a metric of `g` until `ok(value)` or the deadline.
template <typename Predicate>
bool waitMetric(QNetworkAccessManager &nam, const GatewayProcess &g, const QString &name, Predicate ok, int timeoutMs = 10000)
{
    QDeadlineTimer deadline(timeoutMs);
    while (!deadline.hasExpired()) {
        if (ok(metrics(nam, g).value(name, -1)))
            return true;
        QTest::qWait(20);
    }
    return false;
}

/// Polls /healthz of `g` until it answers `status`.
inline bool waitHealth(QNetworkAccessManager &nam, const GatewayProcess &g, int status, int timeoutMs = 10000)
{
    QDeadlineTimer deadline(timeoutMs);
    while (!deadline.hasExpired()) {
        if (http(nam, "GET", g.url("/healthz"), {}, false).status == status)
            return true;
        QTest::qWait(20);
    }
    return false;
}

/// Starts `redis`, then the `nodes` on it with engine prefix `prefix`; true once each answers
/// /healthz with 200.
inline bool startCluster(RedisProcess &redis, QNetworkAccessManager &nam, const QString &prefix,
                         std::initializer_list<GatewayProcess *> nodes)
{
    if (!redis.start())
        return false;
    const QStringList args = nodeArgs(redis, prefix);
    for (GatewayProcess *g : nodes) {
        if (!g->start(args))
            return false;
    }
    for (GatewayProcess *g : nodes) {
        if (!waitHealth(nam, *g, 200))
            return false;
    }
    return true;
}

/// Subscribes `client` to `channel` (with `recover` when given, ackId 1); the `subscribed` frame,
/// or nothing when it did not come.
inline std::optional<QJsonObject> subscribe(WsClient &client, const QString &channel, const QJsonObject &recover = {})
{
    QJsonObject frame{{"op", "subscribe"}, {"channel", channel}, {"ackId", 1}};
    if (!recover.isEmpty())
        frame["recover"] = recover;
    client.send(frame);
    return client.waitFor("subscribed", 1);
}

inline QJsonObject firstStored(const HttpResult &result)
{
    return result.json()["publications"].toArray().first().toObject();
}

inline HttpResult publishText(QNetworkAccessManager &nam, const GatewayProcess &g, const QString &channel, const QString &text)
{
    return publish(nam, g, {{"channel", channel}, {"data", QJsonObject{{"text", text}}}});
}

} // namespace clustertest
