// QtWebSocketGateway against hostile and broken peers (issue 9): raw QTcpSocket clients on
// 127.0.0.1 that send exactly the bytes under test. RFC 6455 conformance (unmasked frames, bad
// upgrades, UTF-8 split across fragments, frames in the upgrade packet), the handshake deadline,
// the TCP connection limit, ping floods (coalesced pongs, bounded memory, rate limit), liveness
// and the write-progress deadline.

#include "RawWebSocketPeer.h"

#include <switchboard/Hub.h>
#include <switchboard/ServerProtocol.h>
#include <switchboard/qtws/QtTimer.h>
#include <switchboard/qtws/QtWebSocketGateway.h>

#include <QElapsedTimer>
#include <QLoggingCategory>
#include <QScopeGuard>
#include <QTest>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <string>
#include <thread>

using namespace switchboard;
using namespace switchboard::qtws;
using testsupport::RawWebSocketPeer;
using testsupport::ServerFrame;

namespace {

const QByteArray kConnect = R"({"op":"connect","version":1})";

struct Server {
    explicit Server(QtGatewayOptions options = {}, ServerProtocolOptions protocolOptions = {}, HubOptions hubOptions = {})
        : hub(timer, hubOptions), protocol(hub, timer, protocolOptions), gateway(hub, protocol, options)
    {
    }
    quint16 port() const { return gateway.serverPort(); }
    QtTimer timer;
    Hub hub;
    ServerProtocol protocol;
    QtWebSocketGateway gateway;
};

#if defined(__SANITIZE_ADDRESS__)
extern "C" std::size_t __sanitizer_get_current_allocated_bytes(); // ASan's allocator interface
#endif

/// Resident memory of this process in KiB. Under AddressSanitizer (the asan preset) the live heap
/// instead: RSS would count ASan's quarantine, which holds up to 256 MiB of freed blocks.
long rssKb()
{
#if defined(__SANITIZE_ADDRESS__)
    return long(__sanitizer_get_current_allocated_bytes() / 1024);
#endif
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line))
        if (line.rfind("VmRSS:", 0) == 0)
            return std::stol(line.substr(6));
    return 0;
}

/// A blocking POSIX client on its own thread, so it can write megabytes without reading while
/// the gateway (on the test's thread) keeps running.
class FloodClient {
public:
    explicit FloodClient(quint16 port) : m_port(port) {}
    ~FloodClient()
    {
        readNow = true;
        if (m_fd >= 0)
            ::shutdown(m_fd, SHUT_RDWR); // unblocks a send or recv still waiting
        if (m_thread.joinable())
            m_thread.join();
        if (m_fd >= 0)
            ::close(m_fd);
    }

    /// Opens and upgrades, sends `pings` pings (125-byte payloads ending in their number) without
    /// reading, then, once `readNow` is set, reads until the pong of the last ping, a close frame
    /// or 10 s of silence.
    void start(int pings)
    {
        m_fd = ::socket(AF_INET, SOCK_STREAM, 0);
        m_thread = std::thread([this, pings] { run(pings); });
    }

    std::atomic<bool> upgraded{false};
    std::atomic<bool> sent{false};
    std::atomic<bool> readNow{false};
    std::atomic<bool> done{false};
    std::atomic<int> pongs{0};
    std::atomic<bool> lastPongMatches{false};
    std::atomic<int> closeCode{-1};

    static QByteArray payload(int i)
    {
        QByteArray p(125, 'p');
        const QByteArray n = QByteArray::number(i);
        p.replace(125 - n.size(), n.size(), n);
        return p;
    }

private:
    void run(int pings)
    {
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(m_port);
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        timeval timeout{10, 0};
        ::setsockopt(m_fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
        ::setsockopt(m_fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
        if (::connect(m_fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr) != 0 || !writeAll(RawWebSocketPeer::upgradeRequest())) {
            done = true;
            return;
        }
        QByteArray in;
        while (!in.contains("\r\n\r\n") && readSome(in)) {
        }
        upgraded = in.startsWith("HTTP/1.1 101");
        in.remove(0, in.indexOf("\r\n\r\n") + 4);
        // Whole batches of frames per write: the client's own memory stays at one batch.
        QByteArray batch;
        for (int i = 0; i < pings && upgraded; ++i) {
            batch += RawWebSocketPeer::frame(RawWebSocketPeer::Ping, payload(i));
            if (batch.size() > 128 * 1024 || i + 1 == pings) {
                if (!writeAll(batch))
                    break;
                batch.clear();
            }
        }
        sent = true;
        while (!readNow)
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        const QByteArray last = payload(pings - 1);
        for (;;) {
            ServerFrame frame;
            while (!parse(in, frame)) {
                if (!readSome(in)) {
                    done = true;
                    return;
                }
            }
            if (frame.opcode == RawWebSocketPeer::Pong) {
                ++pongs;
                if (frame.payload == last) {
                    lastPongMatches = true;
                    break;
                }
            } else if (frame.opcode == RawWebSocketPeer::Close) {
                closeCode = frame.closeCode();
                break;
            }
        }
        done = true;
    }

    bool writeAll(const QByteArray &bytes)
    {
        qsizetype off = 0;
        while (off < bytes.size()) {
            const ssize_t n = ::send(m_fd, bytes.constData() + off, std::size_t(bytes.size() - off), MSG_NOSIGNAL);
            if (n <= 0)
                return false;
            off += n;
        }
        return true;
    }

    bool readSome(QByteArray &in)
    {
        char buffer[65536];
        const ssize_t n = ::recv(m_fd, buffer, sizeof buffer, 0);
        if (n <= 0)
            return false;
        in.append(buffer, n);
        return true;
    }

    static bool parse(QByteArray &in, ServerFrame &frame)
    {
        const auto *p = reinterpret_cast<const unsigned char *>(in.constData());
        const auto n = std::size_t(in.size());
        if (n < 2)
            return false;
        std::size_t pos = 2;
        std::uint64_t length = p[1] & 0x7F;
        if (length == 126) {
            if (n < 4)
                return false;
            length = (std::uint64_t(p[2]) << 8) | p[3];
            pos = 4;
        } else if (length == 127) {
            if (n < 10)
                return false;
            length = 0;
            for (int i = 0; i < 8; ++i)
                length = (length << 8) | p[2 + i];
            pos = 10;
        }
        if (n < pos + length)
            return false;
        frame.opcode = p[0] & 0x0F;
        frame.payload = in.mid(qsizetype(pos), qsizetype(length));
        in.remove(0, qsizetype(pos + length));
        return true;
    }

    quint16 m_port;
    int m_fd = -1;
    std::thread m_thread;
};

} // namespace

class TestQtGatewayHardening : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void unmaskedFrameIsProtocolError()
    {
        Server server;
        QVERIFY(server.gateway.listen());
        RawWebSocketPeer peer;
        QVERIFY(peer.open(server.port()));
        peer.send(RawWebSocketPeer::Text, kConnect, true, /*masked=*/false);
        QCOMPARE(peer.closeCode(), 1002);
        QVERIFY(peer.waitDisconnected());
        QCOMPARE(server.gateway.counters().protocolErrors, 1u);
        QCOMPARE(server.hub.counters().sessions, std::size_t(0));
        QTRY_COMPARE(server.gateway.connectionCount(), 0);
    }

    void badUpgradeGetsHttpAnswer_data()
    {
        QTest::addColumn<QByteArray>("request");
        QTest::addColumn<QByteArray>("status");
        QTest::addColumn<QByteArray>("header");
        const QByteArray upgrade = "Upgrade: websocket\r\nConnection: Upgrade\r\n";
        QTest::newRow("header line without a colon")
            << QByteArray("GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\n" + upgrade
                          + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nbroken header\r\n\r\n")
            << QByteArray("HTTP/1.1 400 ") << QByteArray();
        QTest::newRow("garbage request line") << QByteArray("HELLO\r\n\r\n") << QByteArray("HTTP/1.1 400 ") << QByteArray();
        QTest::newRow("key is not 16 bytes of base64")
            << QByteArray("GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\n" + upgrade
                          + "Sec-WebSocket-Key: c2hvcnQ=\r\nSec-WebSocket-Version: 13\r\n\r\n")
            << QByteArray("HTTP/1.1 400 ") << QByteArray();
        QTest::newRow("version 12") << RawWebSocketPeer::upgradeRequest("12") << QByteArray("HTTP/1.1 426 ")
                                    << QByteArray("Sec-WebSocket-Version: 13\r\n");
        QTest::newRow("no version")
            << QByteArray("GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\n" + upgrade
                          + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
            << QByteArray("HTTP/1.1 426 ") << QByteArray("Sec-WebSocket-Version: 13\r\n");
        QTest::newRow("not an upgrade") << QByteArray("GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                                        << QByteArray("HTTP/1.1 426 ") << QByteArray("Upgrade: websocket\r\n");
        QTest::newRow("origin not allowed")
            << RawWebSocketPeer::upgradeRequest("13", "Origin: https://evil.example\r\n") << QByteArray("HTTP/1.1 403 ")
            << QByteArray();
        QTest::newRow("header over the limit")
            << RawWebSocketPeer::upgradeRequest("13", "X-Padding: " + QByteArray(20'000, 'x') + "\r\n")
            << QByteArray("HTTP/1.1 431 ") << QByteArray();
        // 9 KB of request line and 9 KB of header fields: each under the 16 KB limit, not both.
        QTest::newRow("request line and fields over the limit together")
            << RawWebSocketPeer::upgradeRequest("13", "X-Padding: " + QByteArray(9'000, 'x') + "\r\n")
                   .replace("GET /ws ", "GET /ws?pad=" + QByteArray(9'000, 'p') + " ")
            << QByteArray("HTTP/1.1 431 ") << QByteArray();
    }

    void badUpgradeGetsHttpAnswer()
    {
        QFETCH(QByteArray, request);
        QFETCH(QByteArray, status);
        QFETCH(QByteArray, header);
        QtGatewayOptions options;
        options.allowedOrigins = {QStringLiteral("https://panel.example")};
        Server server(options);
        QVERIFY(server.gateway.listen());
        RawWebSocketPeer peer;
        QVERIFY(peer.connectTo(server.port()));
        peer.socket.write(request);
        const QByteArray head = peer.httpResponseHead();
        QVERIFY2(head.startsWith(status), head.constData());
        if (!header.isEmpty())
            QVERIFY2(head.contains(header), head.constData());
        QVERIFY(peer.waitDisconnected());
        const QtGatewayCounters c = server.gateway.counters();
        QCOMPARE(c.accepted, 0u);
        QCOMPARE(c.rejectedBadRequest + c.rejectedVersion + c.rejectedOrigin, 1u);
        QTRY_COMPARE(server.gateway.tcpConnectionCount(), 0);
    }

    void upgradeRequestInPieces_data()
    {
        QTest::addColumn<int>("piece");
        const int size = int(RawWebSocketPeer::upgradeRequest().size());
        QTest::newRow("7 bytes") << 7;
        QTest::newRow("64 bytes") << 64;  // the request line arrives whole with part of a header
        QTest::newRow("100 bytes") << 100;
        QTest::newRow("all but the last byte") << size - 1;
    }
    void upgradeRequestInPieces()
    {
        QFETCH(int, piece);
        Server server;
        QVERIFY(server.gateway.listen());
        RawWebSocketPeer peer;
        QVERIFY(peer.connectTo(server.port()));
        const QByteArray request = RawWebSocketPeer::upgradeRequest();
        for (qsizetype at = 0; at < request.size(); at += piece) {
            peer.socket.write(request.mid(at, piece));
            peer.socket.flush();
            QTest::qWait(5); // separate reads on the server
        }
        const QByteArray head = peer.httpResponseHead();
        QVERIFY2(head.startsWith("HTTP/1.1 101 "), head.constData());
        QVERIFY(head.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
        peer.sendText(kConnect);
        const std::optional<ServerFrame> welcome = peer.nextText();
        QVERIFY(welcome && welcome->payload.contains(R"("op":"welcome")"));
    }

    void missingOriginIsAllowed()
    {
        // Origin protects browsers, which always send it; other clients need not.
        QtGatewayOptions options;
        options.allowedOrigins = {QStringLiteral("https://panel.example")};
        Server server(options);
        QVERIFY(server.gateway.listen());
        RawWebSocketPeer listed;
        QVERIFY(listed.connectTo(server.port()));
        listed.socket.write(RawWebSocketPeer::upgradeRequest("13", "Origin: https://panel.example\r\n"));
        QVERIFY(listed.httpResponseHead().startsWith("HTTP/1.1 101 "));
        RawWebSocketPeer none;
        QVERIFY(none.open(server.port()));
        QTRY_COMPARE(server.gateway.connectionCount(), 2);
    }

    // Refusals the protocol decides (an error frame) and closes it decides are logged once, with
    // the client's address and the user of its token.
    void refusalsNameThePeerAndTheUser()
    {
        static QStringList *lines = nullptr;
        QStringList captured;
        lines = &captured;
        QLoggingCategory::setFilterRules(QStringLiteral("switchboard.qtws.info=true"));
        const QtMessageHandler previous = qInstallMessageHandler([](QtMsgType, const QMessageLogContext &context, const QString &text) {
            if (lines && context.category && QByteArray(context.category) == "switchboard.qtws")
                lines->append(text);
        });
        const auto restore = qScopeGuard([previous] {
            qInstallMessageHandler(previous);
            lines = nullptr;
            QLoggingCategory::setFilterRules(QString());
        });

        Server server;
        server.protocol.setConnectAuthenticator([](std::string_view) {
            ConnectDecision decision;
            decision.principal.userId = "alice";
            return decision;
        });
        QVERIFY(server.gateway.listen());
        RawWebSocketPeer peer;
        QVERIFY(peer.open(server.port()));
        peer.send(RawWebSocketPeer::Text, kConnect);
        QVERIFY(peer.nextText());
        peer.send(RawWebSocketPeer::Text, R"({"op":"subscribe","channel":"news","filter":[],"ackId":1})");
        const std::optional<ServerFrame> error = peer.nextText();
        QVERIFY(error && error->payload.contains(R"("op":"error")"));
        const QString prefix = QStringLiteral("peer 127.0.0.1:%1, user alice").arg(peer.socket.localPort());
        auto logged = [&](const QString &needle) {
            for (const QString &line : std::as_const(captured))
                if (line.startsWith(QLatin1String("refused ")) && line.contains(prefix) && line.contains(needle))
                    return true;
            return false;
        };
        QTRY_VERIFY2(logged(QStringLiteral("invalid filter")), qPrintable(captured.join('\n')));

        peer.send(RawWebSocketPeer::Text, QByteArray(70 * 1024, 'x')); // over the 64 KiB message limit
        QCOMPARE(peer.closeCode(), 1009);
        QTRY_VERIFY2(logged(QStringLiteral("too big")), qPrintable(captured.join('\n')));
    }

    void utf8SplitAcrossFragments()
    {
        Server server;
        std::string token;
        server.protocol.setConnectAuthenticator([&](std::string_view t) {
            token = std::string(t);
            return ConnectDecision{};
        });
        QVERIFY(server.gateway.listen());
        RawWebSocketPeer peer;
        QVERIFY(peer.open(server.port()));
        const QByteArray text = QByteArray(R"({"op":"connect","version":1,"token":")") + "\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80" + "\"}";
        const qsizetype euro = text.indexOf("\xE2\x82\xAC");
        const qsizetype emoji = text.indexOf("\xF0\x9F\x98\x80");
        peer.send(RawWebSocketPeer::Text, text.left(euro + 1), false);                       // cut after 0xE2
        peer.send(RawWebSocketPeer::Continuation, text.mid(euro + 1, emoji + 2 - euro - 1), false); // cut inside the emoji
        peer.send(RawWebSocketPeer::Continuation, text.mid(emoji + 2), true);
        const std::optional<ServerFrame> welcome = peer.nextText();
        QVERIFY(welcome);
        QVERIFY2(welcome->payload.contains(R"("op":"welcome")"), welcome->payload.constData());
        QCOMPARE(QByteArray::fromStdString(token), QByteArray("\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80"));
    }

    void framesInTheUpgradePacket()
    {
        Server server;
        QVERIFY(server.gateway.listen());
        RawWebSocketPeer peer;
        QVERIFY(peer.open(server.port(), RawWebSocketPeer::frame(RawWebSocketPeer::Text, kConnect)
                                             + RawWebSocketPeer::frame(RawWebSocketPeer::Text, R"({"op":"subscribe","channel":"now"})")));
        std::optional<ServerFrame> welcome = peer.nextText();
        QVERIFY(welcome);
        QVERIFY2(welcome->payload.contains(R"("op":"welcome")"), welcome->payload.constData());
        std::optional<ServerFrame> subscribed = peer.nextText();
        QVERIFY(subscribed);
        QVERIFY2(subscribed->payload.contains(R"("op":"subscribed")"), subscribed->payload.constData());
        QCOMPARE(server.hub.subscriberCount("now"), std::size_t(1));
    }

    void byteOrderMarkIsRefused()
    {
        // JSON text must not start with a BOM (RFC 8259 8.1); switchboard-gateway refuses it too.
        Server server;
        QVERIFY(server.gateway.listen());
        RawWebSocketPeer peer;
        QVERIFY(peer.open(server.port()));
        peer.sendText("\xEF\xBB\xBF" + kConnect);
        const std::optional<ServerFrame> answer = peer.nextText();
        QVERIFY(answer);
        QVERIFY2(answer->payload.contains(R"("op":"error","code":400)"), answer->payload.constData());
        QCOMPARE(server.hub.counters().sessions, std::size_t(0));
    }

    void clientCloseIsEchoed_data()
    {
        QTest::addColumn<QByteArray>("body");
        QTest::addColumn<int>("echo");
        QTest::newRow("no status") << QByteArray() << 1000;
        QTest::newRow("4000 with a reason") << QByteArray("\x0F\xA0" "bye", 5) << 4000;
    }

    void clientCloseIsEchoed()
    {
        QFETCH(QByteArray, body);
        QFETCH(int, echo);
        Server server;
        QVERIFY(server.gateway.listen());
        RawWebSocketPeer peer;
        QVERIFY(peer.open(server.port()));
        peer.sendText(kConnect);
        QVERIFY(peer.nextText());
        peer.send(RawWebSocketPeer::Close, body);
        QCOMPARE(peer.closeCode(), echo);
        QVERIFY(peer.waitDisconnected()); // the server closes TCP first
        QTRY_COMPARE(server.hub.counters().sessions, std::size_t(0));
        QTRY_COMPARE(server.gateway.connectionCount(), 0);
    }

    void handshakeDeadline()
    {
        QtGatewayOptions options;
        options.handshakeTimeout = std::chrono::milliseconds(300);
        Server server(options);
        QVERIFY(server.gateway.listen());
        RawWebSocketPeer silent;
        RawWebSocketPeer half;
        QElapsedTimer clock;
        clock.start();
        QVERIFY(silent.connectTo(server.port()));
        QVERIFY(half.connectTo(server.port()));
        half.socket.write("GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: web");
        QVERIFY(silent.waitDisconnected(5000));
        QVERIFY(half.waitDisconnected(5000));
        QVERIFY2(clock.elapsed() >= 250, qPrintable(QString::number(clock.elapsed())));
        QCOMPARE(server.gateway.counters().handshakeTimeouts, 2u);
        QTRY_COMPARE(server.gateway.tcpConnectionCount(), 0);
        // A prompt client is not affected.
        RawWebSocketPeer prompt;
        QVERIFY(prompt.open(server.port()));
        QTest::qWait(500);
        QCOMPARE(prompt.socket.state(), QAbstractSocket::ConnectedState);
    }

    void tcpConnectionLimit()
    {
        QtGatewayOptions options;
        options.maxTcpConnections = 2;
        Server server(options);
        QVERIFY(server.gateway.listen());
        RawWebSocketPeer first;
        RawWebSocketPeer second;
        RawWebSocketPeer third;
        QVERIFY(first.connectTo(server.port()));
        QVERIFY(second.open(server.port()));
        QTRY_COMPARE(server.gateway.tcpConnectionCount(), 2);
        QVERIFY(third.connectTo(server.port()));
        QVERIFY(third.waitDisconnected(3000)); // refused at once, not at the handshake deadline
        QVERIFY(third.received.isEmpty());
        QCOMPARE(server.gateway.counters().rejectedTcpLimit, 1u);
        QCOMPARE(first.socket.state(), QAbstractSocket::ConnectedState);
        QCOMPARE(second.socket.state(), QAbstractSocket::ConnectedState);

        first.socket.abort();
        QTRY_COMPARE(server.gateway.tcpConnectionCount(), 1);
        RawWebSocketPeer fourth;
        QVERIFY(fourth.open(server.port()));
    }

    void pingFloodWithoutReadingStaysBounded()
    {
        // No rate limit here: every ping is answered, but a client that does not read gets one
        // pending pong (the latest) instead of a queue of them.
        ServerProtocolOptions protocolOptions;
        protocolOptions.limits.opsPerSecond = 1e9;
        protocolOptions.limits.opsBurst = 1e9;
        Server server({}, protocolOptions);
        QVERIFY(server.gateway.listen());

        const int pings = 160'000; // 21 MB of pings
        FloodClient client(server.port());
        const long rssBefore = rssKb();
        client.start(pings);
        qint64 maxBuffered = 0;
        long maxRss = rssBefore;
        QElapsedTimer clock;
        clock.start();
        qint64 sentAt = -1;
        while (server.gateway.counters().pingsReceived < std::uint64_t(pings) && clock.elapsed() < 60'000
               && (sentAt < 0 || clock.elapsed() - sentAt < 5000)) {
            QCoreApplication::processEvents(QEventLoop::AllEvents, 10);
            if (sentAt < 0 && client.sent)
                sentAt = clock.elapsed();
            maxBuffered = std::max(maxBuffered, server.gateway.bufferedBytes());
            maxRss = std::max(maxRss, rssKb());
        }
        QVERIFY(client.upgraded.load());
        QCOMPARE(server.gateway.counters().pingsReceived, std::uint64_t(pings));
        qInfo("buffered at most %lld bytes; RSS grew %ld KB while reading %d pings", maxBuffered, maxRss - rssBefore, pings);
        QVERIFY2(maxBuffered < 256 * 1024, qPrintable(QString::number(maxBuffered)));
        QVERIFY2(maxRss - rssBefore < 6 * 1024, qPrintable(QString::number(maxRss - rssBefore)));
        QVERIFY(server.gateway.counters().pongsCoalesced > 0);

        // Once the client reads, the answer to its last ping arrives.
        client.readNow = true;
        QVERIFY(QTest::qWaitFor([&] { return client.done.load(); }, 30'000));
        QVERIFY(client.lastPongMatches.load());
        QVERIFY(client.pongs.load() < pings);
        QCOMPARE(server.gateway.connectionCount(), 1);
    }

    void pingFloodIsRateLimited()
    {
        // Default limits (100/s, burst 200, 20 violations): pings count like operations, before
        // `connect` too, and a flood ends with 3005.
        Server server;
        QVERIFY(server.gateway.listen());
        RawWebSocketPeer peer;
        QVERIFY(peer.open(server.port()));
        for (int i = 0; i < 2000; ++i)
            peer.send(RawWebSocketPeer::Ping, FloodClient::payload(i));
        QCOMPARE(peer.closeCode(), int(DisconnectCode::Flood));
        peer.send(RawWebSocketPeer::Close, QByteArray("\x0B\xBD", 2)); // answers like a client should (3005)
        QCOMPARE(server.protocol.counters().floodDisconnects, 1u);
        QVERIFY(server.protocol.counters().controlRateLimited >= 20u);
        QTRY_COMPARE(server.gateway.connectionCount(), 0);
    }

    void idleConnectionIsPingedThenClosed()
    {
        QtGatewayOptions options;
        options.pingInterval = std::chrono::milliseconds(100);
        options.idleTimeout = std::chrono::milliseconds(600);
        options.closeTimeout = std::chrono::milliseconds(200);
        Server server(options);
        QVERIFY(server.gateway.listen());
        RawWebSocketPeer peer; // never answers pings
        QVERIFY(peer.open(server.port()));
        peer.sendText(kConnect);
        int pings = 0;
        int code = -1;
        while (std::optional<ServerFrame> frame = peer.nextFrame(3000)) {
            if (frame->opcode == RawWebSocketPeer::Ping)
                ++pings;
            if (frame->opcode == RawWebSocketPeer::Close) {
                code = frame->closeCode();
                break;
            }
        }
        QCOMPARE(code, int(DisconnectCode::IdleTimeout));
        QVERIFY(pings >= 1);
        QVERIFY(server.gateway.counters().pingsSent >= 1u);
        QCOMPARE(server.gateway.counters().idleTimeouts, 1u);
        QVERIFY(peer.waitDisconnected());
    }

    void writeProgressDeadline()
    {
        QtGatewayOptions options;
        options.writeTimeout = std::chrono::milliseconds(400);
        options.pingInterval = std::chrono::milliseconds(0); // only the write deadline applies
        options.idleTimeout = std::chrono::milliseconds(0);
        options.socketSendBufferSize = 16 * 1024;
        HubOptions hubOptions;
        hubOptions.outbox.maxBytes = 256 * 1024;
        hubOptions.slowConsumer = SlowConsumerPolicy::DropMessage;
        Server server(options, {}, hubOptions);
        QVERIFY(server.gateway.listen());

        RawWebSocketPeer stuck;
        QVERIFY(stuck.open(server.port()));
        stuck.sendText(kConnect);
        stuck.sendText(R"({"op":"subscribe","channel":"w"})");
        QVERIFY(stuck.nextText()); // welcome
        QVERIFY(stuck.nextText()); // subscribed
        // From here on the peer reads nothing: Qt stops at 4 KB and the kernel buffers fill.
        stuck.socket.setReadBufferSize(4096);

        const std::string payload = "\"" + std::string(16 * 1024, 'w') + "\"";
        QElapsedTimer clock;
        clock.start();
        while (server.gateway.connectionCount() > 0 && clock.elapsed() < 20'000) {
            for (int i = 0; i < 16; ++i)
                server.hub.broadcast("w", "e", payload);
            QCoreApplication::processEvents(QEventLoop::AllEvents, 20);
        }
        QCOMPARE(server.gateway.connectionCount(), 0);
        QCOMPARE(server.gateway.counters().writeTimeouts, 1u);
        QCOMPARE(server.hub.counters().sessions, std::size_t(0));
    }
};

QTEST_GUILESS_MAIN(TestQtGatewayHardening)
#include "tst_qtgatewayhardening.moc"
