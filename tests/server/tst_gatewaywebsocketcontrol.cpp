// switchboard-gateway and WebSocket control frames from clients: a ping flood from a client that
// never reads keeps the gateway's memory bounded (one pending pong per connection, control bytes
// within the outbox limit) and is closed 3005 by the rate limit, before and after `connect`; a
// client that pings now and then gets every pong; a client that never answers the server's close
// frame is dropped once the close wait ends.
#include "GatewayProcess.h"
#include "PosixWebSocket.h"

#include <QtEndian>

using namespace gatewaytest;

namespace {

/// 125-byte ping payloads, numbered so the last one can be recognised.
QByteArray pingPayload(qint64 n)
{
    QByteArray p = QByteArray::number(n).rightJustified(12, '0');
    return p + QByteArray(125 - p.size(), 'p');
}

constexpr qint64 kFloodBytes = 100 * 1024 * 1024;
constexpr qint64 kMaxGrowthKb = 20 * 1024;

} // namespace

class tst_GatewayWebSocketControl : public QObject
{
    Q_OBJECT

private slots:
    void pingFloodFromClientThatNeverReads_data();
    void pingFloodFromClientThatNeverReads();
    void occasionalPingsGetPongs();
    void unansweredCloseEndsTheConnection();
};

void tst_GatewayWebSocketControl::pingFloodFromClientThatNeverReads_data()
{
    QTest::addColumn<bool>("connectFirst");
    QTest::addColumn<bool>("rateLimited");
    QTest::newRow("before connect") << false << true;
    QTest::newRow("after connect") << true << true;
    // Without the rate limit memory stays bounded too: unsent pongs are replaced by the latest.
    QTest::newRow("no rate limit: pongs coalesce") << true << false;
}

void tst_GatewayWebSocketControl::pingFloodFromClientThatNeverReads()
{
    QFETCH(bool, connectFirst);
    QFETCH(bool, rateLimited);
    GatewayProcess g;
    // Under ASan, 100 MB of pings read and freed would otherwise fill the quarantine and the
    // growth would measure that: 15-22 MB under the asan preset, against the 20 MB bound.
    g.disableAsanQuarantine();
    QStringList args;
    if (!rateLimited)
        args << "--rate" << "1000000000" << "--rate-burst" << "1000000000";
    QVERIFY(g.start(args));
    PosixWebSocket client;
    QVERIFY(client.open(g.port()));
    if (connectFirst) {
        QVERIFY(client.sendAll(PosixWebSocket::frame(0x1, R"({"op":"connect","version":1})")));
        const auto welcome = client.next();
        QVERIFY(welcome);
        QVERIFY(welcome->payload.contains("welcome"));
    }
    const qint64 rssBefore = procStatusKb(g.pid(), "VmRSS");
    QVERIFY(rssBefore > 0);

    // The flood: 1 MB writes of pings; the client never reads while it sends.
    qint64 sent = 0;
    qint64 pings = 0;
    QDeadlineTimer deadline(60000);
    bool serverGone = false;
    while (sent < kFloodBytes && !deadline.hasExpired()) {
        QByteArray chunk;
        chunk.reserve(1 << 20);
        while (chunk.size() < (1 << 20))
            chunk += PosixWebSocket::frame(0x9, pingPayload(++pings));
        if (!client.sendAll(chunk, int(qMax<qint64>(deadline.remainingTime(), 1)))) {
            serverGone = true;
            break;
        }
        sent += chunk.size();
    }
    const qint64 peak = procStatusKb(g.pid(), "VmHWM");
    qInfo("sent %lld MB of pings (%lld pings), gateway RSS before %lld kB, peak %lld kB (+%lld kB)%s", sent >> 20, pings,
          rssBefore, peak, peak - rssBefore, serverGone ? ", connection closed by the gateway" : "");
    QVERIFY2(peak - rssBefore < kMaxGrowthKb, "the gateway's memory grew with the pings it could not answer");

    QNetworkAccessManager nam;
    if (rateLimited) {
        // Now read: what the gateway sent before closing is still in the kernel buffer.
        int closeCode = -1;
        while (const auto f = client.next()) {
            if (f->opcode == 0x8) {
                closeCode = f->payload.size() >= 2 ? qFromBigEndian<quint16>(f->payload.constData()) : 1005;
                break;
            }
        }
        QCOMPARE(closeCode, 3005);
        const auto m = metrics(nam, g);
        QCOMPARE(m.value("switchboard_flood_disconnects_total"), 1.0);
        QVERIFY(m.value("switchboard_control_rate_limited_total") >= 1);
    } else {
        QVERIFY2(!serverGone, "the gateway closed a client that stayed within its limits");
        // Reading resumes: the pongs still owed arrive, the last one for the last ping.
        QByteArray lastPong;
        int pongs = 0;
        while (lastPong != pingPayload(pings)) {
            const auto f = client.next();
            QVERIFY2(f, "the pong for the last ping never came");
            QCOMPARE(f->opcode, quint8(0xA));
            lastPong = f->payload;
            ++pongs;
        }
        qInfo("%d pongs answered %lld pings", pongs, pings);
        QVERIFY(pongs < pings);
        QVERIFY(metrics(nam, g).value("switchboard_websocket_pongs_coalesced_total") >= 1);
    }
    QCOMPARE(http(nam, "GET", g.url("/healthz"), {}, false).status, 200);
}

void tst_GatewayWebSocketControl::occasionalPingsGetPongs()
{
    GatewayProcess g;
    QVERIFY(g.start());
    PosixWebSocket client;
    QVERIFY(client.open(g.port()));
    for (int i = 1; i <= 5; ++i) {
        QVERIFY(client.sendAll(PosixWebSocket::frame(0x9, "beat " + QByteArray::number(i))));
        const auto pong = client.next();
        QVERIFY(pong);
        QCOMPARE(pong->opcode, quint8(0xA));
        QCOMPARE(pong->payload, "beat " + QByteArray::number(i));
        if (i == 3) { // pongs from the client count too, and are never answered
            QVERIFY(client.sendAll(PosixWebSocket::frame(0xA, "unasked")));
        }
    }
    QVERIFY(client.sendAll(PosixWebSocket::frame(0x1, R"({"op":"connect","version":1})")));
    const auto welcome = client.next();
    QVERIFY(welcome && welcome->payload.contains("welcome"));
    QNetworkAccessManager nam;
    const auto m = metrics(nam, g);
    QCOMPARE(m.value("switchboard_control_frames_in_total"), 6.0);
    QCOMPARE(m.value("switchboard_control_rate_limited_total"), 0.0);
}

void tst_GatewayWebSocketControl::unansweredCloseEndsTheConnection()
{
    // The server closes (a reserved opcode is a protocol violation), the client reads the close
    // frame and never answers: the gateway ends TCP after its close wait (the smaller of 2 s and
    // --drain-timeout), not before.
    GatewayProcess g;
    QVERIFY(g.start({"--drain-timeout", "1000"}));
    PosixWebSocket client;
    QVERIFY(client.open(g.port()));
    QElapsedTimer clock;
    clock.start();
    QVERIFY(client.sendAll(PosixWebSocket::frame(0x3, "reserved opcode")));
    std::optional<PosixWebSocket::ServerFrame> close;
    while (auto f = client.next()) {
        if (f->opcode == 0x8) {
            close = f;
            break;
        }
    }
    QVERIFY(close);
    QCOMPARE(qFromBigEndian<quint16>(close->payload.constData()), quint16(1002));
    QVERIFY2(client.waitClosed(5000), "the gateway kept the connection after its close wait");
    const qint64 elapsed = clock.elapsed();
    QVERIFY2(elapsed >= 900, qPrintable(QString("closed after %1 ms: before the close wait").arg(elapsed)));
}

QTEST_MAIN(tst_GatewayWebSocketControl)
#include "tst_gatewaywebsocketcontrol.moc"
