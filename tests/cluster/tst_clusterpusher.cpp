// Pusher clients (raw Pusher protocol 7 JSON frames over a WebSocket) on two switchboard-gateway
// nodes sharing one redis-server: a presence channel's client events carry the sender's user_id
// on every node, the Pusher webhooks report a channel's occupancy and a user's membership once for
// the cluster, and the HTTP API's counts are the cluster's (docs/pusher.md).

#include "../server/WebhookBackend.h"
#include "ClusterHelpers.h"

#include <QMessageAuthenticationCode>
#include <QUrlQuery>

using namespace clustertest;

namespace {

const QString kAppId = "app1";
const QString kAppKey = "key1";
const QByteArray kAppSecret = "secret1";

QByteArray hmacHex(const QByteArray &message)
{
    return QMessageAuthenticationCode::hash(message, kAppSecret, QCryptographicHash::Sha256).toHex();
}

/// A Pusher connection on /app/KEY: what pusher-js sends and receives, as JSON frames.
class PusherClient {
public:
    /// Opens the connection; true once pusher:connection_established named the socket id.
    bool open(const GatewayProcess &g)
    {
        if (!ws.open(g.url("/app/" + kAppKey + "?protocol=7&client=js&version=8.4.0", "ws")))
            return false;
        const auto established = waitEvent("pusher:connection_established");
        if (!established)
            return false;
        socketId = QJsonDocument::fromJson((*established)["data"].toString().toUtf8())["socket_id"].toString();
        return !socketId.isEmpty();
    }
    /// Subscribes to a presence channel as `userId`; true on subscription_succeeded.
    bool joinPresence(const QString &channel, const QString &userId)
    {
        const QByteArray channelData = QJsonDocument(QJsonObject{{"user_id", userId}}).toJson(QJsonDocument::Compact);
        const QByteArray auth = kAppKey.toUtf8() + ':' + hmacHex(socketId.toUtf8() + ':' + channel.toUtf8() + ':' + channelData);
        send({{"event", "pusher:subscribe"},
              {"data", QJsonObject{{"channel", channel}, {"auth", QString::fromUtf8(auth)},
                                   {"channel_data", QString::fromUtf8(channelData)}}}});
        return waitEvent("pusher_internal:subscription_succeeded", channel).has_value();
    }
    bool joinPublic(const QString &channel)
    {
        send({{"event", "pusher:subscribe"}, {"data", QJsonObject{{"channel", channel}}}});
        return waitEvent("pusher_internal:subscription_succeeded", channel).has_value();
    }
    void send(const QJsonObject &frame) { ws.send(frame); }
    /// The first frame not yet taken with this event (and channel, when given), waited for.
    std::optional<QJsonObject> waitEvent(const QString &event, const QString &channel = {}, int timeoutMs = 5000)
    {
        QDeadlineTimer deadline(timeoutMs);
        while (true) {
            QList<QJsonObject> &frames = ws.frames();
            for (qsizetype i = 0; i < frames.size(); ++i) {
                if (frames[i]["event"].toString() == event && (channel.isEmpty() || frames[i]["channel"].toString() == channel))
                    return frames.takeAt(i);
            }
            if (deadline.hasExpired())
                return std::nullopt;
            QTest::qWait(5);
        }
    }

    WsClient ws;
    QString socketId;
};

/// Pusher HTTP API request signed as the server SDKs sign it (docs/pusher.md "Authentication").
QUrl signedApiUrl(const GatewayProcess &g, const QString &path, QList<std::pair<QString, QString>> params)
{
    params << std::pair<QString, QString>{"auth_key", kAppKey}
           << std::pair<QString, QString>{"auth_timestamp", QString::number(QDateTime::currentSecsSinceEpoch())}
           << std::pair<QString, QString>{"auth_version", "1.0"};
    std::sort(params.begin(), params.end());
    QStringList joined;
    for (const auto &[key, value] : params)
        joined << key + '=' + value;
    const QByteArray signature = hmacHex("GET\n" + path.toUtf8() + '\n' + joined.join('&').toUtf8());
    QUrlQuery query;
    for (const auto &[key, value] : params)
        query.addQueryItem(key, value);
    query.addQueryItem("auth_signature", QString::fromLatin1(signature));
    QUrl url = g.url(path);
    url.setQuery(query);
    return url;
}

} // namespace

class TestClusterPusher : public QObject {
    Q_OBJECT

    RedisProcess redis;
    WebhookBackend hooks{QStringLiteral(SWITCHBOARD_WEBHOOK_BACKEND)};
    GatewayProcess a, b;
    QNetworkAccessManager nam;

    /// The Pusher webhook events so far named `name` for `channel` (and `userId`, when given).
    int countHooks(const QString &name, const QString &channel, const QString &userId = {})
    {
        int n = 0;
        for (const QJsonObject &e : hooks.events()) {
            if (e["name"].toString() == name && e["channel"].toString() == channel
                && (userId.isEmpty() || e["user_id"].toString() == userId))
                ++n;
        }
        return n;
    }
    /// Waits until `name` for `channel` arrived at least once, then a little longer (the other
    /// node's duplicate, if any, would come within the same flush interval).
    bool settleHooks(const QString &name, const QString &channel, const QString &userId = {})
    {
        if (!QTest::qWaitFor([&] { return countHooks(name, channel, userId) >= 1; }, 10000))
            return false;
        QTest::qWait(500);
        return true;
    }

private slots:
    void initTestCase()
    {
        QVERIFY(hooks.start());
        QVERIFY(redis.start());
        const QStringList args = nodeArgs(redis, "pusher:")
            + QStringList{"--pusher-app", kAppId + ':' + kAppKey + ':' + QString::fromLatin1(kAppSecret),
                          "--pusher-webhook", kAppId + '=' + hooks.url(), "--webhook-flush-interval", "20",
                          "--node-ttl", "3"};
        QVERIFY(a.start(args));
        QVERIFY(b.start(args));
        for (GatewayProcess *g : {&a, &b})
            QVERIFY(waitHealth(nam, *g, 200));
    }

    void presenceClientEventCarriesUserIdOnEveryNode()
    {
        const QString channel = "presence-typing";
        PusherClient alice, carolOnA, bobOnB;
        QVERIFY(alice.open(a));
        QVERIFY(carolOnA.open(a));
        QVERIFY(bobOnB.open(b));
        QVERIFY(alice.joinPresence(channel, "alice"));
        QVERIFY(carolOnA.joinPresence(channel, "carol"));
        QVERIFY(bobOnB.joinPresence(channel, "bob"));

        alice.send({{"event", "client-typing"}, {"channel", channel}, {"data", QJsonObject{{"on", true}}}});
        for (PusherClient *receiver : {&carolOnA, &bobOnB}) {
            const auto event = receiver->waitEvent("client-typing", channel);
            QVERIFY(event);
            QCOMPARE((*event)["data"].toString(), R"({"on":true})");
            QCOMPARE((*event)["user_id"].toString(), "alice");
        }
        // bob answers from B: alice and carol on A see his user id.
        bobOnB.send({{"event", "client-typing"}, {"channel", channel}, {"data", QJsonObject{{"on", false}}}});
        for (PusherClient *receiver : {&alice, &carolOnA}) {
            const auto event = receiver->waitEvent("client-typing", channel);
            QVERIFY(event);
            QCOMPARE((*event)["user_id"].toString(), "bob");
        }
    }

    void occupancyWebhooksOncePerCluster()
    {
        const QString channel = "occupied-once";
        {
            PusherClient onA, onB;
            QVERIFY(onA.open(a));
            QVERIFY(onB.open(b));
            QVERIFY(onA.joinPublic(channel));
            QVERIFY(onB.joinPublic(channel));
            QVERIFY(settleHooks("channel_occupied", channel));
            QCOMPARE(countHooks("channel_occupied", channel), 1);
            QCOMPARE(countHooks("channel_vacated", channel), 0);
            onA.ws.socket().close();
            // One of two nodes left: still occupied in the cluster.
            QTest::qWait(500);
            QCOMPARE(countHooks("channel_vacated", channel), 0);
        }
        QVERIFY(settleHooks("channel_vacated", channel));
        QCOMPARE(countHooks("channel_vacated", channel), 1);
        QCOMPARE(countHooks("channel_occupied", channel), 1);

        // Occupied again, from B alone this time: a new occupancy, reported once.
        PusherClient again;
        QVERIFY(again.open(b));
        QVERIFY(again.joinPublic(channel));
        QVERIFY(QTest::qWaitFor([&] { return countHooks("channel_occupied", channel) == 2; }, 10000));
    }

    void memberWebhooksOncePerCluster()
    {
        const QString channel = "presence-members-once";
        {
            PusherClient aliceOnA, aliceOnB;
            QVERIFY(aliceOnA.open(a));
            QVERIFY(aliceOnB.open(b));
            QVERIFY(aliceOnA.joinPresence(channel, "alice"));
            QVERIFY(aliceOnB.joinPresence(channel, "alice"));
            QVERIFY(settleHooks("member_added", channel, "alice"));
            QCOMPARE(countHooks("member_added", channel, "alice"), 1);
            // One of her connections goes: she is still a member.
            aliceOnA.ws.socket().close();
            QTest::qWait(500);
            QCOMPARE(countHooks("member_removed", channel, "alice"), 0);
        }
        QVERIFY(settleHooks("member_removed", channel, "alice"));
        QCOMPARE(countHooks("member_removed", channel, "alice"), 1);
        QCOMPARE(countHooks("member_added", channel, "alice"), 1);
        QVERIFY(settleHooks("channel_vacated", channel));
        QCOMPARE(countHooks("channel_occupied", channel), 1);
        QCOMPARE(countHooks("channel_vacated", channel), 1);
    }

    void channelsApiCountsTheCluster()
    {
        const QString channel = "presence-counted";
        PusherClient aliceOnA, bobOnB, bobAgainOnB;
        QVERIFY(aliceOnA.open(a));
        QVERIFY(bobOnB.open(b));
        QVERIFY(bobAgainOnB.open(b));
        QVERIFY(aliceOnA.joinPresence(channel, "alice"));
        QVERIFY(bobOnB.joinPresence(channel, "bob"));
        QVERIFY(bobAgainOnB.joinPresence(channel, "bob"));
        const QString path = "/apps/" + kAppId + "/channels/" + channel;
        for (GatewayProcess *g : {&a, &b}) {
            QJsonObject answer;
            const bool counted = QTest::qWaitFor([&] {
                const HttpResult r = http(nam, "GET", signedApiUrl(*g, path, {{"info", "user_count,subscription_count"}}), {}, false);
                answer = r.json();
                return r.status == 200 && answer["subscription_count"].toInt() == 3;
            }, 5000);
            QVERIFY2(counted, QJsonDocument(answer).toJson().constData());
            QCOMPARE(answer["occupied"].toBool(), true);
            QCOMPARE(answer["subscription_count"].toInt(), 3);
            QCOMPARE(answer["user_count"].toInt(), 2);
        }
    }

    /// Last (it kills node A): a dead node's occupancy is swept with its lease, so a channel it
    /// alone held is occupied again when B gets a subscriber.
    void deadNodeOccupancyIsSwept()
    {
        const QString channel = "held-by-a";
        PusherClient onA;
        QVERIFY(onA.open(a));
        QVERIFY(onA.joinPublic(channel));
        QVERIFY(settleHooks("channel_occupied", channel));
        a.kill();
        QVERIFY(waitMetric(nam, b, "switchboard_engine_nodes_expired_total", [](double v) { return v >= 1; }, 15000));
        PusherClient onB;
        QVERIFY(onB.open(b));
        QVERIFY(onB.joinPublic(channel));
        QVERIFY(QTest::qWaitFor([&] { return countHooks("channel_occupied", channel) == 2; }, 10000));
    }
};

QTEST_MAIN(TestClusterPusher)
#include "tst_clusterpusher.moc"
