// An in-process Qt gateway (the QML Gateway: Hub + QtWebSocketGateway on QtEngine) and a
// switchboard-gateway process on one Redis and key prefix behave as one service: a publication
// on either reaches subscribers of the other, in offset order, and history published through
// switchboard-gateway is recovered on the Qt gateway. The Qt gateway's Redis connections run on
// the test's Qt event loop (QtRedisEventLoop); they come back after Redis restarts.
#include "ClusterHelpers.h"

#include <switchboard/qt/Gateway.h>
#include <switchboard/qtws/QtEngine.h>
#include <switchboard/Authorizer.h>
#include <switchboard/ChannelShard.h>

using namespace clustertest;
using switchboard::qt::Gateway;

class TestClusterQtGateway : public QObject {
    Q_OBJECT

private:
    RedisProcess redis;
    GatewayProcess headless;
    Gateway qtGateway;
    QNetworkAccessManager nam;

    static void publishOver(WsClient &client, const QString &channel, const QString &text, int ackId)
    {
        client.send({{"op", "publish"}, {"channel", channel}, {"event", "message"},
                     {"data", QJsonObject{{"text", text}}}, {"ackId", ackId}});
    }
    QUrl qtUrl() const { return QUrl(qtGateway.url()); }

private slots:
    void initTestCase()
    {
        QVERIFY(redis.start());
        QVERIFY(headless.start(nodeArgs(redis, "qtcluster:")));
        QVERIFY(waitHealth(nam, headless, 200));

        qtGateway.setStatsInterval(0);
        qtGateway.setClientPublish(Gateway::Always);
        qtGateway.setEngine(redis.url());
        qtGateway.setEnginePrefix(QStringLiteral("qtcluster:"));
        // Presence joins on the Qt gateway: anyone, as the channelData user_id.
        qtGateway.setAuthorizer([](const switchboard::AuthRequest &) { return switchboard::AuthDecision{true}; });
        QVERIFY2(qtGateway.start(), qPrintable(qtGateway.errorString()));
        QVERIFY(qtGateway.qtEngine()->isRedis());
        QTRY_VERIFY_WITH_TIMEOUT(qtGateway.engineAvailable(), 10000);
    }

    void publishOnQtGatewayReachesHeadlessSubscriber()
    {
        WsClient subscriber;
        QVERIFY(subscriber.connectSession(headless));
        // `subscribed` comes once the node's SUBSCRIBE is confirmed by Redis.
        QVERIFY(subscribe(subscriber, "news"));

        WsClient publisher;
        QVERIFY(publisher.connectSession(qtUrl()));
        publishOver(publisher, "news", "from qt", 5);
        const auto ack = publisher.waitFor("ack", 5);
        QVERIFY(ack);
        QCOMPARE((*ack)["offset"].toInt(), 1);
        // A server-side publish of the panel app (Gateway::publish) travels the same way.
        qtGateway.publish("news", "message", QVariantMap{{"text", "from the panel"}});

        const auto first = subscriber.waitFor("message");
        QVERIFY(first);
        QCOMPARE((*first)["data"].toObject()["text"].toString(), QStringLiteral("from qt"));
        QCOMPARE((*first)["offset"].toInt(), 1);
        QCOMPARE((*first)["epoch"].toString(), (*ack)["epoch"].toString());
        const auto second = subscriber.waitFor("message");
        QVERIFY(second);
        QCOMPARE((*second)["data"].toObject()["text"].toString(), QStringLiteral("from the panel"));
        QCOMPARE((*second)["offset"].toInt(), 2);
        // Received from another node by switchboard-gateway.
        QVERIFY(waitMetric(nam, headless, "switchboard_engine_received_remote_total", [](double v) { return v == 2; }));
    }

    void publishOnHeadlessReachesQtSubscriber()
    {
        WsClient subscriber;
        QVERIFY(subscriber.connectSession(qtUrl()));
        QVERIFY(subscribe(subscriber, "alerts"));
        // The channel and the node's reply channel.
        QTRY_COMPARE(qtGateway.qtEngine()->counters().listening, std::size_t(2));
        const quint64 remoteBefore = qtGateway.qtEngine()->counters().receivedRemote;

        // Over HTTP and over a WebSocket of switchboard-gateway, interleaved: offsets in order.
        WsClient publisher; // switchboard-gateway lets subscribers publish
        QVERIFY(publisher.connectSession(headless));
        QVERIFY(subscribe(publisher, "alerts"));
        for (int i = 1; i <= 10; ++i) {
            if (i % 2)
                QCOMPARE(publishText(nam, headless, "alerts", QString::number(i)).status, 200);
            else
                publishOver(publisher, "alerts", QString::number(i), i); // may not ack before the next HTTP one
        }
        for (int expected = 1; expected <= 10; ++expected) {
            const auto message = subscriber.waitFor("message");
            QVERIFY2(message, qPrintable(QStringLiteral("offset %1 missing").arg(expected)));
            QCOMPARE((*message)["offset"].toInt(), expected);
        }
        QCOMPARE(qtGateway.qtEngine()->counters().receivedRemote, remoteBefore + 10);
    }

    void historyPublishedOnHeadlessIsRecoveredOnQtGateway()
    {
        QString epoch;
        for (const QString text : {"one", "two", "three"}) {
            const HttpResult r = publishText(nam, headless, "feed", text);
            QCOMPARE(r.status, 200);
            epoch = firstStored(r)["epoch"].toString();
        }
        QVERIFY(!epoch.isEmpty());

        WsClient client;
        QVERIFY(client.connectSession(qtUrl()));
        const auto subscribed = subscribe(client, "feed", {{"offset", 1}, {"epoch", epoch}});
        QVERIFY(subscribed);
        QCOMPARE((*subscribed)["recovered"].toBool(), true);
        QCOMPARE((*subscribed)["epoch"].toString(), epoch);
        const QJsonArray missed = (*subscribed)["publications"].toArray();
        QCOMPARE(missed.size(), 2);
        QCOMPARE(missed[0].toObject()["offset"].toInt(), 2);
        QCOMPARE(missed[0].toObject()["data"].toObject()["text"].toString(), QStringLiteral("two"));
        QCOMPARE(missed[1].toObject()["data"].toObject()["text"].toString(), QStringLiteral("three"));

        // And the other way: switchboard-gateway serves what the Qt gateway published.
        WsClient publisher;
        QVERIFY(publisher.connectSession(qtUrl()));
        publishOver(publisher, "feed", "four", 9);
        QVERIFY(publisher.waitFor("ack", 9));
        const HttpResult history = http(nam, "GET", headless.url("/api/history?channel=feed&since=3&epoch=" + epoch));
        QCOMPARE(history.status, 200);
        QCOMPARE(history.json()["complete"].toBool(), true);
        const QJsonArray after = history.json()["publications"].toArray();
        QCOMPARE(after.size(), 1);
        QCOMPARE(after[0].toObject()["data"].toObject()["text"].toString(), QStringLiteral("four"));
    }

    void presenceSpansQtGatewayAndHeadless()
    {
        const QString channel = "presence-room/qt";
        WsClient onQt;
        QVERIFY(onQt.connectSession(qtUrl()));
        onQt.send({{"op", "subscribe"}, {"channel", channel}, {"channelData", QJsonObject{{"user_id", "quinn"}}}, {"ackId", 1}});
        QVERIFY(onQt.waitFor("subscribed", 1));

        WsClient onHeadless;
        const QString token = makeToken({{"sub", "alice"}, {"channels", QJsonArray{"presence-room/*"}},
                                         {"exp", QDateTime::currentSecsSinceEpoch() + 600}});
        QVERIFY(onHeadless.connectSession(headless, token));
        QVERIFY(subscribe(onHeadless, channel));
        // alice's roster, read from Redis, has the Qt gateway's member.
        const auto rosterFrame = onHeadless.waitFor("presence");
        QVERIFY(rosterFrame);
        QCOMPARE((*rosterFrame)["members"].toArray().size(), 2);
        // quinn, on the Qt gateway, hears alice arrive through Redis.
        QDeadlineTimer deadline(5000);
        bool heard = false;
        while (!heard && !deadline.hasExpired()) {
            if (const auto f = onQt.waitFor("presence", -1, int(deadline.remainingTime())))
                heard = (*f)["event"].toString() == "presence:member_added" && (*f)["member"].toObject()["id"].toString() == "alice";
        }
        QVERIFY(heard);
        const QJsonArray members = http(nam, "GET", headless.url("/api/presence?channel=" + channel)).json()["members"].toArray();
        QCOMPARE(members.size(), 2);
        QCOMPARE(members[0].toObject()["id"].toString(), "alice");
        QCOMPARE(members[1].toObject()["id"].toString(), "quinn");
    }

    void qtGatewayOnTwoShardsSharesBothShardsChannels()
    {
        // Another deployment (prefix) on the test's Redis plus a second one: the Qt engine string
        // takes the same comma list as --engine, and both sides agree on each channel's shard.
        RedisProcess second;
        QVERIFY(second.start());
        const QString engine = redis.url() + "," + second.url();
        GatewayProcess node;
        QVERIFY(node.start({"--engine", engine, "--engine-prefix", "qtshards:", "--engine-reconnect-max", "200"}));
        QVERIFY(waitHealth(nam, node, 200));
        Gateway sharded;
        sharded.setStatsInterval(0);
        sharded.setClientPublish(Gateway::Always);
        sharded.setEngine(engine);
        sharded.setEnginePrefix(QStringLiteral("qtshards:"));
        QVERIFY2(sharded.start(), qPrintable(sharded.errorString()));
        QVERIFY(sharded.qtEngine()->description().contains(second.url().mid(8)));
        QTRY_VERIFY_WITH_TIMEOUT(sharded.engineAvailable(), 10000);

        for (std::size_t shard = 0; shard < 2; ++shard) {
            QString channel;
            for (int i = 0; channel.isEmpty(); ++i) {
                const QString name = "sharded-" + QString::number(i);
                if (switchboard::shardOfChannel(name.toStdString(), 2) == shard)
                    channel = name;
            }
            WsClient onQt;
            QVERIFY(onQt.connectSession(QUrl(sharded.url())));
            QVERIFY(subscribe(onQt, channel));
            QCOMPARE(publishText(nam, node, channel, "to qt").status, 200);
            const auto message = onQt.waitFor("message");
            QVERIFY2(message, qPrintable(channel));
            QCOMPARE((*message)["data"].toObject()["text"].toString(), QStringLiteral("to qt"));

            WsClient onNode;
            QVERIFY(onNode.connectSession(node));
            QVERIFY(subscribe(onNode, channel));
            publishOver(onQt, channel, "from qt", 9);
            const auto ack = onQt.waitFor("ack", 9);
            QVERIFY(ack);
            QCOMPARE((*ack)["offset"].toInt(), 2);
            QVERIFY(onNode.waitFor("message"));
        }
        sharded.stop();
    }

    void qtGatewayRefusesWhileRedisIsDownAndReconnects()
    {
        WsClient client;
        QVERIFY(client.connectSession(qtUrl()));
        redis.stop();
        QTRY_VERIFY_WITH_TIMEOUT(!qtGateway.engineAvailable(), 10000);
        publishOver(client, "news", "lost", 3);
        const auto error = client.waitFor("error", 3);
        QVERIFY(error);
        QCOMPARE((*error)["code"].toInt(), 503);
        QVERIFY(!client.waitFor("ack", 3, 0));
        QVERIFY(qtGateway.running());

        QVERIFY(redis.start()); // same port, empty
        QTRY_VERIFY_WITH_TIMEOUT(qtGateway.engineAvailable(), 10000);
        QVERIFY(qtGateway.qtEngine()->counters().reconnects >= 1);
        QVERIFY(waitHealth(nam, headless, 200));
        WsClient subscriber;
        QVERIFY(subscriber.connectSession(headless));
        QVERIFY(subscribe(subscriber, "after"));
        publishOver(client, "after", "back", 4);
        QVERIFY(client.waitFor("ack", 4));
        const auto message = subscriber.waitFor("message");
        QVERIFY(message);
        QCOMPARE((*message)["data"].toObject()["text"].toString(), QStringLiteral("back"));
    }
};

QTEST_MAIN(TestClusterQtGateway)
#include "tst_clusterqtgateway.moc"
