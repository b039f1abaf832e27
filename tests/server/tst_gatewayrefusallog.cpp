// switchboard-gateway logs every refusal the protocol decides (an error frame for bad input, a
// denied join, a refused publish) and every close it decides, once, at info level, with the
// client's address and, once it connected with a token, its user.
#include "GatewayProcess.h"

#include <QDateTime>

using namespace gatewaytest;

namespace {

QString aliceToken()
{
    return makeToken({{"sub", "alice"},
                      {"channels", QJsonArray{"private-team"}},
                      {"exp", QDateTime::currentSecsSinceEpoch() + 3600}});
}

/// `refused <what>: peer 127.0.0.1:<the client's port>, user alice: <reason containing needle>`
QRegularExpression refusalOf(WsClient &client, const QString &needle)
{
    return QRegularExpression(QStringLiteral("refused websocket [a-z_]+: peer 127\\.0\\.0\\.1:%1, user alice: .*%2")
                                  .arg(client.socket().localPort())
                                  .arg(QRegularExpression::escape(needle)));
}

} // namespace

class tst_GatewayRefusalLog : public QObject
{
    Q_OBJECT

private slots:
    void protocolRefusalsNameThePeerAndTheUser();
    void closesNameTheUser();
};

void tst_GatewayRefusalLog::protocolRefusalsNameThePeerAndTheUser()
{
    GatewayProcess g;
    g.captureLog();
    QVERIFY(g.start());
    WsClient client;
    QVERIFY(client.connectSession(g, aliceToken()));

    client.send(QJsonObject{{"op", "subscribe"}, {"channel", "news"}, {"ackId", 1}});
    QVERIFY(client.waitFor("subscribed", 1));
    client.socket().sendTextMessage(R"({"op":"publish","channel":"news","event":"e","data":{"v":1e400},"ackId":2})");
    QVERIFY(client.waitFor("error", 2));
    QVERIFY2(!g.waitForLog(refusalOf(client, "number out of range")).isEmpty(), "number refusal not logged");

    client.send(QJsonObject{{"op", "subscribe"}, {"channel", "alerts"}, {"filter", QJsonArray{}}, {"ackId", 3}});
    QVERIFY(client.waitFor("error", 3));
    QVERIFY2(!g.waitForLog(refusalOf(client, "invalid filter")).isEmpty(), "filter refusal not logged");

    client.send(QJsonObject{{"op", "subscribe"}, {"channel", "private-elsewhere"}, {"ackId", 4}});
    QVERIFY(client.waitFor("error", 4));
    QVERIFY2(!g.waitForLog(refusalOf(client, "not authorized")).isEmpty(), "join refusal not logged");
}

void tst_GatewayRefusalLog::closesNameTheUser()
{
    GatewayProcess g;
    g.captureLog();
    QVERIFY(g.start());
    WsClient client;
    QVERIFY(client.connectSession(g, aliceToken()));
    client.socket().sendTextMessage(QString(70 * 1024, QChar('x'))); // over the 64 KiB frame limit
    QCOMPARE(client.waitClosed(), 1009);
    QVERIFY2(!g.waitForLog(QRegularExpression(QStringLiteral("refused websocket .*: peer 127\\.0\\.0\\.1:\\d+, user alice: close 1009")))
                  .isEmpty(),
             "close not logged with the user");
}

QTEST_MAIN(tst_GatewayRefusalLog)
#include "tst_gatewayrefusallog.moc"
