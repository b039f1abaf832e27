// switchboard-gateway and numbers JSON cannot carry: the HTTP API answers 422 and the WebSocket
// an error 400, nothing reaches subscribers or history; 64-bit integers arrive exact.
#include "GatewayProcess.h"

using namespace gatewaytest;

namespace {

/// Records the raw text of every frame, to check the bytes subscribers get.
class RawFrames {
public:
    explicit RawFrames(WsClient &client)
    {
        QObject::connect(&client.socket(), &QWebSocket::textMessageReceived, &client.socket(),
                         [this](const QString &text) { texts.append(text.toUtf8()); });
    }
    /// The first recorded frame holding `needle`, waited for.
    std::optional<QByteArray> waitFor(const QByteArray &needle, int timeoutMs = 5000)
    {
        QDeadlineTimer deadline(timeoutMs);
        while (true) {
            for (const QByteArray &text : std::as_const(texts))
                if (text.contains(needle))
                    return text;
            if (deadline.hasExpired())
                return std::nullopt;
            QTest::qWait(5);
        }
    }
    QList<QByteArray> texts;
};

bool subscribe(WsClient &c, const QString &channel, int ackId)
{
    c.send({{"op", "subscribe"}, {"channel", channel}, {"ackId", ackId}});
    return c.waitFor("subscribed", ackId).has_value();
}

HttpResult publishRaw(QNetworkAccessManager &nam, const GatewayProcess &g, const QByteArray &body)
{
    return http(nam, "POST", g.url("/api/publish"), body);
}

} // namespace

class tst_GatewayNumbers : public QObject
{
    Q_OBJECT

private slots:
    void httpApiRefusesUnrepresentableNumbers_data();
    void httpApiRefusesUnrepresentableNumbers();
    void websocketPublishRefused();
    void integersArriveExact();
};

void tst_GatewayNumbers::httpApiRefusesUnrepresentableNumbers_data()
{
    QTest::addColumn<QByteArray>("body");
    QTest::newRow("1e400") << QByteArray(R"({"channel":"news","event":"e","data":{"v":1e400}})");
    QTest::newRow("huge integer") << QByteArray(R"({"channel":"news","data":123456789012345678901234567890})");
    QTest::newRow("batch, second item") << QByteArray(
        R"({"publications":[{"channel":"news","data":1},{"channel":"news","data":[-1e400]}]})");
}

void tst_GatewayNumbers::httpApiRefusesUnrepresentableNumbers()
{
    QFETCH(QByteArray, body);
    GatewayProcess g;
    QVERIFY(g.start());
    WsClient subscriber;
    QVERIFY(subscriber.connectSession(g));
    QVERIFY(subscribe(subscriber, "news", 1));
    RawFrames raw(subscriber);
    QNetworkAccessManager nam;

    const HttpResult r = publishRaw(nam, g, body);
    QCOMPARE(r.status, 422);
    QVERIFY2(r.body.contains("number out of range"), r.body.constData());

    // Nothing was published: no frame, no history, and the refusal is counted.
    QVERIFY(!subscriber.waitFor("message", -1, 200));
    QVERIFY(raw.texts.isEmpty());
    const HttpResult history = http(nam, "GET", g.url("/api/history?channel=news"));
    QCOMPARE(history.status, 200);
    QCOMPARE(history.json()["publications"].toArray().size(), 0);
    QCOMPARE(metrics(nam, g).value("switchboard_numbers_out_of_range_total"), 1.0);
}

void tst_GatewayNumbers::websocketPublishRefused()
{
    GatewayProcess g;
    QVERIFY(g.start());
    WsClient publisher, subscriber;
    QVERIFY(publisher.connectSession(g));
    QVERIFY(subscriber.connectSession(g));
    QVERIFY(subscribe(publisher, "news", 1));
    QVERIFY(subscribe(subscriber, "news", 1));
    RawFrames raw(subscriber);

    publisher.socket().sendTextMessage(
        QStringLiteral(R"({"op":"publish","channel":"news","event":"e","ackId":7,"data":{"v":1e400}})"));
    const auto error = publisher.waitFor("error", 7);
    QVERIFY(error);
    QCOMPARE((*error)["code"].toInt(), 400);
    QVERIFY((*error)["message"].toString().startsWith("number out of range"));
    QVERIFY(!subscriber.waitFor("message", -1, 200));
    QVERIFY(raw.texts.isEmpty());
    QNetworkAccessManager nam;
    QCOMPARE(metrics(nam, g).value("switchboard_numbers_out_of_range_total"), 1.0);
}

void tst_GatewayNumbers::integersArriveExact()
{
    GatewayProcess g;
    QVERIFY(g.start());
    WsClient publisher, subscriber;
    QVERIFY(publisher.connectSession(g));
    QVERIFY(subscriber.connectSession(g));
    QVERIFY(subscribe(publisher, "news", 1));
    QVERIFY(subscribe(subscriber, "news", 1));
    RawFrames raw(subscriber);
    QNetworkAccessManager nam;

    const QByteArray viaHttp = R"({"u":18446744073709551615,"i":-9223372036854775808})";
    QCOMPARE(publishRaw(nam, g, R"({"channel":"news","event":"http","data":)" + viaHttp + "}").status, 200);
    const auto fromHttp = raw.waitFor(R"("event":"http")");
    QVERIFY(fromHttp);
    QVERIFY2(fromHttp->contains(R"("data":)" + viaHttp), fromHttp->constData());

    const QByteArray viaWs = "[9223372036854775807,1.5]";
    publisher.socket().sendTextMessage(
        QString::fromLatin1(R"({"op":"publish","channel":"news","event":"ws","data":)" + viaWs + "}"));
    const auto fromWs = raw.waitFor(R"("event":"ws")");
    QVERIFY(fromWs);
    QVERIFY2(fromWs->contains(R"("data":[9223372036854775807,1.5E0])"), fromWs->constData());

    // History serves the same bytes.
    const HttpResult history = http(nam, "GET", g.url("/api/history?channel=news"));
    QCOMPARE(history.status, 200);
    QVERIFY2(history.body.contains(viaHttp), history.body.constData());
}

QTEST_GUILESS_MAIN(tst_GatewayNumbers)
#include "tst_gatewaynumbers.moc"
