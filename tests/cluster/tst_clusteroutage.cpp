// Redis lost under two gateway nodes: publishes are refused (503) and never acknowledged, /healthz
// reports 503, the nodes reconnect by themselves; subscribers whose publications may be lost are
// told to recover (close 3007) and recover with recovered:false after Redis restarted empty. A
// pub/sub connection lost while Redis keeps its streams is caught up without loss or disconnect.
#include "ClusterHelpers.h"

using namespace clustertest;

class TestClusterOutage : public QObject {
    Q_OBJECT

private:
    QNetworkAccessManager nam;

    static std::optional<QJsonObject> subscribe(WsClient &client, const QString &channel, const QJsonObject &recover = {})
    {
        QJsonObject frame{{"op", "subscribe"}, {"channel", channel}, {"ackId", 1}};
        if (!recover.isEmpty())
            frame["recover"] = recover;
        client.send(frame);
        return client.waitFor("subscribed", 1);
    }

    /// Runs redis-cli against `redis` (a command that needs no reply checking).
    static bool redisCli(const RedisProcess &redis, const QStringList &args)
    {
        QProcess cli;
        testsupport::dieWithTest(cli);
        cli.start("redis-cli", QStringList{"-p", QString::number(redis.port())} + args);
        return cli.waitForFinished(5000) && cli.exitCode() == 0;
    }

private slots:
    void redisRestartRefusesThenResumesAndTellsSubscribersToRecover()
    {
        RedisProcess redis;
        QVERIFY(redis.start());
        GatewayProcess a, b;
        QVERIFY(a.start(nodeArgs(redis, "outage:")));
        QVERIFY(b.start(nodeArgs(redis, "outage:")));
        QVERIFY(waitHealth(nam, a, 200));
        QVERIFY(waitHealth(nam, b, 200));

        WsClient ws;
        QVERIFY(ws.connectSession(b));
        QVERIFY(subscribe(ws, "feed"));
        const HttpResult one = publishText(nam, a, "feed", "one");
        QCOMPARE(one.status, 200);
        const QJsonObject seen = firstStored(one);
        QVERIFY(ws.waitFor("message"));

        redis.stop();
        QVERIFY(waitHealth(nam, a, 503));
        QVERIFY(waitHealth(nam, b, 503));
        // Refused, with the protocol's error code in the body; nothing is stored or delivered.
        for (int i = 0; i < 3; ++i) {
            const HttpResult refused = publishText(nam, a, "feed", "lost");
            QCOMPARE(refused.status, 503);
            QCOMPARE(firstStored(refused)["error"].toObject()["code"].toInt(), 503);
        }
        // A WebSocket publish is refused the same way (error 503, no ack).
        ws.send({{"op", "publish"}, {"channel", "feed"}, {"event", "message"}, {"data", QJsonObject{}}, {"ackId", 7}});
        const auto error = ws.waitFor("error", 7);
        QVERIFY(error);
        QCOMPARE((*error)["code"].toInt(), 503);
        QVERIFY(!ws.waitFor("ack", 7, 0));
        QVERIFY(metrics(nam, a).value("switchboard_engine_refused_total") >= 3);
        QCOMPARE(metrics(nam, a).value("switchboard_engine_up"), 0.0);

        QVERIFY(redis.start()); // same port, empty: every stream and epoch is gone
        QVERIFY(waitHealth(nam, a, 200));
        QVERIFY(waitHealth(nam, b, 200));
        QVERIFY(metrics(nam, b).value("switchboard_engine_reconnects_total") >= 2);

        // B cannot know what it missed (the stream is gone): its subscriber is told to recover.
        QCOMPARE(ws.waitClosed(10000), 3007);
        WsClient back;
        QVERIFY(back.connectSession(b));
        const auto subscribed = subscribe(back, "feed", seen);
        QVERIFY(subscribed);
        QCOMPARE((*subscribed)["recovered"].toBool(), false); // the truth: history was lost with Redis
        QVERIFY((*subscribed)["epoch"].toString() != seen["epoch"].toString());

        const HttpResult two = publishText(nam, a, "feed", "two");
        QCOMPARE(two.status, 200);
        QCOMPARE(firstStored(two)["offset"].toInt(), 1);
        const auto message = back.waitFor("message");
        QVERIFY(message);
        QCOMPARE((*message)["data"].toObject()["text"].toString(), QStringLiteral("two"));
        QVERIFY(metrics(nam, b).value("switchboard_engine_gaps_total") >= 1);
    }

    void lostPubSubConnectionIsCaughtUpFromTheStream()
    {
        RedisProcess redis;
        QVERIFY(redis.start());
        GatewayProcess a, b;
        QVERIFY(a.start(nodeArgs(redis, "catchup:")));
        QVERIFY(b.start(nodeArgs(redis, "catchup:")));
        QVERIFY(waitHealth(nam, a, 200));
        QVERIFY(waitHealth(nam, b, 200));

        WsClient ws;
        QVERIFY(ws.connectSession(b));
        QVERIFY(subscribe(ws, "feed"));
        QCOMPARE(publishText(nam, a, "feed", "before").status, 200);
        QVERIFY(ws.waitFor("message"));

        // Redis drops every pub/sub connection; the streams stay. Publications made while B
        // resubscribes are read back from the stream: each arrives once, in order, and nobody
        // is disconnected.
        QVERIFY(redisCli(redis, {"CLIENT", "KILL", "TYPE", "pubsub"}));
        for (int i = 0; i < 20; ++i)
            QCOMPARE(publishText(nam, a, "feed", QString::number(i)).status, 200);
        for (int i = 0; i < 20; ++i) {
            const auto message = ws.waitFor("message", -1, 10000);
            QVERIFY2(message, qPrintable(QStringLiteral("publication %1 missing").arg(i)));
            QCOMPARE((*message)["data"].toObject()["text"].toString(), QString::number(i));
            QCOMPARE((*message)["offset"].toInt(), i + 2);
        }
        QTest::qWait(300); // no duplicate arrives late
        QVERIFY(!ws.waitFor("message", -1, 0));
        QVERIFY(!ws.disconnected());
        const auto counters = metrics(nam, b);
        QVERIFY(counters.value("switchboard_engine_reconnects_total") >= 1);
        QCOMPARE(counters.value("switchboard_engine_gaps_total"), 0.0);
        // The first reconnect attempt is 100 ms after the loss; the 20 publishes take less, so
        // (most of) them came back through the stream, not through pub/sub.
        QVERIFY(counters.value("switchboard_engine_recovered_total") > 0);
    }
};

QTEST_MAIN(TestClusterOutage)
#include "tst_clusteroutage.moc"
