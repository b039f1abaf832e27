// switchboard-gateway HTTP connection limits, each driven by raw sockets: the request deadline
// (half-sent headers or body, silent connections, idle keep-alive), the TCP connection limit
// (with idle connections given up first, and accept backing off when out of descriptors) and the
// write-progress deadline of responses.
#include "GatewayProcess.h"

#include <QElapsedTimer>
#include <QTcpSocket>
#include <QTemporaryDir>

#include <sys/resource.h>

using namespace gatewaytest;

namespace {

/// Waits until the server closed `socket` (reading whatever it sent); false on timeout.
bool waitServerClosed(QTcpSocket &socket, int timeoutMs = 5000)
{
    QDeadlineTimer deadline(timeoutMs);
    while (socket.state() == QAbstractSocket::ConnectedState && !deadline.hasExpired()) {
        socket.waitForReadyRead(int(std::min<qint64>(50, deadline.remainingTime())));
        socket.readAll();
    }
    return socket.state() != QAbstractSocket::ConnectedState;
}

std::unique_ptr<QTcpSocket> connectRaw(const GatewayProcess &g)
{
    auto socket = std::make_unique<QTcpSocket>();
    socket->connectToHost(QHostAddress::LocalHost, g.port());
    if (!socket->waitForConnected(5000))
        return nullptr;
    return socket;
}

/// Reads one whole response with a Content-Length from `socket`; returns it ("" on timeout).
QByteArray readResponse(QTcpSocket &socket, int timeoutMs = 5000)
{
    QByteArray data;
    QDeadlineTimer deadline(timeoutMs);
    while (!deadline.hasExpired()) {
        data += socket.readAll(); // what an event loop already buffered
        const int end = data.indexOf("\r\n\r\n");
        if (end >= 0) {
            const QRegularExpression length(QStringLiteral("(?i)content-length: *(\\d+)"));
            const auto match = length.match(QString::fromLatin1(data.left(end)));
            if (match.hasMatch() && data.size() >= end + 4 + match.captured(1).toInt())
                return data;
        }
        if (!socket.waitForReadyRead(int(deadline.remainingTime())))
            break;
        data += socket.readAll();
    }
    return {};
}

/// Sockets that connect and never send a byte.
std::vector<std::unique_ptr<QTcpSocket>> silentSockets(const GatewayProcess &g, int n)
{
    std::vector<std::unique_ptr<QTcpSocket>> sockets;
    for (int i = 0; i < n; ++i) {
        auto s = std::make_unique<QTcpSocket>();
        s->connectToHost(QHostAddress::LocalHost, g.port());
        sockets.push_back(std::move(s));
    }
    for (auto &s : sockets)
        s->waitForConnected(5000);
    return sockets;
}

/// Starts the gateway with an open-file limit of `files` descriptors.
bool startWithFileLimit(GatewayProcess &g, rlim_t files, const QStringList &args)
{
    g.process().setChildProcessModifier([files] {
        const rlimit limit{files, files};
        ::setrlimit(RLIMIT_NOFILE, &limit);
    });
    return g.start(args);
}

/// CPU time (user + system) of a process in clock ticks, -1 when unknown.
qint64 cpuTicks(qint64 pid)
{
    QFile stat(QStringLiteral("/proc/%1/stat").arg(pid));
    if (!stat.open(QIODevice::ReadOnly))
        return -1;
    const QByteArray text = stat.readAll();
    // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
    const QList<QByteArray> fields = text.mid(text.lastIndexOf(')') + 2).split(' ');
    return fields.size() > 12 ? fields[11].toLongLong() + fields[12].toLongLong() : -1;
}

} // namespace

class tst_GatewayHttpLimits : public QObject
{
    Q_OBJECT

private slots:
    void incompleteRequestClosed_data();
    void incompleteRequestClosed();
    void idleKeepAliveClosed();
    void slowCompleteRequestServed();
    void overTcpLimitRefusedAtOnce();
    void idleConnectionsMakeRoom();
    void requestInFlightNeverEvicted();
    void sixtyIdleSocketsUnderSixtyFourFiles();
    void outOfFilesBacksOffAndRecovers();
    void stalledResponseDropped();
};

void tst_GatewayHttpLimits::incompleteRequestClosed_data()
{
    QTest::addColumn<QByteArray>("sent");
    QTest::newRow("nothing") << QByteArray();
    QTest::newRow("half the headers") << QByteArray("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    QTest::newRow("half the body") << QByteArray("POST /api/publish HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: test-api-key\r\n"
                                                  "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"channel\":");
}

void tst_GatewayHttpLimits::incompleteRequestClosed()
{
    QFETCH(QByteArray, sent);
    GatewayProcess g;
    QVERIFY(g.start({"--header-timeout", "300"}));
    auto socket = connectRaw(g);
    QVERIFY(socket);
    QElapsedTimer clock;
    clock.start();
    socket->write(sent);
    QVERIFY(waitServerClosed(*socket, 5000));
    QVERIFY(clock.elapsed() >= 250);
    QNetworkAccessManager nam;
    const auto m = metrics(nam, g);
    QCOMPARE(m.value("switchboard_http_header_timeouts_total"), 1.0);
    QCOMPARE(m.value("switchboard_http_idle_timeouts_total"), 0.0);
}

void tst_GatewayHttpLimits::idleKeepAliveClosed()
{
    GatewayProcess g;
    QVERIFY(g.start({"--header-timeout", "300"}));
    auto socket = connectRaw(g);
    QVERIFY(socket);
    socket->write("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    QVERIFY(readResponse(*socket).startsWith("HTTP/1.1 200"));
    // Kept alive for a next request, which never comes.
    QElapsedTimer clock;
    clock.start();
    QVERIFY(waitServerClosed(*socket, 5000));
    QVERIFY(clock.elapsed() >= 250);
    QNetworkAccessManager nam;
    const auto m = metrics(nam, g);
    QCOMPARE(m.value("switchboard_http_idle_timeouts_total"), 1.0);
    QCOMPARE(m.value("switchboard_http_header_timeouts_total"), 0.0);
}

void tst_GatewayHttpLimits::slowCompleteRequestServed()
{
    GatewayProcess g;
    QVERIFY(g.start({"--header-timeout", "2000"}));
    auto socket = connectRaw(g);
    QVERIFY(socket);
    // Sent in pieces, well within the deadline: served, and the connection kept alive.
    for (const char *piece : {"GET /heal", "thz HTTP/1.1\r\n", "Host: 127.0.0.1\r\n", "\r\n"}) {
        socket->write(piece);
        socket->flush();
        QTest::qWait(50);
    }
    QVERIFY(readResponse(*socket).startsWith("HTTP/1.1 200"));
    socket->write("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    QVERIFY(readResponse(*socket).startsWith("HTTP/1.1 200"));
}

void tst_GatewayHttpLimits::overTcpLimitRefusedAtOnce()
{
    GatewayProcess g;
    QVERIFY(g.start({"--max-tcp-connections", "3"}));
    // Three connections busy with half a request each: not idle, so none makes room.
    std::vector<std::unique_ptr<QTcpSocket>> busy;
    for (int i = 0; i < 3; ++i) {
        busy.push_back(connectRaw(g));
        QVERIFY(busy.back());
        busy.back()->write("GET /healthz HTTP/1.1\r\n");
        QVERIFY(busy.back()->waitForBytesWritten(5000));
    }
    auto extra = connectRaw(g);
    QVERIFY(extra);
    QElapsedTimer clock;
    clock.start();
    extra->write("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    const QByteArray answer = readResponse(*extra);
    QVERIFY2(answer.startsWith("HTTP/1.1 503"), answer.constData());
    QVERIFY(answer.contains("Connection: close"));
    QVERIFY(waitServerClosed(*extra, 2000));
    QVERIFY(clock.elapsed() < 2000); // refused at once, not after a deadline

    // One busy client leaves: its slot frees up for the next requests (once the gateway has seen
    // it go; attempts before that are refused too, and counted). They go over fresh connections
    // with `Connection: close`, so no keep-alive connection of the test sits idle (an idle one
    // may be closed to make room, which is counted as an eviction, not what this test is about).
    busy.front()->close();
    int refusedMore = 0;
    const auto getUntilServed = [&](const char *path) {
        QByteArray answer;
        QDeadlineTimer deadline(5000);
        while (!deadline.hasExpired()) {
            auto socket = connectRaw(g);
            if (!socket)
                break;
            socket->write(QByteArray("GET ") + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
            answer = readResponse(*socket);
            if (!answer.startsWith("HTTP/1.1 503"))
                break;
            ++refusedMore;
            QTest::qWait(10);
        }
        return answer;
    };
    const QByteArray health = getUntilServed("/healthz");
    QVERIFY2(health.startsWith("HTTP/1.1 200"), health.constData());
    const QByteArray answer2 = getUntilServed("/metrics");
    QVERIFY2(answer2.startsWith("HTTP/1.1 200"), answer2.left(200).constData());
    const auto m = parseMetrics(answer2.mid(answer2.indexOf("\r\n\r\n") + 4));
    QCOMPARE(m.value("switchboard_rejected_tcp_limit_total"), 1.0 + refusedMore);
    QCOMPARE(m.value("switchboard_http_idle_evictions_total"), 0.0);
    // The two busy clients left and the connection asking for the metrics.
    QCOMPARE(m.value("switchboard_tcp_connections"), 3.0);
}

void tst_GatewayHttpLimits::idleConnectionsMakeRoom()
{
    GatewayProcess g;
    QVERIFY(g.start({"--max-tcp-connections", "4"}));
    auto idle = silentSockets(g, 4);
    // Near the limit, the connection idle the longest is closed to make room.
    QTRY_VERIFY_WITH_TIMEOUT(idle.front()->state() != QAbstractSocket::ConnectedState, 5000);
    QNetworkAccessManager nam;
    QCOMPARE(http(nam, "GET", g.url("/healthz"), {}, false).status, 200);
    const auto m = metrics(nam, g);
    QVERIFY(m.value("switchboard_http_idle_evictions_total") >= 1.0);
    QCOMPARE(m.value("switchboard_http_header_timeouts_total"), 0.0);
    QVERIFY(m.value("switchboard_tcp_connections") <= 4.0);
}

void tst_GatewayHttpLimits::requestInFlightNeverEvicted()
{
    // A connection whose first bytes were sent before the limit needed room is busy, not idle,
    // however far the gateway got in reading them: the bytes may sit in the kernel, be on their way
    // from the socket to the session (read on one io thread while another looks for room), or in
    // the session's buffer. Each round: A sends half a request, then B connects, which takes the
    // last slot below the limit and makes the gateway look for an idle connection to close; A
    // must still be served. Many short rounds, since the window is narrow.
    GatewayProcess g;
    QVERIFY(g.start({"--max-tcp-connections", "2"}));
    int served = 0;
    QElapsedTimer clock;
    clock.start();
    for (int round = 0; round < 5000 && clock.elapsed() < 20000; ++round) {
        auto a = connectRaw(g);
        QVERIFY(a);
        a->write("GET /healthz HTTP/1.1\r\n");
        QVERIFY(a->waitForBytesWritten(5000));
        auto b = connectRaw(g);
        QVERIFY(b);
        a->write("Host: 127.0.0.1\r\nConnection: close\r\n\r\n");
        const QByteArray answer = readResponse(*a, 2000);
        if (answer.startsWith("HTTP/1.1 503"))
            continue; // the previous round's connections still held the slots: refused, not evicted
        QVERIFY2(answer.startsWith("HTTP/1.1 200"),
                 qPrintable(QStringLiteral("round %1: a request in flight got \"%2\"").arg(round).arg(QString::fromLatin1(answer))));
        ++served;
        b->close();
        waitServerClosed(*a, 2000);
    }
    QVERIFY2(served >= 100, qPrintable(QStringLiteral("only %1 rounds were served").arg(served)));
}

void tst_GatewayHttpLimits::sixtyIdleSocketsUnderSixtyFourFiles()
{
    // The default limit fits the open-file limit, and idle sockets give way: /healthz stays
    // reachable long before the request deadline (30 s here) would free anything.
    GatewayProcess g;
    QVERIFY(startWithFileLimit(g, 64, {"--header-timeout", "30000"}));
    auto idle = silentSockets(g, 60);
    QNetworkAccessManager nam;
    QElapsedTimer clock;
    clock.start();
    QTRY_COMPARE_WITH_TIMEOUT(http(nam, "GET", g.url("/healthz"), {}, false).status, 200, 5000);
    qInfo("healthz answered %lld ms after 60 idle sockets", clock.elapsed());
    const auto m = metrics(nam, g);
    QVERIFY(m.value("switchboard_http_idle_evictions_total") >= 1.0);
    QCOMPARE(m.value("switchboard_accept_errors_total"), 0.0);
}

void tst_GatewayHttpLimits::outOfFilesBacksOffAndRecovers()
{
    GatewayProcess g;
    // A TCP limit above what the descriptors allow, so accept itself fails (EMFILE).
    QVERIFY(startWithFileLimit(g, 64, {"--max-tcp-connections", "1000", "--header-timeout", "1500"}));
    const qint64 cpuBefore = cpuTicks(g.pid());
    QElapsedTimer clock;
    clock.start();
    auto idle = silentSockets(g, 80);
    // The silent ones are closed at the request deadline; the listener then accepts again.
    QNetworkAccessManager nam;
    QTRY_COMPARE_WITH_TIMEOUT(http(nam, "GET", g.url("/healthz"), {}, false).status, 200, 10000);
    const qint64 spentTicks = cpuTicks(g.pid()) - cpuBefore;
    const double spentSeconds = double(spentTicks) / double(sysconf(_SC_CLK_TCK));
    qInfo("out of files for %lld ms: the gateway used %.2f s of CPU", clock.elapsed(), spentSeconds);
    QVERIFY(spentSeconds < 0.25 * double(clock.elapsed()) / 1000.0); // backs off, never spins
    const auto m = metrics(nam, g);
    QVERIFY(m.value("switchboard_accept_errors_total") >= 1.0);
    QVERIFY(m.value("switchboard_http_header_timeouts_total") >= 1.0);
}

void tst_GatewayHttpLimits::stalledResponseDropped()
{
    // A response far larger than the socket buffers, to a client that stops reading.
    QTemporaryDir root;
    QVERIFY(root.isValid());
    {
        QFile big(root.filePath("big.bin"));
        QVERIFY(big.open(QIODevice::WriteOnly));
        const QByteArray chunk(1 << 20, 'x');
        for (int i = 0; i < 64; ++i)
            QVERIFY(big.write(chunk) == chunk.size());
    }
    GatewayProcess g;
    QVERIFY(g.start({"--static", root.path(), "--write-timeout", "500"}));
    QTcpSocket stalled;
    stalled.setReadBufferSize(4096);
    stalled.connectToHost(QHostAddress::LocalHost, g.port());
    QVERIFY(stalled.waitForConnected(5000));
    stalled.write("GET /big.bin HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    QTRY_VERIFY_WITH_TIMEOUT(stalled.bytesAvailable() > 0, 5000);

    QNetworkAccessManager nam;
    QTRY_COMPARE_WITH_TIMEOUT(metrics(nam, g).value("switchboard_http_write_timeouts_total"), 1.0, 5000);
    // Dropped: only the metrics connection is left.
    QTRY_COMPARE_WITH_TIMEOUT(metrics(nam, g).value("switchboard_tcp_connections"), 1.0, 5000);
}

QTEST_GUILESS_MAIN(tst_GatewayHttpLimits)
#include "tst_gatewayhttplimits.moc"
