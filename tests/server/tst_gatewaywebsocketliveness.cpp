// switchboard-gateway WebSocket liveness: a silent connection gets server pings and, when nothing
// comes back within the idle timeout, close 3002; pongs keep a connection alive; a connection
// whose pending bytes make no write progress within the write timeout is aborted while clients
// that read keep their messages. Intervals are short (milliseconds) through the flags.
#include "GatewayProcess.h"
#include "PosixWebSocket.h"

#include <QElapsedTimer>

using namespace gatewaytest;

namespace {

const QStringList kShortLiveness{"--ws-ping-interval", "200", "--ws-idle-timeout", "1000"};

/// Opens `client` and completes `connect`; returns the welcome frame's JSON.
QJsonObject connectRaw(PosixWebSocket &client)
{
    if (!client.sendAll(PosixWebSocket::frame(0x1, R"({"op":"connect","version":1})")))
        return {};
    const auto welcome = client.next();
    return welcome ? QJsonDocument::fromJson(welcome->payload).object() : QJsonObject{};
}

} // namespace

class tst_GatewayWebSocketLiveness : public QObject
{
    Q_OBJECT

private slots:
    void silentClientIsPingedThenClosed3002();
    void pongsKeepAConnectionAlive();
    void badLivenessSettingsAreRefused();
    void stalledWriterIsAborted();
    void endOfInputRightAfterFramesEndsTheConnection();
};

void tst_GatewayWebSocketLiveness::silentClientIsPingedThenClosed3002()
{
    GatewayProcess g;
    QVERIFY(g.start(kShortLiveness));
    PosixWebSocket client;
    QVERIFY(client.open(g.port()));
    QElapsedTimer clock;
    clock.start();
    const QJsonObject welcome = connectRaw(client);
    QCOMPARE(welcome.value("op").toString(), "welcome");
    QCOMPARE(welcome.value("ping").toInt(), 200); // the heartbeat advertised is the server's ping interval

    const auto ping = client.next(2000);
    QVERIFY(ping);
    QCOMPARE(ping->opcode, quint8(0x9));
    QVERIFY2(clock.elapsed() >= 150, "pinged before the interval");

    // No answer: the disconnect frame, then close 3002, about one idle timeout after the last
    // byte the client sent.
    int closeCode = -1;
    QString disconnectCode;
    while (const auto f = client.next(3000)) {
        if (f->opcode == 0x1)
            disconnectCode = QString::number(QJsonDocument::fromJson(f->payload).object().value("code").toInt());
        if (f->opcode == 0x8) {
            closeCode = qFromBigEndian<quint16>(f->payload.constData());
            break;
        }
    }
    const qint64 elapsed = clock.elapsed();
    QCOMPARE(closeCode, 3002);
    QCOMPARE(disconnectCode, "3002");
    QVERIFY2(elapsed >= 900 && elapsed < 3000, qPrintable(QStringLiteral("closed after %1 ms").arg(elapsed)));
    QVERIFY(client.waitClosed(5000)); // the gateway drops TCP after its close frame
    QNetworkAccessManager nam;
    const auto m = metrics(nam, g);
    QCOMPARE(m.value("switchboard_websocket_idle_timeouts_total"), 1.0);
    QVERIFY(m.value("switchboard_websocket_pings_sent_total") >= 1);
    QTRY_COMPARE_WITH_TIMEOUT(metrics(nam, g).value("switchboard_websocket_connections"), 0.0, 5000);
}

void tst_GatewayWebSocketLiveness::pongsKeepAConnectionAlive()
{
    GatewayProcess g;
    QVERIFY(g.start(kShortLiveness));
    PosixWebSocket client;
    QVERIFY(client.open(g.port()));
    QCOMPARE(connectRaw(client).value("op").toString(), "welcome");
    // Answer every ping for 2.5 idle timeouts: the connection stays.
    int pings = 0;
    QDeadlineTimer deadline(2500);
    while (!deadline.hasExpired()) {
        const auto f = client.next(int(qMax<qint64>(deadline.remainingTime(), 1)));
        if (!f)
            break;
        QCOMPARE(f->opcode, quint8(0x9)); // nothing else: no close
        QVERIFY(client.sendAll(PosixWebSocket::frame(0xA, f->payload)));
        ++pings;
    }
    QVERIFY2(pings >= 5, qPrintable(QStringLiteral("%1 pings").arg(pings)));
    client.sendAll(PosixWebSocket::frame(0x1, R"({"op":"ping","ackId":1})"));
    const auto pong = client.next();
    QVERIFY(pong);
    QVERIFY(pong->payload.contains("pong"));
    QNetworkAccessManager nam;
    QCOMPARE(metrics(nam, g).value("switchboard_websocket_idle_timeouts_total"), 0.0);
}

void tst_GatewayWebSocketLiveness::badLivenessSettingsAreRefused()
{
    QProcess gateway;
    testsupport::dieWithTest(gateway);
    testsupport::startBuildProgram(gateway, QStringLiteral(SWITCHBOARD_GATEWAY_BIN), {"--port", "0", "--ws-ping-interval", "5000", "--ws-idle-timeout", "5000"});
    QVERIFY(gateway.waitForFinished(10000));
    QCOMPARE(gateway.exitCode(), 2);
    QVERIFY(gateway.readAllStandardError().contains("idle timeout must be longer than the ping interval"));
}

void tst_GatewayWebSocketLiveness::stalledWriterIsAborted()
{
    GatewayProcess g;
    QVERIFY(g.start({"--write-timeout", "500"}));
    // A subscriber that stops reading (small receive window), and one that reads.
    PosixWebSocket stalled;
    QVERIFY(stalled.open(g.port(), 4096));
    QCOMPARE(connectRaw(stalled).value("op").toString(), "welcome");
    QVERIFY(stalled.sendAll(PosixWebSocket::frame(0x1, R"({"op":"subscribe","channel":"feed","ackId":1})")));
    const auto subscribed = stalled.next();
    QVERIFY(subscribed && subscribed->payload.contains("subscribed"));
    WsClient reader;
    QVERIFY(reader.connectSession(g));
    reader.send({{"op", "subscribe"}, {"channel", "feed"}, {"ackId", 1}});
    QVERIFY(reader.waitFor("subscribed", 1));

    QNetworkAccessManager nam;
    const QByteArray body = R"({"channel":"feed","data":")" + QByteArray(60 * 1024, 'x') + "\"}";
    int published = 0;
    QDeadlineTimer deadline(30000);
    while (metrics(nam, g).value("switchboard_websocket_write_timeouts_total") < 1 && !deadline.hasExpired()) {
        for (int i = 0; i < 10; ++i, ++published)
            QCOMPARE(http(nam, "POST", g.url("/api/publish"), body).status, 200);
    }
    qInfo("write timeout after %d publications of 60 KiB", published);
    QCOMPARE(metrics(nam, g).value("switchboard_websocket_write_timeouts_total"), 1.0);
    QVERIFY(stalled.waitClosed(5000));
    // The reading subscriber is untouched and got every publication.
    QTRY_COMPARE_WITH_TIMEOUT(qsizetype(reader.frames().size()), qsizetype(published), 10000);
    QVERIFY(!reader.disconnected());
    QCOMPARE(metrics(nam, g).value("switchboard_websocket_connections"), 1.0);
}

void tst_GatewayWebSocketLiveness::endOfInputRightAfterFramesEndsTheConnection()
{
    // A client writes its last frames and ends TCP at once (FIN, no close frame): the data and the
    // end of input reach the gateway together. It must end the connection then (1006), not when
    // the liveness checks notice, minutes later: a presence member would stay online meanwhile.
    GatewayProcess g;
    QVERIFY(g.start());
    for (int i = 0; i < 5; ++i) {
        PosixWebSocket client;
        QVERIFY(client.open(g.port()));
        QCOMPARE(connectRaw(client).value("op").toString(), "welcome");
        QVERIFY(client.sendAll(PosixWebSocket::frame(0x1, R"({"op":"subscribe","channel":"feed","ackId":1})")
                               + PosixWebSocket::frame(0x1, R"({"op":"ping","ackId":2})")));
        client.shutdownWrite();
        QVERIFY2(client.waitClosed(3000), qPrintable(QStringLiteral("connection %1 kept open").arg(i)));
    }
    QNetworkAccessManager nam;
    QTRY_COMPARE_WITH_TIMEOUT(metrics(nam, g).value("switchboard_websocket_connections"), 0.0, 3000);
}

QTEST_MAIN(tst_GatewayWebSocketLiveness)
#include "tst_gatewaywebsocketliveness.moc"
