// Replies between clients on one switchboard-gateway, with raw protocol frames: a publish with
// `wantReply` gives subscribers a token, the first `reply` to it reaches the publisher with the
// publish's ackId and the replier's session id; bad and late replies are refused or counted in
// /metrics.
#include "GatewayProcess.h"

using namespace gatewaytest;

namespace {

bool subscribe(WsClient &ws, const QString &channel, int ackId)
{
    ws.send({{"op", "subscribe"}, {"channel", channel}, {"ackId", ackId}});
    return ws.waitFor("subscribed", ackId).has_value();
}

} // namespace

class TestGatewayReplies : public QObject {
    Q_OBJECT

private:
    GatewayProcess gateway;
    QNetworkAccessManager nam;

private slots:
    void initTestCase() { QVERIFY(gateway.start()); }

    void firstReplyReachesThePublisher()
    {
        WsClient publisher, replier, late;
        QVERIFY(!publisher.connectWithId(gateway).isEmpty());
        const QString replierId = replier.connectWithId(gateway);
        QVERIFY(!replierId.isEmpty());
        QVERIFY(!late.connectWithId(gateway).isEmpty());
        for (WsClient *ws : {&publisher, &replier, &late})
            QVERIFY(subscribe(*ws, "desk", 1));

        publisher.send({{"op", "publish"}, {"channel", "desk"}, {"event", "question"}, {"data", QJsonObject{{"q", "ready?"}}},
                        {"wantReply", true}, {"ackId", 41}});
        QVERIFY(publisher.waitFor("ack", 41));
        const auto message = replier.waitFor("message");
        QVERIFY(message);
        const QString token = (*message)["replyTo"].toString();
        QVERIFY(!token.isEmpty());
        const auto lateMessage = late.waitFor("message");
        QVERIFY(lateMessage);
        QCOMPARE((*lateMessage)["replyTo"].toString(), token); // one token per publication

        replier.send({{"op", "reply"}, {"replyTo", token}, {"payload", QJsonObject{{"a", "yes"}}}, {"ackId", 7}});
        QVERIFY(replier.waitFor("ack", 7));
        const auto reply = publisher.waitFor("reply", 41);
        QVERIFY(reply);
        QCOMPARE((*reply)["topic"].toString(), QStringLiteral("desk"));
        QCOMPARE((*reply)["from"].toString(), replierId);
        QCOMPARE((*reply)["payload"].toObject()["a"].toString(), QStringLiteral("yes"));

        // A second reply is acknowledged to its sender but never reaches the publisher.
        late.send({{"op", "reply"}, {"replyTo", token}, {"payload", 2}, {"ackId", 8}});
        QVERIFY(late.waitFor("ack", 8));
        QVERIFY(!publisher.waitFor("reply", -1, 300));

        const auto m = metrics(nam, gateway);
        QCOMPARE(m.value("switchboard_reply_slots_opened_total"), 1.0);
        QCOMPARE(m.value("switchboard_replies_delivered_total"), 1.0);
        QCOMPARE(m.value("switchboard_replies_dropped_total{reason=\"answered\"}"), 1.0);
    }

    void badRepliesAreRefusedOrCounted()
    {
        WsClient publisher, replier;
        QVERIFY(!publisher.connectWithId(gateway).isEmpty());
        QVERIFY(!replier.connectWithId(gateway).isEmpty());
        QVERIFY(subscribe(publisher, "desk2", 1));
        QVERIFY(subscribe(replier, "desk2", 1));

        // wantReply without an ackId: 400, nothing published.
        publisher.send({{"op", "publish"}, {"channel", "desk2"}, {"event", "q"}, {"data", 1}, {"wantReply", true}});
        const auto refused = publisher.waitFor("error");
        QVERIFY(refused);
        QCOMPARE((*refused)["code"].toInt(), 400);

        // A token that cannot be parsed: 400 against the reply's ackId.
        replier.send({{"op", "reply"}, {"replyTo", "not-a-token"}, {"payload", 1}, {"ackId", 3}});
        const auto bad = replier.waitFor("error", 3);
        QVERIFY(bad);
        QCOMPARE((*bad)["code"].toInt(), 400);

        // A well-formed token with a guessed nonce: acknowledged, dropped, counted.
        publisher.send({{"op", "publish"}, {"channel", "desk2"}, {"event", "q"}, {"data", 1}, {"wantReply", true}, {"ackId", 5}});
        const auto message = replier.waitFor("message");
        QVERIFY(message);
        QVERIFY(message->contains("replyTo"));
        QString forged = (*message)["replyTo"].toString();
        const int nonceAt = forged.indexOf('.') + 1;
        forged[nonceAt] = forged[nonceAt] == QChar('0') ? QChar('1') : QChar('0');
        const double unknownBefore = metrics(nam, gateway).value("switchboard_replies_dropped_total{reason=\"unknown\"}");
        replier.send({{"op", "reply"}, {"replyTo", forged}, {"payload", 1}, {"ackId", 4}});
        QVERIFY(replier.waitFor("ack", 4));
        QVERIFY(!publisher.waitFor("reply", -1, 300));
        QCOMPARE(metrics(nam, gateway).value("switchboard_replies_dropped_total{reason=\"unknown\"}"), unknownBefore + 1);

        // An HTTP API publish never asks for replies, whatever its body says.
        QCOMPARE(publish(nam, gateway, {{"channel", "desk2"}, {"data", 1}, {"wantReply", true}}).status, 200);
        const auto fromApi = replier.waitFor("message");
        QVERIFY(fromApi);
        QVERIFY(!fromApi->contains("replyTo"));
    }
};

QTEST_MAIN(TestGatewayReplies)
#include "tst_gatewayreplies.moc"
