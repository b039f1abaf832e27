// Idempotent publish across nodes: two switchboard-gateway nodes on one Redis (started by the
// test) see one publication per idempotency key. The same key published over WebSocket on node A
// then node B is delivered once to subscribers on both nodes and both acks carry one offset; the
// HTTP API's key (body member or Idempotency-Key header) is deduplicated the same way; a key of
// one user does not suppress another user's publication.
#include "ClusterHelpers.h"

using namespace clustertest;

namespace {

/// Every `message` frame that arrives on `client` within `ms`.
int messagesWithin(WsClient &client, int ms)
{
    int n = 0;
    QDeadlineTimer deadline(ms);
    while (!deadline.hasExpired()) {
        if (client.waitFor("message", -1, int(std::max<qint64>(1, deadline.remainingTime()))))
            ++n;
    }
    return n;
}

QJsonObject keyedPublish(const QString &channel, int ackId, const QString &key, int value)
{
    return {{"op", "publish"}, {"channel", channel}, {"event", "e"}, {"data", value}, {"ackId", ackId},
            {"idempotencyKey", key}};
}

} // namespace

class TestClusterIdempotency : public QObject {
    Q_OBJECT

private:
    RedisProcess redis;
    GatewayProcess a, b;
    QNetworkAccessManager nam;

private slots:
    void initTestCase() { QVERIFY(startCluster(redis, nam, "idem:", {&a, &b})); }

    void theSameKeyOnTwoNodesIsOnePublication()
    {
        WsClient onA, onB;
        QVERIFY(onA.connectSession(a));
        QVERIFY(onB.connectSession(b));
        QVERIFY(subscribe(onA, "orders"));
        QVERIFY(subscribe(onB, "orders"));

        onA.send(keyedPublish("orders", 2, "order-17", 17));
        const auto first = onA.waitFor("ack", 2);
        QVERIFY(first);
        QCOMPARE((*first)["offset"].toInt(), 1);
        // The retry on the other node (as a client that reconnected elsewhere would send it).
        onB.send(keyedPublish("orders", 3, "order-17", 17));
        const auto repeat = onB.waitFor("ack", 3);
        QVERIFY(repeat);
        QCOMPARE((*repeat)["offset"].toInt(), 1);
        // A new key is a new publication.
        onB.send(keyedPublish("orders", 4, "order-18", 18));
        const auto next = onB.waitFor("ack", 4);
        QVERIFY(next);
        QCOMPARE((*next)["offset"].toInt(), 2);

        QCOMPARE(messagesWithin(onA, 500), 2);
        QCOMPARE(messagesWithin(onB, 200), 2);
        QCOMPARE(metrics(nam, b).value("switchboard_idempotent_duplicates_total"), 1.0);
        QCOMPARE(metrics(nam, a).value("switchboard_idempotent_duplicates_total"), 0.0);
    }

    void httpKeysAreDeduplicatedAcrossNodes()
    {
        WsClient watcher;
        QVERIFY(watcher.connectSession(b));
        QVERIFY(subscribe(watcher, "billing"));
        const HttpResult first = publish(nam, a, {{"channel", "billing"}, {"data", 1}, {"idempotencyKey", "inv-1"}});
        QCOMPARE(first.status, 200);
        const HttpResult repeat = publish(nam, b, {{"channel", "billing"}, {"data", 1}, {"idempotencyKey", "inv-1"}});
        QCOMPARE(repeat.status, 200);
        QCOMPARE(firstStored(repeat)["offset"].toInt(), firstStored(first)["offset"].toInt());
        QCOMPARE(firstStored(repeat)["epoch"].toString(), firstStored(first)["epoch"].toString());

        // The header names the key of a single publication.
        QNetworkRequest request(b.url("/api/publish"));
        request.setRawHeader("X-API-Key", kApiKey);
        request.setRawHeader("Idempotency-Key", "inv-1");
        request.setHeader(QNetworkRequest::ContentTypeHeader, "application/json");
        std::unique_ptr<QNetworkReply> reply(nam.post(request, QByteArray(R"({"channel":"billing","data":1})")));
        QVERIFY(QTest::qWaitFor([&] { return reply->isFinished(); }, 5000));
        QCOMPARE(reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt(), 200);
        const QJsonObject viaHeader =
            QJsonDocument::fromJson(reply->readAll()).object()["publications"].toArray().first().toObject();
        QCOMPARE(viaHeader["offset"].toInt(), firstStored(first)["offset"].toInt());

        QCOMPARE(messagesWithin(watcher, 500), 1);
        // Invalid keys are refused.
        QCOMPARE(publish(nam, a, {{"channel", "billing"}, {"data", 1}, {"idempotencyKey", "has space"}}).status, 400);
    }

    void aKeyBelongsToItsUser()
    {
        WsClient alice, bob, watcher;
        QVERIFY(alice.connectSession(a, makeToken({{"sub", "alice"}})));
        QVERIFY(bob.connectSession(b, makeToken({{"sub", "bob"}})));
        QVERIFY(watcher.connectSession(b));
        for (WsClient *c : {&alice, &bob, &watcher})
            QVERIFY(subscribe(*c, "chat"));
        alice.send(keyedPublish("chat", 2, "same-key", 1));
        QVERIFY(alice.waitFor("ack", 2));
        bob.send(keyedPublish("chat", 2, "same-key", 2));
        const auto ack = bob.waitFor("ack", 2);
        QVERIFY(ack);
        QCOMPARE((*ack)["offset"].toInt(), 2); // bob's own publication, not alice's ack
        QCOMPARE(messagesWithin(watcher, 500), 2);
    }
};

QTEST_MAIN(TestClusterIdempotency)
#include "tst_clusteridempotency.moc"
