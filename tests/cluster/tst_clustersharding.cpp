// Two Redis shards under three switchboard-gateway nodes (--engine URL0,URL1): each channel lives
// on the shard shardOfChannel() names (checked in each Redis), and for channels of both shards a
// publish on A reaches WebSocket and SSE subscribers on B and C, presence is the same from every
// node, history published on A is recovered on B. When one shard's Redis stops, publishes on its
// channels are refused 503 while the other shard's keep working; after its restart traffic resumes.
#include "ClusterHelpers.h"

#include <switchboard/ChannelShard.h>

#include <QTemporaryFile>

using namespace clustertest;

namespace {

/// The first channel named `base` + number that the gateways put on `shard` of two.
QString channelOnShard(std::size_t shard, const QString &base)
{
    for (int i = 0;; ++i) {
        const QString name = base + QString::number(i);
        if (switchboard::shardOfChannel(name.toStdString(), 2) == shard)
            return name;
    }
}

QString tokenFor(const QString &user)
{
    const qint64 exp = QDateTime::currentSecsSinceEpoch() + 600;
    return makeToken({{"sub", user}, {"channels", QJsonArray{"presence-room/*"}}, {"exp", exp}});
}

/// One inline command to `redis`; its reply (`lines` lines of RESP), trimmed.
QByteArray redisCommand(const RedisProcess &redis, const QByteArray &inlineCommand, int lines = 1)
{
    QTcpSocket socket;
    socket.connectToHost(QHostAddress::LocalHost, redis.port());
    if (!socket.waitForConnected(2000))
        return {};
    socket.write(inlineCommand + "\r\n");
    QByteArray reply;
    QDeadlineTimer deadline(2000);
    while (reply.count("\r\n") < lines && !deadline.hasExpired() && socket.waitForReadyRead(int(deadline.remainingTime())))
        reply += socket.readAll();
    return reply.trimmed();
}

/// The members of /api/presence as "id:connections".
QStringList roster(QNetworkAccessManager &nam, const GatewayProcess &g, const QString &channel)
{
    const HttpResult r = http(nam, "GET", g.url("/api/presence?channel=" + channel));
    if (r.status != 200)
        return {"status " + QString::number(r.status)};
    QStringList out;
    for (const QJsonValue &m : r.json()["members"].toArray())
        out << m.toObject()["id"].toString() + ":" + QString::number(m.toObject()["connections"].toInt());
    return out;
}

/// Polls /healthz of `g` until its status and body match.
bool waitHealthBody(QNetworkAccessManager &nam, const GatewayProcess &g, int status, const QByteArray &body, int timeoutMs = 10000)
{
    QDeadlineTimer deadline(timeoutMs);
    while (!deadline.hasExpired()) {
        const HttpResult r = http(nam, "GET", g.url("/healthz"), {}, false);
        if (r.status == status && r.body.contains(body))
            return true;
        QTest::qWait(20);
    }
    return false;
}

} // namespace

class TestClusterSharding : public QObject {
    Q_OBJECT

private:
    RedisProcess shards[2];
    GatewayProcess a, b, c;
    QNetworkAccessManager nam;

    /// EXISTS of `key` (prefixed) on each shard, as "0/1" pairs: "1,0" is on shard 0 only.
    QString whereIs(const QByteArray &key)
    {
        QStringList out;
        for (const RedisProcess &redis : shards)
            out << QString::fromLatin1(redisCommand(redis, "EXISTS " + key).mid(1));
        return out.join(',');
    }

private slots:
    void initTestCase()
    {
        for (RedisProcess &redis : shards)
            QVERIFY(redis.start());
        const QStringList args{"--engine", shards[0].url() + "," + shards[1].url(), "--engine-prefix", "sharding:",
                               "--engine-reconnect-max", "200"};
        QVERIFY(a.start(args));
        QVERIFY(b.start(args));
        QVERIFY(c.start(args));
        for (GatewayProcess *g : {&a, &b, &c})
            QVERIFY(waitHealthBody(nam, *g, 200, "\"status\":\"ok\""));
        QCOMPARE(metrics(nam, a).value("switchboard_engine_shards"), 2.0);
    }

    void channelsLandOnTheShardTheirNameHashesTo()
    {
        // Many channels: each one's stream is in exactly the Redis shardOfChannel() names, and
        // both shards hold some.
        int perShard[2] = {0, 0};
        for (int i = 0; i < 20; ++i) {
            const QString channel = "spread-" + QString::number(i);
            const std::size_t shard = switchboard::shardOfChannel(channel.toStdString(), 2);
            QCOMPARE(publishText(nam, a, channel, "x").status, 200);
            QCOMPARE(whereIs("sharding:{" + channel.toUtf8() + "}:stream"), shard == 0 ? QStringLiteral("1,0") : QStringLiteral("0,1"));
            ++perShard[shard];
        }
        QVERIFY(perShard[0] > 0 && perShard[1] > 0);
    }

    void publishOnOneNodeReachesWsAndSseOnTheOthersOnBothShards()
    {
        const QString channels[2] = {channelOnShard(0, "news-"), channelOnShard(1, "news-")};
        WsClient onB;
        QVERIFY(onB.connectSession(b));
        for (const QString &channel : channels)
            QVERIFY(subscribe(onB, channel));
        RawSse onC;
        QVERIFY(onC.open(c.port(), ("/sse?channels=" + channels[0] + "," + channels[1]).toUtf8()));
        // The two channels and the node's reply channel (on whichever shard its name falls).
        QVERIFY(waitMetric(nam, b, "switchboard_engine_listening_channels", [](double v) { return v == 3; }));
        QVERIFY(waitMetric(nam, c, "switchboard_engine_listening_channels", [](double v) { return v == 3; }));
        // Each channel's pub/sub lives on its own shard: B and C listen there, nobody on the other.
        const auto listeners = [this](std::size_t shard, const QString &channel) {
            // *2 $len name :count
            return redisCommand(shards[shard], "PUBSUB NUMSUB sharding:pub:" + channel.toUtf8(), 4).split('\n').last().trimmed();
        };
        QCOMPARE(listeners(0, channels[0]), QByteArray(":2"));
        QCOMPARE(listeners(1, channels[0]), QByteArray(":0"));
        QCOMPARE(listeners(1, channels[1]), QByteArray(":2"));
        QCOMPARE(listeners(0, channels[1]), QByteArray(":0"));

        for (const QString &channel : channels) {
            const HttpResult result = publishText(nam, a, channel, "hello " + channel);
            QCOMPARE(result.status, 200);
            const QJsonObject stored = firstStored(result);
            QCOMPARE(stored["offset"].toInt(), 1);
            const auto message = onB.waitFor("message");
            QVERIFY(message);
            QCOMPARE((*message)["channel"].toString(), channel);
            QCOMPARE((*message)["data"].toObject()["text"].toString(), "hello " + channel);
            // One SSE stream for both channels: its event id carries every channel's position.
            QVERIFY2(onC.waitFor(channel.toUtf8() + ":1:" + stored["epoch"].toString().toUtf8()), onC.received.constData());
            QVERIFY(onC.received.contains(("\"text\":\"hello " + channel + "\"").toUtf8()));
        }
        QCOMPARE(metrics(nam, b).value("switchboard_engine_received_remote_total"), 2.0);
        QCOMPARE(metrics(nam, c).value("switchboard_engine_received_remote_total"), 2.0);
    }

    void presenceIsTheSameFromEveryNodeOnBothShards()
    {
        const QString channels[2] = {channelOnShard(0, "presence-room/"), channelOnShard(1, "presence-room/")};
        WsClient alice, bob, carol;
        QVERIFY(alice.connectSession(a, tokenFor("alice")));
        QVERIFY(bob.connectSession(b, tokenFor("bob")));
        QVERIFY(carol.connectSession(c, tokenFor("carol")));
        for (const QString &channel : channels) {
            for (WsClient *client : {&alice, &bob, &carol})
                QVERIFY(subscribe(*client, channel));
        }
        const QStringList expected{"alice:1", "bob:1", "carol:1"};
        for (std::size_t s = 0; s < 2; ++s) {
            QDeadlineTimer deadline(5000);
            bool same = false;
            while (!same && !deadline.hasExpired()) {
                same = roster(nam, a, channels[s]) == expected && roster(nam, b, channels[s]) == expected
                       && roster(nam, c, channels[s]) == expected;
                if (!same)
                    QTest::qWait(20);
            }
            QVERIFY2(same, qPrintable(roster(nam, a, channels[s]).join(' ') + " | " + roster(nam, b, channels[s]).join(' ')
                                      + " | " + roster(nam, c, channels[s]).join(' ')));
            // The roster is kept in that channel's shard only.
            QCOMPARE(whereIs("sharding:{" + channels[s].toUtf8() + "}:members"), s == 0 ? QStringLiteral("1,0") : QStringLiteral("0,1"));
        }
        // Alice, on A and first in, heard bob (B) and carol (C) join both channels: each shard
        // carries the announcements of its channels.
        for (const QString &channel : channels) {
            for (const QString user : {"bob", "carol"}) {
                QDeadlineTimer deadline(5000);
                bool heard = false;
                while (!heard && !deadline.hasExpired()) {
                    for (const QJsonObject &f : alice.frames()) {
                        heard = heard || (f["op"].toString() == "presence" && f["event"].toString() == "presence:member_added"
                                          && f["channel"].toString() == channel && f["member"].toObject()["id"].toString() == user);
                    }
                    if (!heard)
                        QTest::qWait(5);
                }
                QVERIFY2(heard, qPrintable(channel + " " + user));
            }
        }
        // /api/channels is the union of both shards' records, the same from every node.
        QDeadlineTimer deadline(5000);
        QList<QJsonArray> answers;
        int found = 0;
        while (!deadline.hasExpired()) {
            answers.clear();
            for (GatewayProcess *g : {&a, &b, &c}) {
                const HttpResult r = http(nam, "GET", g->url("/api/channels"));
                QCOMPARE(r.status, 200);
                answers << r.json()["channels"].toArray();
            }
            found = 0;
            for (const QJsonValue &ch : answers[0]) {
                for (const QString &channel : channels)
                    found += ch.toObject()["name"].toString() == channel && ch.toObject()["subscribers"].toInt() == 3 ? 1 : 0;
            }
            if (found == 2 && answers[0] == answers[1] && answers[1] == answers[2])
                break;
            QTest::qWait(50);
        }
        QCOMPARE(found, 2);
        QCOMPARE(answers[0], answers[1]);
        QCOMPARE(answers[1], answers[2]);
    }

    void historyPublishedOnOneNodeIsRecoveredOnAnother()
    {
        for (std::size_t s = 0; s < 2; ++s) {
            const QString channel = channelOnShard(s, "feed-");
            QString epoch;
            for (const QString text : {"one", "two", "three"}) {
                const HttpResult r = publishText(nam, a, channel, text);
                QCOMPARE(r.status, 200);
                epoch = firstStored(r)["epoch"].toString();
            }
            const HttpResult history = http(nam, "GET", b.url("/api/history?channel=" + channel + "&since=1&epoch=" + epoch));
            QCOMPARE(history.status, 200);
            QCOMPARE(history.json()["complete"].toBool(), true);
            QCOMPARE(history.json()["publications"].toArray().size(), 2);

            WsClient ws;
            QVERIFY(ws.connectSession(b));
            const auto subscribed = subscribe(ws, channel, {{"offset", 1}, {"epoch", epoch}});
            QVERIFY(subscribed);
            QCOMPARE((*subscribed)["recovered"].toBool(), true);
            const QJsonArray missed = (*subscribed)["publications"].toArray();
            QCOMPARE(missed.size(), 2);
            QCOMPARE(missed[1].toObject()["data"].toObject()["text"].toString(), QStringLiteral("three"));
        }
    }

    void historyOnlyChannelsOfEveryShardAreListed()
    {
        // One channel with history and nobody subscribed on each shard: /api/channels on another
        // node lists both (0 subscribers), from both Redis servers.
        const QString onShard0 = channelOnShard(0, "archive/");
        const QString onShard1 = channelOnShard(1, "archive/");
        for (const QString &channel : {onShard0, onShard1})
            QCOMPARE(publishText(nam, a, channel, "kept").status, 200);
        QCOMPARE(whereIs("sharding:{" + onShard0.toUtf8() + "}:stream"), "1,0");
        QCOMPARE(whereIs("sharding:{" + onShard1.toUtf8() + "}:stream"), "0,1");
        const HttpResult r = http(nam, "GET", b.url("/api/channels"));
        QCOMPARE(r.status, 200);
        QHash<QString, int> subscribers;
        for (const QJsonValue &ch : r.json()["channels"].toArray())
            subscribers.insert(ch.toObject()["name"].toString(), ch.toObject()["subscribers"].toInt(-1));
        QCOMPARE(subscribers.value(onShard0, -1), 0);
        QCOMPARE(subscribers.value(onShard1, -1), 0);
        QCOMPARE(r.json()["truncated"].toBool(true), false);
    }

    void configFileTakesTheShardsAsAnArray()
    {
        QTemporaryFile config;
        QVERIFY(config.open());
        config.write(QJsonDocument(QJsonObject{{"engine", QJsonArray{shards[0].url(), shards[1].url()}},
                                               {"enginePrefix", "sharding:"}, {"engineReconnectMaxMs", 200}})
                         .toJson());
        config.flush();
        GatewayProcess d;
        QVERIFY(d.start({"--config", config.fileName()}));
        QVERIFY(waitHealthBody(nam, d, 200, "\"status\":\"ok\""));
        // D agrees with the others on where a channel lives: B hears what D publishes.
        const QString channel = channelOnShard(1, "config-");
        WsClient onB;
        QVERIFY(onB.connectSession(b));
        QVERIFY(subscribe(onB, channel));
        QCOMPARE(publishText(nam, d, channel, "from d").status, 200);
        QVERIFY(onB.waitFor("message"));
        QCOMPARE(whereIs("sharding:{" + channel.toUtf8() + "}:stream"), QStringLiteral("0,1"));
    }

    void badShardListsAreRefusedAtStart_data()
    {
        QTest::addColumn<QString>("engine");
        QTest::addColumn<QString>("reason");
        QTest::newRow("repeated") << shards[0].url() + "," + shards[0].url() << "shard 1 repeats";
        QTest::newRow("empty entry") << shards[0].url() + ",," + shards[1].url() << "--engine";
        QTest::newRow("not redis") << shards[0].url() + ",http://x" << "--engine";
    }

    void badShardListsAreRefusedAtStart()
    {
        QFETCH(QString, engine);
        QFETCH(QString, reason);
        GatewayProcess g;
        g.captureLog();
        QVERIFY(!g.start({"--engine", engine}));
        if (g.process().state() != QProcess::NotRunning)
            g.process().waitForFinished(5000);
        QCOMPARE(g.process().state(), QProcess::NotRunning);
        QVERIFY(g.process().exitCode() != 0);
        const QByteArray err = g.process().readAllStandardError();
        QVERIFY2(err.contains(reason.toUtf8()), err.constData());
    }

    void stoppedShardRefusesOnlyItsChannelsThenResumes()
    {
        const QString alive = channelOnShard(0, "outage-");
        const QString lost = channelOnShard(1, "outage-");
        WsClient onB;
        QVERIFY(onB.connectSession(b));
        QVERIFY(subscribe(onB, alive));
        QVERIFY(subscribe(onB, lost));
        QCOMPARE(publishText(nam, a, lost, "before").status, 200);
        QVERIFY(onB.waitFor("message"));

        QElapsedTimer clock;
        clock.start();
        shards[1].stop();
        // Every node stays in service, degraded: shard 1 is down.
        for (GatewayProcess *g : {&a, &b, &c})
            QVERIFY(waitHealthBody(nam, *g, 200, "\"status\":\"degraded\",\"shardsDown\":[1]"));
        qInfo("shard 1 seen down on every node %lld ms after the kill", clock.elapsed());
        for (int i = 0; i < 3; ++i) {
            const HttpResult refused = publishText(nam, a, lost, "lost");
            QCOMPARE(refused.status, 503);
            QCOMPARE(firstStored(refused)["error"].toObject()["code"].toInt(), 503);
            // The other shard's channel keeps working, across nodes.
            const HttpResult served = publishText(nam, c, alive, "still " + QString::number(i));
            QCOMPARE(served.status, 200);
            const auto message = onB.waitFor("message");
            QVERIFY(message);
            QCOMPARE((*message)["channel"].toString(), alive);
        }
        // A WebSocket publish on the lost shard is refused the same way.
        onB.send({{"op", "publish"}, {"channel", lost}, {"event", "message"}, {"data", QJsonObject{}}, {"ackId", 7}});
        const auto error = onB.waitFor("error", 7);
        QVERIFY(error);
        QCOMPARE((*error)["code"].toInt(), 503);
        const auto counters = metrics(nam, a);
        QCOMPARE(counters.value("switchboard_engine_up"), 0.0);
        QCOMPARE(counters.value("switchboard_engine_shard_up{shard=\"0\"}"), 1.0);
        QCOMPARE(counters.value("switchboard_engine_shard_up{shard=\"1\"}"), 0.0);
        QVERIFY(counters.value("switchboard_engine_shard_refused_total{shard=\"1\"}") >= 3);
        QCOMPARE(counters.value("switchboard_engine_shard_refused_total{shard=\"0\"}"), 0.0);

        // Back (empty, same port): every node reconnects; the lost shard's subscriber on B is told
        // to recover (its stream is gone), the other shard's subscription is untouched.
        clock.restart();
        QVERIFY(shards[1].start());
        for (GatewayProcess *g : {&a, &b, &c})
            QVERIFY(waitHealthBody(nam, *g, 200, "\"status\":\"ok\""));
        qInfo("shard 1 seen up on every node %lld ms after its restart", clock.elapsed());
        QCOMPARE(onB.waitClosed(10000), 3007);
        WsClient again;
        QVERIFY(again.connectSession(c));
        QVERIFY(subscribe(again, lost));
        QVERIFY(subscribe(again, alive));
        const HttpResult resumed = publishText(nam, a, lost, "after");
        QCOMPARE(resumed.status, 200);
        QCOMPARE(firstStored(resumed)["offset"].toInt(), 1); // a new epoch on the restarted shard
        const auto message = again.waitFor("message");
        QVERIFY(message);
        QCOMPARE((*message)["data"].toObject()["text"].toString(), QStringLiteral("after"));
        QCOMPARE(publishText(nam, b, alive, "also").status, 200);
        QVERIFY(again.waitFor("message"));

        // With every shard down the node is out of service.
        shards[0].stop();
        shards[1].stop();
        QVERIFY(waitHealthBody(nam, a, 503, "engine unavailable"));
        QCOMPARE(publishText(nam, a, alive, "none").status, 503);
    }
};

QTEST_MAIN(TestClusterSharding)
#include "tst_clustersharding.moc"
