// A latest-only:id channel on a node of a Redis cluster: publications made through another node
// reach the subscriber's node through Redis and are conflated there, in the outbox of a reader
// that stopped reading, as on a single gateway (tests/server/tst_gatewaychannelpolicy).
#include "ClusterHelpers.h"
#include "../server/RawWebSocket.h"

#include <map>

using namespace clustertest;

class TestClusterChannelPolicy : public QObject {
    Q_OBJECT

private slots:
    void latestOnlyAcrossNodes()
    {
        RedisProcess redis;
        QVERIFY(redis.start());
        const QStringList policy{"--outbox-frames", "16", "--channel-policy", "sensors/=latest-only:id"};
        GatewayProcess publisher;
        GatewayProcess subscriber;
        QVERIFY(publisher.start(nodeArgs(redis, "policy:") + policy));
        QVERIFY(subscriber.start(nodeArgs(redis, "policy:") + policy));
        QNetworkAccessManager nam;
        QVERIFY(waitHealth(nam, publisher, 200));
        QVERIFY(waitHealth(nam, subscriber, 200));

        RawWebSocket client;
        QVERIFY(client.open(subscriber.port()));
        client.sendText(R"({"op":"connect","version":1})");
        QVERIFY(client.waitForOp("welcome"));
        client.sendText(R"({"op":"subscribe","channel":"sensors/hall","ackId":1})");
        QVERIFY(client.waitForOp("subscribed"));
        // The subscriber's node listens to the channel in Redis (and to its reply channel).
        QVERIFY(waitMetric(nam, subscriber, "switchboard_engine_listening_channels", [](double v) { return v == 2; }));
        client.pauseReading();

        const QStringList sensors{"s0", "s1", "s2", "s3"};
        const QString pad(32 * 1024, 'x');
        int published = 0;
        QDeadlineTimer deadline(60000);
        while (metrics(nam, subscriber).value("switchboard_conflated_total") < 256 && !deadline.hasExpired()) {
            QJsonArray publications;
            for (int i = 0; i < 16; ++i)
                publications.append(QJsonObject{{"channel", "sensors/hall"},
                                                {"data", QJsonObject{{"id", sensors[i % 4]}, {"n", published + i}, {"pad", pad}}}});
            QCOMPARE(publish(nam, publisher, {{"publications", publications}}).status, 200);
            published += 16;
        }
        QJsonArray last;
        for (const QString &sensor : sensors)
            last.append(QJsonObject{{"channel", "sensors/hall"}, {"data", QJsonObject{{"id", sensor}, {"n", -1}}}});
        QCOMPARE(publish(nam, publisher, {{"publications", last}}).status, 200);
        published += 4;
        // Every publication reached the subscriber's node before the ping below is answered.
        QVERIFY(waitMetric(nam, subscriber, "switchboard_publications_total",
                           [published](double v) { return v >= published; }));
        const auto m = metrics(nam, subscriber);
        const double conflated = m.value("switchboard_conflated_total");
        QVERIFY2(conflated >= 256, "the reader never stalled the node's writes");
        QCOMPARE(m.value("switchboard_drops_total"), 0.0);

        client.resumeReading();
        client.sendText(R"({"op":"ping","ackId":99})");
        std::vector<QJsonObject> messages;
        QDeadlineTimer readDeadline(20000);
        while (true) {
            const auto frame = client.nextFrame(int(std::max<qint64>(readDeadline.remainingTime(), 0)));
            QVERIFY2(frame, "no pong after resuming");
            const QJsonObject object = QJsonDocument::fromJson(frame->payload).object();
            if (object.value("op").toString() == QLatin1String("pong"))
                break;
            QCOMPARE(object.value("op").toString(), QStringLiteral("message"));
            messages.push_back(object.value("data").toObject());
        }
        QCOMPARE(double(messages.size()) + conflated, double(published));
        std::map<QString, int> lastN;
        for (const QJsonObject &data : messages)
            lastN[data.value("id").toString()] = data.value("n").toInt();
        for (const QString &sensor : sensors)
            QCOMPARE(lastN[sensor], -1);
    }
};

QTEST_GUILESS_MAIN(TestClusterChannelPolicy)
#include "tst_clusterchannelpolicy.moc"
