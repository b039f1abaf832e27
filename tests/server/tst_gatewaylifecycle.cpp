// switchboard-gateway lifecycle: SIGTERM closes sessions with 3000 after flushing and exits 0;
// 1 000 connections opened and closed leave file descriptors and memory at their baseline.
#include "GatewayProcess.h"

#include <QDir>
#include <QFile>
#include <QTcpSocket>

#include <vector>

using namespace gatewaytest;

namespace {

int openFds(qint64 pid)
{
    return int(QDir(QStringLiteral("/proc/%1/fd").arg(pid)).entryList(QDir::NoDotAndDotDot | QDir::AllEntries | QDir::System).size());
}

qint64 rssKb(qint64 pid)
{
    QFile status(QStringLiteral("/proc/%1/status").arg(pid));
    if (!status.open(QIODevice::ReadOnly))
        return -1;
    for (const QByteArray &line : status.readAll().split('\n')) {
        if (line.startsWith("VmRSS:"))
            return line.mid(6).trimmed().split(' ').first().toLongLong();
    }
    return -1;
}

} // namespace

class tst_GatewayLifecycle : public QObject
{
    Q_OBJECT

private slots:
    void sigtermDrainsAndExitsZero();
    void connectDuringDrainIsRefusedWithShutdown();
    void thousandConnectionsReturnToBaseline();
};

void tst_GatewayLifecycle::sigtermDrainsAndExitsZero()
{
    GatewayProcess g;
    QVERIFY(g.start({"--drain-timeout", "3000"}));
    WsClient client;
    QVERIFY(client.connectSession(g));
    client.send({{"op", "subscribe"}, {"channel", "feed"}, {"ackId", 1}});
    QVERIFY(client.waitFor("subscribed", 1));
    QNetworkAccessManager nam;
    for (int i = 0; i < 50; ++i)
        QCOMPARE(publish(nam, g, {{"channel", "feed"}, {"data", i}}).status, 200);

    g.process().terminate(); // SIGTERM
    QCOMPARE(client.waitClosed(5000), 3000);
    // Every queued message was flushed before the disconnect frame.
    int messages = 0;
    for (const auto &f : client.frames())
        messages += f.value("op").toString() == "message";
    QCOMPARE(messages, 50);
    const auto disconnect = client.waitFor("disconnect", -1, 0);
    QVERIFY(disconnect);
    QCOMPARE((*disconnect)["code"].toInt(), 3000);
    QCOMPARE((*disconnect)["reconnect"].toBool(), true);
    // It may have exited already (waitForFinished() is false for a process that is not running).
    QVERIFY(g.process().state() == QProcess::NotRunning || g.process().waitForFinished(5000));
    QCOMPARE(g.process().exitStatus(), QProcess::NormalExit);
    QCOMPARE(g.process().exitCode(), 0);
}

namespace {

/// Reads from `socket` until `enough` says the bytes so far suffice (bounded).
bool readUntil(QTcpSocket &socket, QByteArray &bytes, const std::function<bool(const QByteArray &)> &enough,
               int timeoutMs = 5000)
{
    QDeadlineTimer deadline(timeoutMs);
    while (!enough(bytes)) {
        if (deadline.hasExpired() || (socket.state() != QAbstractSocket::ConnectedState && !socket.bytesAvailable()))
            return enough(bytes);
        socket.waitForReadyRead(int(std::max<qint64>(1, std::min<qint64>(50, deadline.remainingTime()))));
        bytes += socket.readAll();
    }
    return true;
}

const QByteArray kUpgrade = "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

/// The close code of the first close frame (server frames are unmasked) after the HTTP head; -1 if none.
int closeCodeAfterHead(const QByteArray &bytes)
{
    const qsizetype head = bytes.indexOf("\r\n\r\n");
    if (head < 0)
        return -1;
    qsizetype pos = head + 4;
    while (pos + 2 <= bytes.size()) {
        const auto opcode = quint8(bytes[pos]) & 0x0F;
        qsizetype length = quint8(bytes[pos + 1]) & 0x7F;
        qsizetype payload = pos + 2;
        if (length == 126) {
            if (pos + 4 > bytes.size())
                return -1;
            length = (quint8(bytes[pos + 2]) << 8) | quint8(bytes[pos + 3]);
            payload = pos + 4;
        }
        if (payload + length > bytes.size())
            return -1;
        if (opcode == 0x8)
            return length >= 2 ? (quint8(bytes[payload]) << 8) | quint8(bytes[payload + 1]) : 1005;
        pos = payload + length;
    }
    return -1;
}

} // namespace

void tst_GatewayLifecycle::connectDuringDrainIsRefusedWithShutdown()
{
    // A client whose WebSocket upgrade arrives while the gateway drains (on a keep-alive
    // connection accepted before SIGTERM) is closed with 3000 (shutdown: reconnect elsewhere),
    // not 3003 (server full).
    GatewayProcess g;
    QVERIFY(g.start({"--drain-timeout", "3000"}));
    // A raw WebSocket that never answers the close handshake keeps the drain open (about 2 s).
    QTcpSocket holder;
    holder.connectToHost(QHostAddress::LocalHost, g.port());
    QVERIFY(holder.waitForConnected(5000));
    holder.write(kUpgrade);
    QByteArray holderBytes;
    QVERIFY(readUntil(holder, holderBytes, [](const QByteArray &b) { return b.contains("\r\n\r\n"); }));
    QVERIFY(holderBytes.startsWith("HTTP/1.1 101"));
    // A keep-alive HTTP connection, accepted and idle.
    QTcpSocket late;
    late.connectToHost(QHostAddress::LocalHost, g.port());
    QVERIFY(late.waitForConnected(5000));
    late.write("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    QByteArray lateBytes;
    QVERIFY(readUntil(late, lateBytes, [](const QByteArray &b) { return b.contains("\"status\":\"ok\""); }));
    QVERIFY(lateBytes.startsWith("HTTP/1.1 200"));

    g.process().terminate(); // SIGTERM
    // The drain has begun once the holder gets its disconnect (close 3000).
    QVERIFY2(readUntil(holder, holderBytes, [](const QByteArray &b) { return closeCodeAfterHead(b) != -1; }),
             holderBytes.toHex().constData());
    QCOMPARE(closeCodeAfterHead(holderBytes), 3000);

    lateBytes.clear();
    late.write(kUpgrade);
    QVERIFY2(readUntil(late, lateBytes, [](const QByteArray &b) { return closeCodeAfterHead(b) != -1; }),
             lateBytes.constData());
    QCOMPARE(closeCodeAfterHead(lateBytes), 3000);
    QVERIFY(lateBytes.contains("server shutting down"));
    QVERIFY(g.process().state() == QProcess::NotRunning || g.process().waitForFinished(10000));
    QCOMPARE(g.process().exitCode(), 0);
}

void tst_GatewayLifecycle::thousandConnectionsReturnToBaseline()
{
    constexpr int kConnections = 1000;
    GatewayProcess g;
    g.disableAsanQuarantine(); // RSS then measures what is held per connection
    // glibc gives each io thread its own malloc arena: which thread served which connection then
    // decides which arena grows, and a second round served by the other thread grew RSS by up to
    // 1.6 MiB under CI load with nothing kept. One arena makes the check about what is held.
    g.setEnvironmentVariable("MALLOC_ARENA_MAX", "1");
    QVERIFY(g.start());
    QNetworkAccessManager nam;
    const qint64 pid = g.pid();

    auto cycle = [&](qint64 &rssOpen) {
        std::vector<std::unique_ptr<WsClient>> clients;
        clients.reserve(kConnections);
        for (int i = 0; i < kConnections; ++i) {
            clients.push_back(std::make_unique<WsClient>());
            clients.back()->socket().open(g.url("/ws", "ws"));
        }
        QDeadlineTimer deadline(60000);
        auto connected = [&] {
            return std::count_if(clients.begin(), clients.end(), [](const auto &c) {
                return c->socket().state() == QAbstractSocket::ConnectedState;
            });
        };
        while (connected() < kConnections && !deadline.hasExpired())
            QTest::qWait(10);
        QCOMPARE(connected(), kConnections);
        for (auto &c : clients)
            c->send({{"op", "connect"}, {"version", 1}});
        for (auto &c : clients)
            QVERIFY(c->waitFor("welcome", -1, int(std::max<qint64>(deadline.remainingTime(), 1))));
        QCOMPARE(metrics(nam, g).value("switchboard_sessions"), double(kConnections));
        QVERIFY(openFds(pid) >= kConnections);
        rssOpen = rssKb(pid);
        for (auto &c : clients)
            c->socket().close();
        QTRY_COMPARE_WITH_TIMEOUT(metrics(nam, g).value("switchboard_websocket_connections"), 0.0, 30000);
        QCOMPARE(metrics(nam, g).value("switchboard_sessions"), 0.0);
    };

    // Warm up allocator arenas and Qt's own connection state before the baseline.
    QCOMPARE(http(nam, "GET", g.url("/healthz"), {}, false).status, 200);
    const int fdBaseline = openFds(pid);
    const qint64 rssBaseline = rssKb(pid);
    qint64 rssOpen1 = 0, rssOpen2 = 0;
    cycle(rssOpen1);
    if (QTest::currentTestFailed())
        return;
    QTRY_VERIFY_WITH_TIMEOUT(openFds(pid) <= fdBaseline, 10000);
    const qint64 rssAfter1 = rssKb(pid);
    cycle(rssOpen2);
    if (QTest::currentTestFailed())
        return;
    QTRY_VERIFY_WITH_TIMEOUT(openFds(pid) <= fdBaseline, 10000);
    const qint64 rssAfter2 = rssKb(pid);
    qInfo("gateway RSS: baseline %lld KiB, 1000 open %lld KiB (%.1f KiB per connection), after close %lld KiB; "
          "second round open %lld KiB, after close %lld KiB",
          rssBaseline, rssOpen1, double(rssOpen1 - rssBaseline) / kConnections, rssAfter1, rssOpen2, rssAfter2);
    // Slack for allocator and sanitizer bookkeeping (ASan's per-thread caches, TSan's shadow of
    // reused memory): a tenth of what the first round's connections held, at least 1 MiB. Memory
    // kept per connection would exceed it at once.
    const qint64 slack = std::max<qint64>(1024, (rssOpen1 - rssBaseline) / 10);
    // Nothing per connection survives: a second round ends where the first one did (the
    // allocator keeps freed pages for reuse, so the baseline is the state after one round).
    QVERIFY2(rssAfter2 <= rssAfter1 + slack,
             qPrintable(QStringLiteral("RSS grew from %1 to %2 KiB (slack %3 KiB)").arg(rssAfter1).arg(rssAfter2).arg(slack)));
    // Closing touches a little bookkeeping at most, never a share per connection.
    QVERIFY2(rssAfter1 <= rssOpen1 + slack,
             qPrintable(QStringLiteral("closing connections grew RSS from %1 to %2 KiB (slack %3 KiB)").arg(rssOpen1).arg(rssAfter1).arg(slack)));
    QCOMPARE(metrics(nam, g).value("switchboard_websocket_handshakes_total"), 2.0 * kConnections);
}

QTEST_MAIN(tst_GatewayLifecycle)
#include "tst_gatewaylifecycle.moc"
