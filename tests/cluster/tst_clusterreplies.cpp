// Replies between clients across nodes: the publisher is on gateway A, the replier on gateway B
// (one Redis). The reply travels through Redis on A's reply channel and reaches the publisher with
// its publish's ackId; a second reply, a forged one and one for a publisher that left are dropped
// on A and counted there.
#include "ClusterHelpers.h"

#include <QElapsedTimer>

#include <algorithm>

using namespace clustertest;

namespace {

double dropped(QNetworkAccessManager &nam, const GatewayProcess &g, const char *reason)
{
    return metrics(nam, g).value(QStringLiteral("switchboard_replies_dropped_total{reason=\"%1\"}").arg(reason));
}

} // namespace

class TestClusterReplies : public QObject {
    Q_OBJECT

private:
    RedisProcess redis;
    GatewayProcess a, b;
    QNetworkAccessManager nam;

private slots:
    void initTestCase() { QVERIFY(startCluster(redis, nam, "replies:", {&a, &b})); }

    void replyCrossesNodes()
    {
        WsClient publisher, replier, second;
        QVERIFY(!publisher.connectWithId(a).isEmpty());
        const QString replierId = replier.connectWithId(b);
        QVERIFY(!replierId.isEmpty());
        QVERIFY(!second.connectWithId(b).isEmpty());
        QVERIFY(subscribe(publisher, "ops"));
        QVERIFY(subscribe(replier, "ops"));
        QVERIFY(subscribe(second, "ops"));

        publisher.send({{"op", "publish"}, {"channel", "ops"}, {"event", "ask"}, {"data", QJsonObject{{"n", 1}}},
                        {"wantReply", true}, {"ackId", 11}});
        QVERIFY(publisher.waitFor("ack", 11));
        const auto message = replier.waitFor("message");
        QVERIFY(message);
        const QString token = (*message)["replyTo"].toString();
        QVERIFY(!token.isEmpty());

        replier.send({{"op", "reply"}, {"replyTo", token}, {"payload", QJsonObject{{"done", true}}}, {"ackId", 21}});
        QVERIFY(replier.waitFor("ack", 21));
        const auto reply = publisher.waitFor("reply", 11);
        QVERIFY(reply);
        QCOMPARE((*reply)["topic"].toString(), QStringLiteral("ops"));
        QCOMPARE((*reply)["from"].toString(), replierId);
        QCOMPARE((*reply)["payload"].toObject()["done"].toBool(), true);
        QVERIFY(waitMetric(nam, b, "switchboard_replies_routed_total", [](double v) { return v == 1; }));
        QCOMPARE(metrics(nam, a).value("switchboard_replies_delivered_total"), 1.0);

        // The second reply, from another session on B, is dropped on A: first reply wins.
        second.send({{"op", "reply"}, {"replyTo", token}, {"payload", 2}, {"ackId", 22}});
        QVERIFY(second.waitFor("ack", 22));
        QVERIFY(waitMetric(nam, a, "switchboard_replies_dropped_total{reason=\"answered\"}", [](double v) { return v == 1; }));
        QVERIFY(!publisher.waitFor("reply", -1, 200));

        // A forged nonce travels to A and stops there.
        QString forged = token;
        const int nonceAt = forged.indexOf('.') + 1;
        forged[nonceAt] = forged[nonceAt] == QChar('0') ? QChar('1') : QChar('0');
        second.send({{"op", "reply"}, {"replyTo", forged}, {"payload", 3}, {"ackId", 23}});
        QVERIFY(second.waitFor("ack", 23));
        QVERIFY(waitMetric(nam, a, "switchboard_replies_dropped_total{reason=\"unknown\"}", [](double v) { return v == 1; }));
        QVERIFY(!publisher.waitFor("reply", -1, 200));
        QCOMPARE(metrics(nam, a).value("switchboard_replies_delivered_total"), 1.0);
    }

    void roundTripsAcrossNodes()
    {
        // 50 asks in a row, each answered from the other node: every reply comes back, to its
        // own ackId. The median round trip (publish sent -> reply received) is reported.
        WsClient publisher, replier;
        QVERIFY(!publisher.connectWithId(a).isEmpty());
        QVERIFY(!replier.connectWithId(b).isEmpty());
        QVERIFY(subscribe(publisher, "rtt"));
        QVERIFY(subscribe(replier, "rtt"));
        QList<qint64> micros;
        QElapsedTimer clock;
        for (int i = 100; i < 150; ++i) {
            clock.start();
            publisher.send({{"op", "publish"}, {"channel", "rtt"}, {"event", "ask"}, {"data", i}, {"wantReply", true}, {"ackId", i}});
            const auto message = replier.waitFor("message");
            QVERIFY(message);
            replier.send({{"op", "reply"}, {"replyTo", (*message)["replyTo"].toString()}, {"payload", i}});
            const auto reply = publisher.waitFor("reply", i);
            QVERIFY(reply);
            QCOMPARE((*reply)["payload"].toInt(), i);
            micros.append(clock.nsecsElapsed() / 1000);
        }
        std::sort(micros.begin(), micros.end());
        qInfo("cross-node publish -> reply round trip over 50 asks: median %lld us, max %lld us",
              micros[micros.size() / 2], micros.back());
    }

    void replyToAPublisherThatLeft()
    {
        WsClient publisher, replier;
        QVERIFY(!publisher.connectWithId(a).isEmpty());
        QVERIFY(!replier.connectWithId(b).isEmpty());
        QVERIFY(subscribe(publisher, "ops2"));
        QVERIFY(subscribe(replier, "ops2"));
        publisher.send({{"op", "publish"}, {"channel", "ops2"}, {"event", "ask"}, {"data", 1}, {"wantReply", true}, {"ackId", 1}});
        const auto message = replier.waitFor("message");
        QVERIFY(message);
        publisher.socket().close();
        QVERIFY(waitMetric(nam, a, "switchboard_sessions", [](double v) { return v == 0; }));
        const double before = dropped(nam, a, "gone");
        replier.send({{"op", "reply"}, {"replyTo", (*message)["replyTo"].toString()}, {"payload", 1}, {"ackId", 2}});
        QVERIFY(replier.waitFor("ack", 2));
        QVERIFY(waitMetric(nam, a, "switchboard_replies_dropped_total{reason=\"gone\"}", [before](double v) { return v == before + 1; }));
    }
};

QTEST_MAIN(TestClusterReplies)
#include "tst_clusterreplies.moc"
