// switchboard-gateway HTTP connection limits, each driven by raw sockets: the request deadline
// (half-sent headers or body, silent connections, idle keep-alive), the TCP connection limit
// (with idle connections given up first, and accept backing off when out of descriptors) and the
// write-progress deadline of responses.
#include "GatewayProcess.h"

#include <QElapsedTimer>
#include <QTcpSocket>

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

} // namespace

class tst_GatewayHttpLimits : public QObject
{
    Q_OBJECT

private slots:
    void incompleteRequestClosed_data();
    void incompleteRequestClosed();
    void idleKeepAliveClosed();
    void slowCompleteRequestServed();
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

QTEST_GUILESS_MAIN(tst_GatewayHttpLimits)
#include "tst_gatewayhttplimits.moc"
