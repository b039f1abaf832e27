// Idempotent publish on switchboard-gateway over real sockets on 127.0.0.1: a repeated
// idempotencyKey is acked with the original offset and not delivered again (WebSocket and HTTP),
// invalid keys are refused 400, the figures are in /metrics, --idempotency-window 0 turns it
// off; and the native client (AsioClient) whose publish ack is lost with the connection (a proxy
// drops the gateway's answers, then cuts) publishes once.
#include "GatewayProcess.h"
#include "../support/CuttingProxy.h"

#include <switchboard/asio_client/AsioClient.h>

#include <atomic>

using namespace gatewaytest;
using switchboard::AckInfo;
using switchboard::AsioClient;
using switchboard::AsioClientOptions;
using switchboard::ClientState;

namespace {

QJsonObject keyedPublish(const QString &channel, int ackId, const QJsonValue &key, int value)
{
    return {{"op", "publish"}, {"channel", channel}, {"event", "e"}, {"data", value}, {"ackId", ackId},
            {"idempotencyKey", key}};
}

/// `message` frames arriving on `client` within `ms`.
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

} // namespace

class TestGatewayIdempotency : public QObject {
    Q_OBJECT

private:
    QNetworkAccessManager nam;

private slots:
    void aRepeatedKeyIsAckedWithTheOriginalOffsetAndDeliveredOnce()
    {
        GatewayProcess g;
        QVERIFY(g.start());
        WsClient publisher, subscriber;
        QVERIFY(publisher.connectSession(g));
        QVERIFY(subscriber.connectSession(g));
        for (WsClient *c : {&publisher, &subscriber}) {
            c->send({{"op", "subscribe"}, {"channel", "orders"}, {"ackId", 1}});
            QVERIFY(c->waitFor("subscribed", 1));
        }
        publisher.send(keyedPublish("orders", 2, "order-17", 17));
        const auto first = publisher.waitFor("ack", 2);
        QVERIFY(first);
        publisher.send(keyedPublish("orders", 3, "order-17", 17));
        const auto repeat = publisher.waitFor("ack", 3);
        QVERIFY(repeat);
        QCOMPARE((*repeat)["offset"].toInt(), (*first)["offset"].toInt());
        QCOMPARE(messagesWithin(subscriber, 300), 1);

        // HTTP: the body member and the Idempotency-Key header, in the namespace of the API.
        const HttpResult viaApi = publish(nam, g, {{"channel", "orders"}, {"data", 1}, {"idempotencyKey", "order-17"}});
        QCOMPARE(viaApi.status, 200);
        const int apiOffset = viaApi.json()["publications"].toArray().first().toObject()["offset"].toInt();
        QVERIFY(apiOffset > (*first)["offset"].toInt()); // not the WebSocket user's key
        QNetworkRequest request(g.url("/api/publish"));
        request.setRawHeader("X-API-Key", kApiKey);
        request.setRawHeader("Idempotency-Key", "order-17");
        request.setHeader(QNetworkRequest::ContentTypeHeader, "application/json");
        std::unique_ptr<QNetworkReply> reply(nam.post(request, QByteArray(R"({"channel":"orders","data":1})")));
        QVERIFY(QTest::qWaitFor([&] { return reply->isFinished(); }, 5000));
        QCOMPARE(QJsonDocument::fromJson(reply->readAll()).object()["publications"].toArray().first().toObject()["offset"].toInt(),
                 apiOffset);
        QCOMPARE(messagesWithin(subscriber, 300), 1);

        // Invalid keys: 400, counted.
        publisher.send(keyedPublish("orders", 4, "has space", 1));
        const auto refused = publisher.waitFor("error", 4);
        QVERIFY(refused);
        QCOMPARE((*refused)["code"].toInt(), 400);
        publisher.send(keyedPublish("orders", 5, QString(65, 'k'), 1));
        QVERIFY(publisher.waitFor("error", 5));
        QCOMPARE(publish(nam, g, {{"channel", "orders"}, {"data", 1}, {"idempotencyKey", ""}}).status, 400);

        const auto m = metrics(nam, g);
        QCOMPARE(m.value("switchboard_idempotent_duplicates_total"), 2.0);
        QCOMPARE(m.value("switchboard_invalid_idempotency_keys_total"), 2.0);
        QCOMPARE(m.value("switchboard_idempotency_keys_evicted_total"), 0.0);
    }

    void theKeyBoundEvictsTheOldest()
    {
        GatewayProcess g;
        QVERIFY(g.start({"--idempotency-max-keys", "2"}));
        for (const char *key : {"a", "b", "c"})
            QCOMPARE(publish(nam, g, {{"channel", "bound"}, {"data", 1}, {"idempotencyKey", key}}).status, 200);
        QCOMPARE(metrics(nam, g).value("switchboard_idempotency_keys_evicted_total"), 1.0);
        const HttpResult again = publish(nam, g, {{"channel", "bound"}, {"data", 1}, {"idempotencyKey", "a"}});
        QCOMPARE(again.json()["publications"].toArray().first().toObject()["offset"].toInt(), 4); // forgotten
    }

    void aZeroWindowIgnoresKeys()
    {
        GatewayProcess g;
        QVERIFY(g.start({"--idempotency-window", "0"}));
        const HttpResult first = publish(nam, g, {{"channel", "off"}, {"data", 1}, {"idempotencyKey", "k"}});
        const HttpResult second = publish(nam, g, {{"channel", "off"}, {"data", 1}, {"idempotencyKey", "k"}});
        QCOMPARE(first.json()["publications"].toArray().first().toObject()["offset"].toInt(), 1);
        QCOMPARE(second.json()["publications"].toArray().first().toObject()["offset"].toInt(), 2);
    }

    void theNativeClientRetriesALostAckOnce()
    {
        GatewayProcess g;
        QVERIFY(g.start());
        testsupport::CuttingProxy proxy;
        QVERIFY(proxy.listen(g.port()));
        WsClient subscriber;
        QVERIFY(subscriber.connectSession(g));
        subscriber.send({{"op", "subscribe"}, {"channel", "orders"}, {"ackId", 1}});
        QVERIFY(subscriber.waitFor("subscribed", 1));

        AsioClientOptions options;
        options.client.url = "ws://127.0.0.1:" + std::to_string(proxy.port()) + "/ws";
        options.client.backoff.initial = std::chrono::milliseconds(50);
        options.client.backoff.max = std::chrono::milliseconds(200);
        AsioClient client(options);
        std::atomic<bool> subscribed{false};
        client.subscribe("orders", {}, [&subscribed](std::error_code error) { subscribed = !error; });
        client.open();
        QVERIFY(QTest::qWaitFor([&] { return subscribed.load(); }, 10000));

        proxy.setDropReplies(true);
        std::atomic<int> acks{0};
        std::atomic<int> ackStatus{-1};
        std::atomic<std::uint64_t> ackOffset{0};
        client.publish("orders", "created", R"({"id":17})", [&](std::error_code error, AckInfo info) {
            ackStatus = error.value();
            ackOffset = info.offset;
            ++acks;
        }, true);
        const auto delivered = subscriber.waitFor("message", -1, 10000);
        QVERIFY(delivered); // the gateway has it; its ack is lost
        QCOMPARE(acks.load(), 0);
        proxy.cutAll();
        QVERIFY(QTest::qWaitFor([&] { return acks.load() == 1; }, 10000));
        QCOMPARE(ackStatus.load(), 0);
        QCOMPARE(ackOffset.load(), std::uint64_t((*delivered)["offset"].toInteger()));
        QVERIFY(proxy.accepted() >= 2);
        QCOMPARE(messagesWithin(subscriber, 300), 0);
        QCOMPARE(metrics(nam, g).value("switchboard_idempotent_duplicates_total"), 1.0);
        client.close();
    }
};

QTEST_MAIN(TestGatewayIdempotency)
#include "tst_gatewayidempotency.moc"
