// Three switchboard-gateway nodes on one Redis behave as one service: an HTTP publish on A
// reaches WebSocket and SSE subscribers on B and C, in offset order, and history published on A
// is recovered on B (`recover` on subscribe, /api/history) and C (SSE Last-Event-ID); scripts
// flushed from Redis are sent again; a stored publication with flags a node does not know (as an
// older node sees `compress`) is refused, counted and left out of history; the latest value on
// subscribe is read from Redis on any node.
#include "ClusterHelpers.h"

using namespace clustertest;

class TestClusterDelivery : public QObject {
    Q_OBJECT

private:
    RedisProcess redis;
    GatewayProcess a, b, c;
    QNetworkAccessManager nam;

private slots:
    void initTestCase() { QVERIFY(startCluster(redis, nam, "delivery:", {&a, &b, &c})); }

    void publishOnOneNodeReachesSubscribersOnTheOthers()
    {
        WsClient ws;
        QVERIFY(ws.connectSession(b));
        QVERIFY(subscribe(ws, "news"));
        RawSse sse;
        QVERIFY(sse.open(c.port(), "/sse?channels=news"));
        // Both nodes listen in Redis before anything is published (2: the channel and the node's
        // reply channel, which every node listens to).
        QVERIFY(waitMetric(nam, b, "switchboard_engine_listening_channels", [](double v) { return v == 2; }));
        QVERIFY(waitMetric(nam, c, "switchboard_engine_listening_channels", [](double v) { return v == 2; }));

        const HttpResult result = publishText(nam, a, "news", "hello");
        QCOMPARE(result.status, 200);
        const QJsonObject stored = firstStored(result);
        QCOMPARE(stored["offset"].toInt(), 1);
        const QString epoch = stored["epoch"].toString();
        QVERIFY(!epoch.isEmpty());

        const auto message = ws.waitFor("message");
        QVERIFY(message);
        QCOMPARE((*message)["data"].toObject()["text"].toString(), QStringLiteral("hello"));
        QCOMPARE((*message)["offset"].toInt(), 1);
        QVERIFY(sse.waitFor("id: news:1:" + epoch.toUtf8()));
        QVERIFY(sse.received.contains("\"text\":\"hello\""));
        // Counted as received from another node on B and C, not on A (which has no subscriber).
        QCOMPARE(metrics(nam, b).value("switchboard_engine_received_remote_total"), 1.0);
        QCOMPARE(metrics(nam, c).value("switchboard_engine_received_remote_total"), 1.0);
        QCOMPARE(metrics(nam, a).value("switchboard_engine_received_total"), 0.0);
    }

    void publicationsArriveInOffsetOrder()
    {
        WsClient ws;
        QVERIFY(ws.connectSession(c));
        // `subscribed` comes after the node's SUBSCRIBE was confirmed by Redis (the join's read
        // waits for it), so nothing published from here on can miss this subscriber.
        QVERIFY(subscribe(ws, "ticks"));
        // From two nodes at once, pipelined: offsets are assigned by Redis, delivery follows them.
        QJsonArray batch;
        for (int i = 0; i < 25; ++i)
            batch.append(QJsonObject{{"channel", "ticks"}, {"data", i}});
        QCOMPARE(publish(nam, a, {{"publications", batch}}).status, 200);
        QCOMPARE(publish(nam, b, {{"publications", batch}}).status, 200);
        for (int expected = 1; expected <= 50; ++expected) {
            const auto message = ws.waitFor("message");
            QVERIFY2(message, qPrintable(QStringLiteral("offset %1 missing").arg(expected)));
            QCOMPARE((*message)["offset"].toInt(), expected);
        }
    }

    void historyPublishedOnOneNodeIsRecoveredOnAnother()
    {
        QString epoch;
        for (const QString text : {"one", "two", "three"}) {
            const HttpResult r = publishText(nam, a, "feed", text);
            QCOMPARE(r.status, 200);
            epoch = firstStored(r)["epoch"].toString();
        }
        // /api/history on B: exactly the gap after offset 1.
        const HttpResult history = http(nam, "GET", b.url("/api/history?channel=feed&since=1&epoch=" + epoch));
        QCOMPARE(history.status, 200);
        QCOMPARE(history.json()["complete"].toBool(), true);
        QCOMPARE(history.json()["offset"].toInt(), 3);
        QCOMPARE(history.json()["publications"].toArray().size(), 2);
        // A position of another epoch: everything held, not complete (as the memory engine).
        const QJsonObject foreign = http(nam, "GET", b.url("/api/history?channel=feed&since=1&epoch=other")).json();
        QCOMPARE(foreign["complete"].toBool(), false);
        QCOMPARE(foreign["publications"].toArray().size(), 3);

        // WebSocket recovery on B.
        WsClient ws;
        QVERIFY(ws.connectSession(b));
        const auto subscribed = subscribe(ws, "feed", {{"offset", 1}, {"epoch", epoch}});
        QVERIFY(subscribed);
        QCOMPARE((*subscribed)["recovered"].toBool(), true);
        const QJsonArray missed = (*subscribed)["publications"].toArray();
        QCOMPARE(missed.size(), 2);
        QCOMPARE(missed[0].toObject()["offset"].toInt(), 2);
        QCOMPARE(missed[1].toObject()["data"].toObject()["text"].toString(), QStringLiteral("three"));

        // SSE recovery on C with Last-Event-ID.
        RawSse sse;
        QVERIFY(sse.open(c.port(), "/sse?channels=feed", "feed:1:" + epoch.toUtf8()));
        QVERIFY(sse.waitFor("id: feed:3:" + epoch.toUtf8()));
        QVERIFY(sse.received.contains("id: feed:2:" + epoch.toUtf8()));
        QVERIFY(!sse.received.contains("id: feed:1:"));
    }

    /// The latest value on subscribe comes from the Redis stream: published on A, read on B
    /// (WebSocket `latest`) and C (SSE `latest=1`).
    void latestValueFromAnotherNode()
    {
        publishText(nam, a, "gauge", "low");
        const HttpResult r = publishText(nam, a, "gauge", "high");
        QCOMPARE(r.status, 200);
        const QString epoch = firstStored(r)["epoch"].toString();
        const int offset = firstStored(r)["offset"].toInt();
        QCOMPARE(offset, 2);

        WsClient ws;
        QVERIFY(ws.connectSession(b));
        ws.send({{"op", "subscribe"}, {"channel", "gauge"}, {"ackId", 7}, {"latest", true}});
        const auto subscribed = ws.waitFor("subscribed", 7);
        QVERIFY(subscribed);
        QCOMPARE((*subscribed)["offset"].toInt(), offset);
        QCOMPARE((*subscribed)["epoch"].toString(), epoch);
        const auto latest = ws.waitFor("message");
        QVERIFY(latest);
        QCOMPARE((*latest)["data"].toObject()["text"].toString(), QStringLiteral("high"));
        QCOMPARE((*latest)["offset"].toInt(), offset);
        QCOMPARE((*latest)["epoch"].toString(), epoch);
        QCOMPARE((*latest)["latest"].toBool(), true);

        RawSse sse;
        QVERIFY(sse.open(c.port(), "/sse?channels=gauge&latest=1"));
        QVERIFY(sse.waitFor("\"latest\":true"));
        QVERIFY(sse.received.contains("\"text\":\"high\""));
        QVERIFY(!sse.received.contains("\"text\":\"low\""));
    }

    /// What a node does with a stored publication whose flags it does not know: here the digit 4,
    /// as a node older than `compress` sees the 2 and 3 newer nodes write (docs/scaling.md,
    /// "Mixing versions"). The entry is written as the publish script writes it.
    void publicationWithUnknownFlagsIsRefusedAndCounted()
    {
        GatewayProcess d;
        d.captureLog();
        QVERIFY(d.start(nodeArgs(redis, "delivery:")));
        QVERIFY(waitHealth(nam, d, 200));
        WsClient ws;
        QVERIFY(ws.connectSession(d));
        QVERIFY(subscribe(ws, "mixed"));
        QVERIFY(waitMetric(nam, d, "switchboard_engine_listening_channels", [](double v) { return v == 2; })); // its reply channel and mixed
        const HttpResult first = publishText(nam, a, "mixed", "one");
        QCOMPARE(first.status, 200);
        const QByteArray epoch = firstStored(first)["epoch"].toString().toUtf8();
        QVERIFY(ws.waitFor("message"));
        const double errorsBefore = metrics(nam, d).value("switchboard_engine_errors_total");

        // Offset 2: origin, event, timestamp, sender, exceptSession, flags "4", data 2.
        const QByteArray body = "16:node-x4:tick13:17000000000000:0:1:41:2";
        QCOMPARE(redis.command("HINCRBY delivery:{mixed}:meta t 1"), QByteArray(":2\r\n"));
        const QByteArray storedAt = QByteArray::number(QDateTime::currentMSecsSinceEpoch()); // within the history TTL
        QVERIFY(redis.command("XADD delivery:{mixed}:stream 2-0 b " + body + " m " + storedAt).startsWith("$"));
        QVERIFY(redis.command("PUBLISH delivery:pub:mixed 2:" + epoch + ":" + body).startsWith(":"));

        // Live: refused, counted and logged, and nothing is lost silently: the channel's
        // subscribers are told to recover (close 3007), as after any gap.
        QVERIFY(waitMetric(nam, d, "switchboard_engine_errors_total", [&](double v) { return v >= errorsBefore + 1; }));
        QVERIFY(!d.waitForLog(QRegularExpression("malformed publication on mixed")).isEmpty());
        QCOMPARE(ws.waitClosed(10000), 3007);
        QCOMPARE(publishText(nam, a, "mixed", "three").status, 200);

        // From history: left out, and the read is not complete.
        const QJsonObject history = http(nam, "GET", d.url("/api/history?channel=mixed&since=1&epoch=" + epoch)).json();
        QCOMPARE(history["complete"].toBool(), false);
        QCOMPARE(history["publications"].toArray().size(), 1);
        QCOMPARE(history["publications"].toArray()[0].toObject()["offset"].toInt(), 3);
        QVERIFY(!d.waitForLog(QRegularExpression("malformed history entry in mixed")).isEmpty());
        WsClient late;
        QVERIFY(late.connectSession(d));
        const auto recovered = subscribe(late, "mixed", {{"offset", 1}, {"epoch", QString::fromUtf8(epoch)}});
        QVERIFY(recovered);
        QCOMPARE((*recovered)["recovered"].toBool(), false);
        QCOMPARE((*recovered)["publications"].toArray().size(), 1);
    }

    void scriptsFlushedFromRedisAreSentAgain()
    {
        // The nodes know the scripts by SHA (EVALSHA); after a flush Redis answers NOSCRIPT and
        // the call is resent whole (EVAL) while the scripts are loaded again.
        QCOMPARE(redis.command("SCRIPT FLUSH"), QByteArray("+OK\r\n"));
        const HttpResult first = publishText(nam, a, "flushed", "one");
        QCOMPARE(first.status, 200);
        QCOMPARE(firstStored(first)["offset"].toInt(), 1);
        QCOMPARE(redis.command("SCRIPT FLUSH"), QByteArray("+OK\r\n"));
        const HttpResult history = http(nam, "GET", b.url("/api/history?channel=flushed"));
        QCOMPARE(history.status, 200);
        QCOMPARE(history.json()["offset"].toInt(), 1);
        QCOMPARE(history.json()["publications"].toArray().size(), 1);
        // Loaded again: the next publication goes by SHA.
        const HttpResult second = publishText(nam, a, "flushed", "two");
        QCOMPARE(second.status, 200);
        QCOMPARE(firstStored(second)["offset"].toInt(), 2);
    }

    void serverSubscriptionOnOneNodeGetsPublicationsFromAnother()
    {
        WsClient ws;
        QVERIFY(ws.open(b));
        ws.send({{"op", "connect"}, {"version", 1}});
        const auto welcome = ws.waitFor("welcome");
        QVERIFY(welcome);
        const QString session = welcome->value("session").toString();
        // The API acts on the node that receives it: A does not know B's session.
        const QJsonObject body{{"channel", "pushed"}, {"session", session}};
        QCOMPARE(http(nam, "POST", a.url("/api/subscribe"), QJsonDocument(body).toJson()).status, 404);
        const HttpResult subscribed = http(nam, "POST", b.url("/api/subscribe"), QJsonDocument(body).toJson());
        QCOMPARE(subscribed.status, 200);
        QCOMPARE(subscribed.json()["sessions"].toInt(), 1);
        // `subscribed` follows the node's SUBSCRIBE in Redis, as for a client subscribe.
        const auto frame = ws.waitFor("subscribed");
        QVERIFY(frame);
        QCOMPARE((*frame)["server"].toBool(), true);
        QCOMPARE(publishText(nam, a, "pushed", "from A").status, 200);
        const auto message = ws.waitFor("message");
        QVERIFY(message);
        QCOMPARE((*message)["data"].toObject()["text"].toString(), QStringLiteral("from A"));
        const HttpResult left = http(nam, "POST", b.url("/api/unsubscribe"), QJsonDocument(body).toJson());
        QCOMPARE(left.json()["sessions"].toInt(), 1);
        QVERIFY(ws.waitFor("unsubscribed"));
    }

    void nodesStopListeningWhenTheLastSubscriberLeaves()
    {
        // Only the node's own reply channel is left.
        QVERIFY(waitMetric(nam, b, "switchboard_engine_listening_channels", [](double v) { return v == 1; }));
        QVERIFY(waitMetric(nam, c, "switchboard_engine_listening_channels", [](double v) { return v == 1; }));
    }
};

QTEST_MAIN(TestClusterDelivery)
#include "tst_clusterdelivery.moc"
