// Presence across three switchboard-gateway nodes on one Redis: one roster per channel, one member
// per user across all of its connections on all nodes, member_added / member_removed heard once per
// user transition on every node, /api/presence and /api/channels the same from every node, and the
// members of a node killed with SIGKILL removed (member_removed on the survivors) within the node
// TTL plus a few seconds.
#include "ClusterHelpers.h"

#include <QElapsedTimer>

#include <csignal>
#include <sys/types.h>

using namespace clustertest;

namespace {

/// --node-ttl of every node: short, so the test is fast; CLUSTER_NODE_TTL=15 measures the default.
const int kNodeTtlSeconds = qEnvironmentVariableIsSet("CLUSTER_NODE_TTL") ? qEnvironmentVariableIntValue("CLUSTER_NODE_TTL") : 2;

QString tokenFor(const QString &user)
{
    const qint64 exp = QDateTime::currentSecsSinceEpoch() + 600;
    return makeToken({{"sub", user}, {"info", QJsonObject{{"name", user.toUpper()}}},
                      {"channels", QJsonArray{"presence-room/*"}}, {"exp", exp}});
}

/// presence frames `client` received so far with this event and member id.
int countPresence(WsClient &client, const QString &event, const QString &user)
{
    int n = 0;
    for (const QJsonObject &f : client.frames()) {
        if (f.value("op").toString() == "presence" && f.value("event").toString() == event
            && f.value("member").toObject().value("id").toString() == user)
            ++n;
    }
    return n;
}

/// Waits until every client heard `event` for `user` at least once.
bool waitPresence(const QList<WsClient *> &clients, const QString &event, const QString &user, int timeoutMs = 5000)
{
    QDeadlineTimer deadline(timeoutMs);
    while (!deadline.hasExpired()) {
        if (std::all_of(clients.begin(), clients.end(), [&](WsClient *c) { return countPresence(*c, event, user) >= 1; }))
            return true;
        QTest::qWait(5);
    }
    return false;
}

/// The members of /api/presence as "id:connections", in the order the node answered.
QStringList roster(QNetworkAccessManager &nam, const GatewayProcess &g, const QString &channel)
{
    const HttpResult r = http(nam, "GET", g.url("/api/presence?channel=" + channel));
    QStringList out;
    if (r.status != 200)
        return {"status " + QString::number(r.status)};
    for (const QJsonValue &m : r.json()["members"].toArray())
        out << m.toObject()["id"].toString() + ":" + QString::number(m.toObject()["connections"].toInt());
    return out;
}

} // namespace

class TestClusterPresence : public QObject {
    Q_OBJECT

private:
    RedisProcess redis;
    GatewayProcess a, b, c;
    QNetworkAccessManager nam;

    /// Connects `client` to `g` as `user` and subscribes it to `channel`.
    static bool join(WsClient &client, const GatewayProcess &g, const QString &user, const QString &channel)
    {
        if (!client.connectSession(g, tokenFor(user)))
            return false;
        client.send({{"op", "subscribe"}, {"channel", channel}, {"ackId", 7}});
        return client.waitFor("subscribed", 7).has_value();
    }

    /// A barrier: a fresh user joins `channel` on `g`; once every observer heard it, everything
    /// announced before it has arrived too (one pub/sub stream per node, in order).
    bool barrier(WsClient &joiner, const GatewayProcess &g, const QString &user, const QString &channel,
                 const QList<WsClient *> &observers)
    {
        return join(joiner, g, user, channel) && waitPresence(observers, "presence:member_added", user);
    }

    /// One inline command to the test's Redis; its reply line.
    QByteArray redisCommand(const QByteArray &inlineCommand)
    {
        QTcpSocket socket;
        socket.connectToHost(QHostAddress::LocalHost, redis.port());
        if (!socket.waitForConnected(2000))
            return {};
        socket.write(inlineCommand);
        QByteArray reply;
        QDeadlineTimer deadline(2000);
        while (!reply.contains("\r\n") && !deadline.hasExpired() && socket.waitForReadyRead(int(deadline.remainingTime())))
            reply += socket.readAll();
        return reply;
    }

    /// Polls until /api/presence answers `expected` on every node.
    bool waitRoster(const QString &channel, const QStringList &expected, int timeoutMs = 5000)
    {
        QDeadlineTimer deadline(timeoutMs);
        while (!deadline.hasExpired()) {
            bool all = true;
            for (GatewayProcess *g : {&a, &b, &c}) {
                if (g->process().state() == QProcess::Running && roster(nam, *g, channel) != expected)
                    all = false;
            }
            if (all)
                return true;
            QTest::qWait(20);
        }
        for (GatewayProcess *g : {&a, &b, &c})
            if (g->process().state() == QProcess::Running)
                qWarning() << "node" << g->port() << roster(nam, *g, channel) << "expected" << expected;
        return false;
    }

private slots:
    void initTestCase()
    {
        QVERIFY(redis.start());
        const QStringList args = nodeArgs(redis, "presence:") + QStringList{"--node-ttl", QString::number(kNodeTtlSeconds)};
        QVERIFY(a.start(args));
        QVERIFY(b.start(args));
        QVERIFY(c.start(args));
        for (GatewayProcess *g : {&a, &b, &c})
            QVERIFY(waitHealth(nam, *g, 200));
    }

    void sameUserOnTwoNodesIsOneMember()
    {
        const QString channel = "presence-room/1";
        WsClient obsA, obsB, obsC;
        QVERIFY(join(obsA, a, "obs-a", channel));
        QVERIFY(join(obsB, b, "obs-b", channel));
        QVERIFY(join(obsC, c, "obs-c", channel));
        const QList<WsClient *> observers{&obsA, &obsB, &obsC};
        // Each observer hears the ones that came after it, from other nodes.
        QVERIFY(waitPresence({&obsA, &obsB}, "presence:member_added", "obs-c"));
        QVERIFY(waitPresence({&obsA}, "presence:member_added", "obs-b"));

        // alice on A and on B: one member with two connections, announced once everywhere.
        WsClient aliceOnA, aliceOnB;
        QVERIFY(join(aliceOnA, a, "alice", channel));
        QVERIFY(join(aliceOnB, b, "alice", channel));
        QVERIFY(waitPresence(observers, "presence:member_added", "alice"));
        // The second connection's roster already counts both.
        const auto rosterFrame = aliceOnB.waitFor("presence");
        QVERIFY(rosterFrame);
        QCOMPARE((*rosterFrame)["event"].toString(), "presence:subscription_succeeded");
        QCOMPARE((*rosterFrame)["members"].toArray().size(), 4);
        QVERIFY(waitRoster(channel, {"alice:2", "obs-a:1", "obs-b:1", "obs-c:1"}));

        WsClient first;
        QVERIFY(barrier(first, c, "zz-first", channel, observers));
        for (WsClient *o : observers)
            QCOMPARE(countPresence(*o, "presence:member_added", "alice"), 1);

        // One of her connections goes: she stays, nobody hears anything.
        aliceOnA.socket().close();
        QVERIFY(waitRoster(channel, {"alice:1", "obs-a:1", "obs-b:1", "obs-c:1", "zz-first:1"}));
        // The last one goes: member_removed once on every node.
        aliceOnB.socket().close();
        QVERIFY(waitPresence(observers, "presence:member_removed", "alice"));
        WsClient second;
        QVERIFY(barrier(second, a, "zz-second", channel, observers));
        for (WsClient *o : observers)
            QCOMPARE(countPresence(*o, "presence:member_removed", "alice"), 1);
        QVERIFY(waitRoster(channel, {"obs-a:1", "obs-b:1", "obs-c:1", "zz-first:1", "zz-second:1"}));
        // Every node heard the others' transitions from Redis.
        for (GatewayProcess *g : {&a, &b, &c})
            QVERIFY(metrics(nam, *g).value("switchboard_engine_presence_remote_events_total") > 0);
    }

    void channelsApiAnswersForTheCluster()
    {
        // Subscribers of one public channel on all three nodes: 1 + 2 + 1.
        WsClient onA, onB1, onB2, onC;
        for (auto [client, node] : {std::pair{&onA, &a}, std::pair{&onB1, &b}, std::pair{&onB2, &b}, std::pair{&onC, &c}}) {
            QVERIFY(client->connectSession(*node));
            client->send({{"op", "subscribe"}, {"channel", "lobby"}, {"ackId", 1}});
            QVERIFY(client->waitFor("subscribed", 1));
        }
        QDeadlineTimer deadline(5000);
        QList<QJsonArray> answers;
        bool same = false;
        int lobbySubscribers = -1;
        while (!deadline.hasExpired()) {
            answers.clear();
            for (GatewayProcess *g : {&a, &b, &c}) {
                const HttpResult r = http(nam, "GET", g->url("/api/channels"));
                QCOMPARE(r.status, 200);
                answers << r.json()["channels"].toArray();
            }
            lobbySubscribers = -1;
            for (const QJsonValue &ch : answers[0])
                if (ch.toObject()["name"].toString() == "lobby")
                    lobbySubscribers = ch.toObject()["subscribers"].toInt();
            same = answers[0] == answers[1] && answers[1] == answers[2];
            if (same && lobbySubscribers == 4)
                break;
            QTest::qWait(50);
        }
        QVERIFY2(same, qPrintable(QJsonDocument(QJsonArray{answers.value(0), answers.value(1), answers.value(2)}).toJson()));
        QCOMPARE(lobbySubscribers, 4);
        for (const QJsonValue &ch : answers[0]) {
            if (ch.toObject()["name"].toString() == "lobby")
                QCOMPARE(ch.toObject()["type"].toString(), "public");
        }
    }

    void pausedNodeIsSweptThenRestoresItsMembers()
    {
        // B stops (SIGSTOP) for longer than its lease: the others sweep it; when it runs again its
        // beat finds the lease gone and it writes its connections back, announced to every node.
        const QString channel = "presence-room/3";
        WsClient obsA, obsC, bobOnB;
        QVERIFY(join(obsA, a, "obs-a", channel));
        QVERIFY(join(obsC, c, "obs-c", channel));
        QVERIFY(join(bobOnB, b, "bob", channel));
        const QList<WsClient *> observers{&obsA, &obsC};
        QVERIFY(waitPresence(observers, "presence:member_added", "bob"));
        const double syncsBefore = metrics(nam, b).value("switchboard_engine_presence_syncs_total");

        QCOMPARE(::kill(pid_t(b.pid()), SIGSTOP), 0);
        const bool removed = waitPresence(observers, "presence:member_removed", "bob", (kNodeTtlSeconds + 5) * 1000);
        QCOMPARE(::kill(pid_t(b.pid()), SIGCONT), 0);
        QVERIFY(removed);
        QDeadlineTimer deadline(5000);
        while (!deadline.hasExpired()
               && !std::all_of(observers.begin(), observers.end(),
                               [](WsClient *o) { return countPresence(*o, "presence:member_added", "bob") == 2; }))
            QTest::qWait(10);
        for (WsClient *o : observers)
            QCOMPARE(countPresence(*o, "presence:member_added", "bob"), 2);
        QVERIFY(waitRoster(channel, {"bob:1", "obs-a:1", "obs-c:1"}));
        QVERIFY(metrics(nam, b).value("switchboard_engine_presence_syncs_total") > syncsBefore);
        // bob's own connection heard the same story: removed, then added back.
        QVERIFY(waitPresence({&bobOnB}, "presence:member_removed", "bob"));
        QVERIFY(waitPresence({&bobOnB}, "presence:member_added", "bob"));
    }

    void stoppedNodeRemovesItsMembersAtOnce()
    {
        // A fourth node stopped with SIGTERM takes its members along before it exits: the others
        // hear member_removed well before its lease could expire.
        GatewayProcess d;
        QVERIFY(d.start(nodeArgs(redis, "presence:") + QStringList{"--node-ttl", QString::number(kNodeTtlSeconds)}));
        QVERIFY(waitHealth(nam, d, 200));
        const QString channel = "presence-room/4";
        WsClient obsA, bobOnD;
        QVERIFY(join(obsA, a, "obs-a", channel));
        QVERIFY(join(bobOnD, d, "bob", channel));
        QVERIFY(waitPresence({&obsA}, "presence:member_added", "bob"));
        double expiredBefore = 0;
        for (GatewayProcess *g : {&a, &b, &c})
            expiredBefore += metrics(nam, *g).value("switchboard_engine_nodes_expired_total");
        QElapsedTimer sinceStop;
        sinceStop.start();
        d.process().terminate();
        QVERIFY(waitPresence({&obsA}, "presence:member_removed", "bob", (kNodeTtlSeconds + 5) * 1000));
        const qint64 removedAfterMs = sinceStop.elapsed();
        qInfo("member_removed %lld ms after SIGTERM", removedAfterMs);
        QVERIFY2(removedAfterMs < 1000, "the stopped node left its members to the lease");
        QTRY_COMPARE_WITH_TIMEOUT(d.process().state(), QProcess::NotRunning, 5000);
        QCOMPARE(d.process().exitStatus(), QProcess::NormalExit);
        QCOMPARE(d.process().exitCode(), 0);
        // Its lease is left to expire; the sweep then finds nothing to announce again.
        const auto swept = [this] {
            double n = 0;
            for (GatewayProcess *g : {&a, &b, &c})
                n += metrics(nam, *g).value("switchboard_engine_nodes_expired_total");
            return n;
        };
        QTRY_COMPARE_WITH_TIMEOUT(swept(), expiredBefore + 1, (kNodeTtlSeconds + 5) * 1000);
        WsClient late;
        QVERIFY(barrier(late, b, "zz-late", channel, {&obsA}));
        QCOMPARE(countPresence(obsA, "presence:member_removed", "bob"), 1);
    }

    void refusedScriptIsCounted()
    {
        // A key of the wrong type makes Redis refuse the join's script (WRONGTYPE): the join still
        // succeeds (the subscriber is served; its member is not announced), the failure is counted.
        const QString channel = "presence-room/5";
        QVERIFY(redisCommand("SET presence:{" + channel.toUtf8() + "}:conns x\r\n").startsWith("+OK"));
        const double before = metrics(nam, a).value("switchboard_engine_presence_script_errors_total");
        WsClient client;
        QVERIFY(join(client, a, "erin", channel));
        QVERIFY(waitMetric(nam, a, "switchboard_engine_presence_script_errors_total", [before](double v) { return v == before + 1; }));
        QVERIFY(redisCommand("DEL presence:{" + channel.toUtf8() + "}:conns\r\n").startsWith(":1"));
    }

    // Last: it kills node C.
    void killedNodeMembersAreRemovedOnTheSurvivors()
    {
        const QString channel = "presence-room/2";
        WsClient obsA, obsB, bobOnC, daveOnC, daveOnA;
        QVERIFY(join(obsA, a, "obs-a", channel));
        QVERIFY(join(obsB, b, "obs-b", channel));
        QVERIFY(join(bobOnC, c, "bob", channel));
        QVERIFY(join(daveOnC, c, "dave", channel));
        QVERIFY(join(daveOnA, a, "dave", channel));
        const QList<WsClient *> observers{&obsA, &obsB};
        QVERIFY(waitPresence(observers, "presence:member_added", "bob"));
        QVERIFY(waitRoster(channel, {"bob:1", "dave:2", "obs-a:1", "obs-b:1"}));
        const double expiredBefore = metrics(nam, a).value("switchboard_engine_nodes_expired_total")
            + metrics(nam, b).value("switchboard_engine_nodes_expired_total");

        QElapsedTimer sinceKill;
        sinceKill.start();
        c.kill(); // SIGKILL: no goodbye to Redis
        const int budgetMs = (kNodeTtlSeconds + 5) * 1000;
        QVERIFY(waitPresence(observers, "presence:member_removed", "bob", budgetMs));
        const qint64 removedAfterMs = sinceKill.elapsed();
        qInfo("member_removed on the survivors %lld ms after kill -9 (node TTL %d s)", removedAfterMs, kNodeTtlSeconds);
        QVERIFY(removedAfterMs <= budgetMs);

        // dave keeps his connection on A: still a member, with one connection.
        QVERIFY(waitRoster(channel, {"dave:1", "obs-a:1", "obs-b:1"}));
        WsClient late;
        QVERIFY(barrier(late, b, "zz-late", channel, observers));
        for (WsClient *o : observers) {
            QCOMPARE(countPresence(*o, "presence:member_removed", "bob"), 1);
            QCOMPARE(countPresence(*o, "presence:member_removed", "dave"), 0);
        }
        // Exactly one survivor swept C.
        QCOMPARE(metrics(nam, a).value("switchboard_engine_nodes_expired_total")
                     + metrics(nam, b).value("switchboard_engine_nodes_expired_total") - expiredBefore,
                 1.0);
        // C's subscribers are gone from the cluster listing: obs-a and dave on A, obs-b and zz-late on B.
        QDeadlineTimer deadline(5000);
        int subscribers = -1;
        while (!deadline.hasExpired() && subscribers != 4) {
            const QJsonArray channels = http(nam, "GET", a.url("/api/channels")).json()["channels"].toArray();
            for (const QJsonValue &ch : channels)
                if (ch.toObject()["name"].toString() == channel)
                    subscribers = ch.toObject()["subscribers"].toInt();
            if (subscribers != 4)
                QTest::qWait(50);
        }
        QCOMPARE(subscribers, 4);
    }
};

QTEST_MAIN(TestClusterPresence)
#include "tst_clusterpresence.moc"
