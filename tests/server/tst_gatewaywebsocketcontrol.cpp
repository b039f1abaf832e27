// switchboard-gateway and WebSocket control frames from clients: a ping flood from a client that
// never reads keeps the gateway's memory bounded (one pending pong per connection, control bytes
// within the outbox limit) and is closed 3005 by the rate limit, before and after `connect`; a
// client that pings now and then gets every pong.
#include "GatewayProcess.h"

#include <QFile>
#include <QtEndian>

#include <arpa/inet.h>
#include <cerrno>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

using namespace gatewaytest;

namespace {

/// Kilobytes of a /proc/<pid>/status field (VmRSS, VmHWM); -1 when unreadable.
qint64 procStatusKb(qint64 pid, const QByteArray &field)
{
    QFile status(QStringLiteral("/proc/%1/status").arg(pid));
    if (!status.open(QIODevice::ReadOnly))
        return -1;
    for (const QByteArray &line : status.readAll().split('\n')) {
        if (line.startsWith(field + ':'))
            return line.mid(field.size() + 1).trimmed().split(' ').value(0).toLongLong();
    }
    return -1;
}

/// A WebSocket client on a plain POSIX socket: it reads only when told to, so unread server
/// frames stay in the kernel (a Qt socket would keep reading them in the background).
class PosixWebSocket {
public:
    ~PosixWebSocket()
    {
        if (m_fd >= 0)
            ::close(m_fd);
    }

    bool open(quint16 port)
    {
        m_fd = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(port);
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (m_fd < 0 || ::connect(m_fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr) != 0)
            return false;
        ::fcntl(m_fd, F_SETFL, ::fcntl(m_fd, F_GETFL) | O_NONBLOCK);
        if (!sendAll("GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"))
            return false;
        QDeadlineTimer deadline(5000);
        while (!m_in.contains("\r\n\r\n") && readSome(deadline)) {
        }
        const qsizetype end = m_in.indexOf("\r\n\r\n");
        if (end < 0 || !m_in.startsWith("HTTP/1.1 101"))
            return false;
        m_in.remove(0, end + 4);
        return true;
    }

    /// A masked client frame (mask key 0: allowed, and the payload needs no XOR).
    static QByteArray frame(quint8 opcode, const QByteArray &payload)
    {
        QByteArray out;
        out.append(char(0x80 | opcode));
        out.append(char(0x80 | payload.size())); // < 126 bytes here
        out.append(4, '\0');
        return out + payload;
    }

    /// Writes everything (bounded). False when the server closed the connection or the deadline
    /// passed.
    bool sendAll(const QByteArray &bytes, int timeoutMs = 5000)
    {
        QDeadlineTimer deadline(timeoutMs);
        qsizetype done = 0;
        while (done < bytes.size()) {
            const ssize_t n = ::send(m_fd, bytes.constData() + done, size_t(bytes.size() - done), MSG_NOSIGNAL);
            if (n > 0) {
                done += n;
                continue;
            }
            if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
                return false; // EPIPE / ECONNRESET: the server is gone
            if (deadline.hasExpired())
                return false;
            pollfd p{m_fd, POLLOUT, 0};
            ::poll(&p, 1, int(qMin<qint64>(deadline.remainingTime(), 50)));
        }
        return true;
    }

    /// Reads what the kernel holds (waiting up to the deadline for more). False at EOF, on error
    /// or at the deadline without new bytes.
    bool readSome(const QDeadlineTimer &deadline)
    {
        char buffer[64 * 1024];
        while (true) {
            const ssize_t n = ::recv(m_fd, buffer, sizeof buffer, 0);
            if (n > 0) {
                m_in.append(buffer, n);
                return true;
            }
            if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK) || deadline.hasExpired())
                return false;
            pollfd p{m_fd, POLLIN, 0};
            ::poll(&p, 1, int(qMax<qint64>(qMin<qint64>(deadline.remainingTime(), 50), 1)));
        }
    }

    struct ServerFrame {
        quint8 opcode;
        QByteArray payload;
    };
    /// The next whole server frame, reading as needed; nullopt at EOF or the deadline.
    std::optional<ServerFrame> next(int timeoutMs = 5000)
    {
        QDeadlineTimer deadline(timeoutMs);
        while (true) {
            if (m_in.size() >= 2) {
                const quint8 opcode = quint8(m_in[0]) & 0x0F;
                qint64 length = quint8(m_in[1]) & 0x7F;
                int header = 2;
                if (length == 126 && m_in.size() >= 4) {
                    length = qFromBigEndian<quint16>(m_in.constData() + 2);
                    header = 4;
                }
                if (length < 126 || header == 4) {
                    if (m_in.size() >= header + length) {
                        ServerFrame f{opcode, m_in.mid(header, length)};
                        m_in.remove(0, header + length);
                        return f;
                    }
                }
            }
            if (!readSome(deadline))
                return std::nullopt;
        }
    }

private:
    int m_fd = -1;
    QByteArray m_in;
};

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

QTEST_MAIN(tst_GatewayWebSocketControl)
#include "tst_gatewaywebsocketcontrol.moc"
