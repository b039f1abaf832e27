// QtWebSocketGateway over real sockets on 127.0.0.1 (OS-chosen ports): frame delivery with and
// without direct writes, slow consumers under both outbox policies, origins, the connection
// limit and the idle timeout.

#include <switchboard/Hub.h>
#include <switchboard/ServerProtocol.h>
#include <switchboard/qt/Client.h>
#include <switchboard/qtws/QtTimer.h>
#include <switchboard/qtws/QtWebSocketGateway.h>

#include "../support/ChildProcessGuard.h"

#include <QDeadlineTimer>
#include <QFile>
#include <QProcess>
#include <QSslCertificate>
#include <QSslKey>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QSemaphore>
#include <QSignalSpy>
#include <QTest>
#include <QThread>
#include <QTcpSocket>
#include <QWebSocket>

#include <atomic>
#include <memory>

using namespace switchboard;
using namespace switchboard::qtws;

namespace {

const QString kConnect = QStringLiteral(R"({"op":"connect","version":1})");

QString subscribeFrame(const QString &channel)
{
    return QStringLiteral(R"({"op":"subscribe","channel":"%1"})").arg(channel);
}

/// A raw protocol peer on its own thread, so that the test can stop it from reading (its event
/// loop blocks on a semaphore) while the gateway keeps sending.
class ThreadPeer
{
public:
    explicit ThreadPeer(const QUrl &url, const QString &channel)
    {
        m_thread.start();
        m_context.moveToThread(&m_thread);
        QMetaObject::invokeMethod(&m_context, [this, url, channel] {
            m_socket = new QWebSocket();
            QObject::connect(m_socket, &QWebSocket::connected, m_socket, [this, channel] {
                m_socket->sendTextMessage(kConnect);
                m_socket->sendTextMessage(subscribeFrame(channel));
            });
            QObject::connect(m_socket, &QWebSocket::textMessageReceived, m_socket, [this](const QString &text) {
                if (text.contains(QLatin1String(R"("op":"subscribed")")))
                    subscribed = true;
                else if (text.contains(QLatin1String(R"("op":"message")")))
                    ++messages;
                if (text.contains(QLatin1String(R"("event":"end")")))
                    sawEnd = true;
            });
            QObject::connect(m_socket, &QWebSocket::disconnected, m_socket, [this] { disconnected = true; });
            m_socket->open(url);
        });
    }
    ~ThreadPeer()
    {
        release();
        QMetaObject::invokeMethod(&m_context, [this] { delete m_socket; }, Qt::BlockingQueuedConnection);
        m_thread.quit();
        m_thread.wait();
    }
    /// The peer's thread stops processing events (its socket is no longer read).
    void block()
    {
        if (m_blocked.exchange(true))
            return;
        QMetaObject::invokeMethod(&m_context, [this] { m_gate.acquire(); });
    }
    void release()
    {
        if (m_blocked.exchange(false))
            m_gate.release();
    }

    std::atomic<bool> subscribed{false};
    std::atomic<bool> disconnected{false};
    std::atomic<bool> sawEnd{false};
    std::atomic<int> messages{0};

private:
    QThread m_thread;
    QObject m_context;
    QWebSocket *m_socket = nullptr;
    QSemaphore m_gate;
    std::atomic<bool> m_blocked{false};
};

struct Server {
    explicit Server(HubOptions hubOptions = {}, QtGatewayOptions options = {})
        : hub(timer, hubOptions), protocol(hub, timer), gateway(hub, protocol, options)
    {
    }
    QUrl url() const { return QUrl(QStringLiteral("ws://127.0.0.1:%1/ws").arg(gateway.serverPort())); }
    QtTimer timer;
    Hub hub;
    ServerProtocol protocol;
    QtWebSocketGateway gateway;
};

} // namespace

class TestQtWebSocketGateway : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void contentFilters()
    {
        // The subscribe `filter` is applied by the core Hub: a `severity=SEV-1` subscriber gets
        // no SEV-2 event; an invalid filter is an error frame 400 and subscribes nothing; dotted
        // event names pass validation.
        Server server;
        QVERIFY(server.gateway.listen());
        QWebSocket filtered;
        QWebSocket invalid;
        QStringList filteredTexts;
        QStringList invalidTexts;
        connect(&filtered, &QWebSocket::textMessageReceived, this, [&](const QString &t) { filteredTexts.append(t); });
        connect(&invalid, &QWebSocket::textMessageReceived, this, [&](const QString &t) { invalidTexts.append(t); });
        connect(&filtered, &QWebSocket::connected, this, [&] {
            filtered.sendTextMessage(kConnect);
            filtered.sendTextMessage(QStringLiteral(
                R"({"op":"subscribe","channel":"incidents","filter":{"severity":"SEV-1"},"ackId":1})"));
        });
        connect(&invalid, &QWebSocket::connected, this, [&] {
            invalid.sendTextMessage(kConnect);
            invalid.sendTextMessage(QStringLiteral(R"({"op":"subscribe","channel":"incidents","filter":"severity","ackId":2})"));
        });
        filtered.open(server.url());
        invalid.open(server.url());
        QTRY_COMPARE(server.hub.subscriberCount("incidents"), std::size_t(1));
        QTRY_COMPARE(invalidTexts.size(), 2); // welcome, error
        QVERIFY(invalidTexts.at(1).contains(QLatin1String(R"("op":"error")")));
        QVERIFY(invalidTexts.at(1).contains(QLatin1String(R"("code":400)")));
        QVERIFY(invalidTexts.at(1).contains(QLatin1String("field=value")));
        QCOMPARE(server.protocol.counters().invalidFilters, 1u);

        std::error_code publishError;
        Publication sev2;
        sev2.channel = "incidents";
        sev2.event = "incident.created";
        sev2.data = R"({"severity":"SEV-2","n":1})";
        server.hub.publish(sev2, [&](std::error_code e, StreamPosition) { publishError = e; });
        QVERIFY(!publishError);
        server.hub.broadcast("incidents", "incident.created", R"({"severity":"SEV-1","n":2})");
        QTRY_COMPARE(filteredTexts.size(), 3); // welcome, subscribed, the SEV-1 message
        QVERIFY(filteredTexts.at(2).contains(QLatin1String(R"("n":2)")));
        QVERIFY(filteredTexts.at(2).contains(QLatin1String(R"("event":"incident.created")")));
        // The SEV-2 event was published first: had it been sent, it would be frame 2.

        // Subscribe and unsubscribe are idempotent: a second subscribe with the same filter
        // answers subscribed, a second unsubscribe unsubscribed.
        filtered.sendTextMessage(QStringLiteral(
            R"({"op":"subscribe","channel":"incidents","filter":"severity=SEV-1","ackId":3})"));
        QTRY_COMPARE(filteredTexts.size(), 4);
        QVERIFY(filteredTexts.at(3).contains(QLatin1String(R"("op":"subscribed")")));
        QVERIFY(filteredTexts.at(3).contains(QLatin1String(R"("offset":2)")));
        QCOMPARE(server.hub.subscriberCount("incidents"), std::size_t(1));
        filtered.sendTextMessage(QStringLiteral(R"({"op":"unsubscribe","channel":"incidents","ackId":4})"));
        filtered.sendTextMessage(QStringLiteral(R"({"op":"unsubscribe","channel":"incidents","ackId":5})"));
        QTRY_COMPARE(filteredTexts.size(), 6);
        QVERIFY(filteredTexts.at(4).contains(QLatin1String(R"("op":"unsubscribed")")));
        QVERIFY(filteredTexts.at(5).contains(QLatin1String(R"("op":"unsubscribed")")));
        QVERIFY(filteredTexts.at(5).contains(QLatin1String(R"("ackId":5)")));
        QCOMPARE(invalidTexts.size(), 2);
        QCOMPARE(server.hub.counters().filterEvaluations, std::uint64_t(2));
    }

    void delivery_data()
    {
        QTest::addColumn<bool>("direct");
        QTest::newRow("direct frame writes") << true;
        QTest::newRow("QWebSocket send functions") << false;
    }

    void delivery()
    {
        QFETCH(bool, direct);
        QtGatewayOptions options;
        options.directFrameWrites = direct;
        Server server({}, options);
        QVERIFY(server.gateway.listen());
        QVERIFY(server.gateway.serverPort() != 0);
        QCOMPARE(server.gateway.serverAddress(), QHostAddress(QHostAddress::LocalHost));

        QWebSocket peer;
        QStringList texts;
        connect(&peer, &QWebSocket::textMessageReceived, this, [&](const QString &t) { texts.append(t); });
        connect(&peer, &QWebSocket::connected, this, [&] {
            peer.sendTextMessage(kConnect);
            peer.sendTextMessage(subscribeFrame(QStringLiteral("bulk")));
        });
        peer.open(server.url());
        QTRY_COMPARE(server.hub.subscriberCount("bulk"), std::size_t(1));
        QCOMPARE(server.gateway.connectionCount(), 1);

        // Payloads across the three WebSocket length encodings (7 bit, 16 bit, 64 bit).
        const int count = 300;
        for (int i = 0; i < count; ++i) {
            const int size = i == 100 ? 70'000 : i == 200 ? 300 : 20;
            server.hub.broadcast("bulk", "e", "\"" + std::string(std::size_t(size), 'x') + "\"");
        }
        QTRY_COMPARE(texts.size(), 2 + count); // welcome, subscribed, messages
        QVERIFY(texts.at(0).contains(QLatin1String(R"("op":"welcome")")));
        QVERIFY(texts.at(102).contains(QString(70'000, QLatin1Char('x'))));
        QVERIFY(texts.last().contains(QLatin1String(R"("op":"message")")));

        const QtGatewayCounters counters = server.gateway.counters();
        QCOMPARE(counters.accepted, 1u);
        QVERIFY(counters.framesWritten >= std::uint64_t(count) + 2);
        // Written per loop turn, not per frame.
        QVERIFY2(counters.flushes < counters.framesWritten / 10, qPrintable(QString::number(counters.flushes)));

        peer.close();
        QTRY_COMPARE(server.gateway.connectionCount(), 0);
        QTRY_COMPARE(server.hub.counters().sessions, std::size_t(0));
        QCOMPARE(server.hub.subscriberCount("bulk"), std::size_t(0));
    }

    void slowConsumer_data()
    {
        QTest::addColumn<bool>("disconnect");
        QTest::newRow("DropMessage") << false;
        QTest::newRow("DisconnectClient") << true;
    }

    void slowConsumer()
    {
        QFETCH(bool, disconnect);
        HubOptions hubOptions;
        hubOptions.outbox.maxBytes = 256 * 1024;
        hubOptions.slowConsumer = disconnect ? SlowConsumerPolicy::DisconnectClient : SlowConsumerPolicy::DropMessage;
        QtGatewayOptions options;
        options.socketSendBufferSize = 32 * 1024;
        options.closeTimeout = std::chrono::milliseconds(300);
        Server server(hubOptions, options);
        QVERIFY(server.gateway.listen());

        switchboard::qt::Client fast;
        fast.setUrl(server.url());
        fast.open();
        switchboard::qt::Channel *fastChannel = fast.subscribe(QStringLiteral("firehose"));
        QTRY_VERIFY(fastChannel->subscribed());

        ThreadPeer slow(server.url(), QStringLiteral("firehose"));
        QTRY_VERIFY(slow.subscribed.load());
        slow.block();

        // Publish in rounds, letting the fast client catch up after each, until the slow one's
        // outbox overflows.
        const std::string payload = "\"" + std::string(4096, 'p') + "\"";
        int published = 0;
        QDeadlineTimer deadline(30'000);
        auto overflowed = [&] {
            const HubCounters c = server.hub.counters();
            return disconnect ? c.slowDisconnects > 0 : c.drops > 0;
        };
        while (!overflowed() && !deadline.hasExpired() && published < 100'000) {
            for (int i = 0; i < 32; ++i, ++published)
                server.hub.broadcast("firehose", "data", payload);
            while (fastChannel->received() < published && !deadline.hasExpired())
                QCoreApplication::processEvents(QEventLoop::WaitForMoreEvents, 50);
        }
        QVERIFY2(overflowed(), "the slow consumer never overflowed its outbox");
        QCOMPARE(fastChannel->received(), qint64(published)); // the fast client lost nothing

        if (disconnect) {
            QCOMPARE(server.hub.counters().drops, 0u);
            // Closed with 3001; the blocked peer cannot finish the close handshake: aborted.
            QTRY_COMPARE(server.gateway.connectionCount(), 1);
            QTRY_COMPARE(server.hub.subscriberCount("firehose"), std::size_t(1));
            slow.release();
            QTRY_VERIFY(slow.disconnected.load());
        } else {
            QCOMPARE(server.gateway.connectionCount(), 2); // still connected, messages dropped
            slow.release();
            server.hub.broadcast("firehose", "end", "null");
            ++published;
            QTRY_VERIFY_WITH_TIMEOUT(slow.sawEnd.load(), 20'000);
            QVERIFY(slow.messages.load() < published);
            QTRY_COMPARE(fastChannel->received(), qint64(published));
        }
    }

    void allowedOrigins()
    {
        QtGatewayOptions options;
        options.allowedOrigins = {QStringLiteral("https://panel.example")};
        Server server({}, options);
        QVERIFY(server.gateway.listen());

        QWebSocket good(QStringLiteral("https://panel.example"));
        QWebSocket bad(QStringLiteral("https://evil.example"));
        QSignalSpy goodConnected(&good, &QWebSocket::connected);
        QSignalSpy badError(&bad, QOverload<QAbstractSocket::SocketError>::of(&QWebSocket::error));
        good.open(server.url());
        bad.open(server.url());
        QVERIFY(goodConnected.wait(5000));
        QTRY_VERIFY(badError.count() > 0);
        QCOMPARE(server.gateway.counters().rejectedOrigin, 1u);
        QCOMPARE(server.gateway.connectionCount(), 1);
    }

    void connectionLimit()
    {
        QtGatewayOptions options;
        options.maxConnections = 1;
        Server server({}, options);
        QVERIFY(server.gateway.listen());

        QWebSocket first;
        QWebSocket second;
        QSignalSpy firstConnected(&first, &QWebSocket::connected);
        QSignalSpy secondClosed(&second, &QWebSocket::disconnected);
        first.open(server.url());
        QVERIFY(firstConnected.wait(5000));
        QTRY_COMPARE(server.gateway.connectionCount(), 1);
        second.open(server.url());
        QVERIFY(secondClosed.wait(5000));
        QCOMPARE(int(second.closeCode()), int(DisconnectCode::ServerFull));
        QCOMPARE(server.gateway.counters().rejectedFull, 1u);
        QCOMPARE(first.state(), QAbstractSocket::ConnectedState);
    }

    void idleTimeout()
    {
        QtGatewayOptions options;
        // The responsive peer runs on the gateway's thread: only a stall of the whole thread
        // longer than idleTimeout - pingInterval could close it.
        options.pingInterval = std::chrono::milliseconds(100);
        options.idleTimeout = std::chrono::milliseconds(1000);
        options.closeTimeout = std::chrono::milliseconds(200);
        Server server({}, options);
        QVERIFY(server.gateway.listen());

        QWebSocket responsive; // answers pings from this thread's event loop
        QSignalSpy connected(&responsive, &QWebSocket::connected);
        responsive.open(server.url());
        QVERIFY(connected.wait(5000));
        responsive.sendTextMessage(kConnect);

        ThreadPeer silent(server.url(), QStringLiteral("x"));
        QTRY_VERIFY(silent.subscribed.load());
        QTRY_COMPARE(server.gateway.connectionCount(), 2);
        silent.block(); // no pongs from now on
        QTRY_COMPARE_WITH_TIMEOUT(server.gateway.counters().idleTimeouts, 1u, 10'000);
        QTRY_COMPARE(server.gateway.connectionCount(), 1);
        // The responsive peer outlived more than one idle timeout thanks to its pongs.
        QCOMPARE(responsive.state(), QAbstractSocket::ConnectedState);
        silent.release();
    }

    void tls()
    {
        const QString openssl = QStandardPaths::findExecutable(QStringLiteral("openssl"));
        if (openssl.isEmpty())
            QSKIP("openssl is needed to make a test certificate");
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        QProcess make;
        testsupport::dieWithTest(make);
        make.start(openssl, {QStringLiteral("req"), QStringLiteral("-x509"), QStringLiteral("-newkey"),
                             QStringLiteral("rsa:2048"), QStringLiteral("-nodes"), QStringLiteral("-days"),
                             QStringLiteral("1"), QStringLiteral("-subj"), QStringLiteral("/CN=127.0.0.1"),
                             QStringLiteral("-keyout"), dir.filePath(QStringLiteral("key.pem")),
                             QStringLiteral("-out"), dir.filePath(QStringLiteral("cert.pem"))});
        QVERIFY(make.waitForFinished(30'000));
        QCOMPARE(make.exitCode(), 0);
        QFile certFile(dir.filePath(QStringLiteral("cert.pem")));
        QFile keyFile(dir.filePath(QStringLiteral("key.pem")));
        QVERIFY(certFile.open(QIODevice::ReadOnly) && keyFile.open(QIODevice::ReadOnly));
        const QSslCertificate certificate(&certFile, QSsl::Pem);
        const QSslKey key(&keyFile, QSsl::Rsa, QSsl::Pem);
        QVERIFY(!certificate.isNull() && !key.isNull());

        QSslConfiguration tls = QSslConfiguration::defaultConfiguration();
        tls.setLocalCertificate(certificate);
        tls.setPrivateKey(key);
        tls.setPeerVerifyMode(QSslSocket::VerifyNone);
        QtGatewayOptions options;
        options.tls = tls;
        options.handshakeTimeout = std::chrono::milliseconds(2000); // the TLS handshake included
        Server server({}, options);
        QVERIFY(server.gateway.listen());

        QWebSocket peer;
        QSslConfiguration clientTls = QSslConfiguration::defaultConfiguration();
        clientTls.setCaCertificates({certificate});
        clientTls.setPeerVerifyMode(QSslSocket::VerifyNone); // self-signed, name not checked here
        peer.setSslConfiguration(clientTls);
        QStringList texts;
        connect(&peer, &QWebSocket::textMessageReceived, this, [&](const QString &t) { texts.append(t); });
        connect(&peer, &QWebSocket::connected, this, [&] {
            peer.sendTextMessage(kConnect);
            peer.sendTextMessage(subscribeFrame(QStringLiteral("secure")));
        });
        peer.open(QUrl(QStringLiteral("wss://127.0.0.1:%1/ws").arg(server.gateway.serverPort())));
        QTRY_COMPARE_WITH_TIMEOUT(server.hub.subscriberCount("secure"), std::size_t(1), 10'000);
        server.hub.broadcast("secure", "e", R"({"over":"tls"})");
        QTRY_COMPARE(texts.size(), 3);
        QVERIFY(texts.at(0).contains(QLatin1String(R"("op":"welcome")")));
        QVERIFY(texts.at(2).contains(QLatin1String(R"("over":"tls")")));

        // Plain WebSocket to the TLS port fails.
        QWebSocket plain;
        QSignalSpy plainConnected(&plain, &QWebSocket::connected);
        QSignalSpy plainError(&plain, QOverload<QAbstractSocket::SocketError>::of(&QWebSocket::error));
        plain.open(QUrl(QStringLiteral("ws://127.0.0.1:%1/ws").arg(server.gateway.serverPort())));
        QTRY_VERIFY_WITH_TIMEOUT(plainError.count() > 0, 15'000);
        QCOMPARE(plainConnected.count(), 0);

        // A connection that never starts its TLS handshake is closed at the handshake deadline.
        QTcpSocket silent;
        QSignalSpy silentClosed(&silent, &QTcpSocket::disconnected);
        silent.connectToHost(QHostAddress::LocalHost, server.gateway.serverPort());
        QVERIFY(silent.waitForConnected(5000));
        QVERIFY(silentClosed.wait(10'000));
        QCOMPARE(server.gateway.counters().handshakeTimeouts, 1u);
    }

    void badHandshakeAndOversizeFrame()
    {
        QtGatewayOptions options;
        options.maxFrameBytes = 1024;
        Server server({}, options);
        QVERIFY(server.gateway.listen());

        // Not a WebSocket upgrade: refused, the connection ends, nothing reaches the protocol.
        QTcpSocket plain;
        QSignalSpy plainClosed(&plain, &QTcpSocket::disconnected);
        plain.connectToHost(QHostAddress::LocalHost, server.gateway.serverPort());
        QVERIFY(plain.waitForConnected(5000));
        plain.write("GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
        QVERIFY(plainClosed.wait(10'000));
        QCOMPARE(server.gateway.connectionCount(), 0);
        QCOMPARE(server.gateway.counters().accepted, 0u);

        // A message over maxFrameBytes: closed with 1009 before it is buffered.
        QWebSocket peer;
        QSignalSpy connected(&peer, &QWebSocket::connected);
        QSignalSpy closed(&peer, &QWebSocket::disconnected);
        peer.open(server.url());
        QVERIFY(connected.wait(5000));
        peer.sendTextMessage(kConnect);
        QTRY_COMPARE(server.hub.counters().sessions, std::size_t(1));
        peer.sendTextMessage(QString(4096, QLatin1Char('x')));
        QVERIFY(closed.wait(5000));
        QCOMPARE(int(peer.closeCode()), int(DisconnectCode::MessageTooBig));
        QTRY_COMPARE(server.hub.counters().sessions, std::size_t(0));
        QTRY_COMPARE(server.gateway.connectionCount(), 0);
    }

    void closeShutsDownEveryConnection()
    {
        Server server;
        QVERIFY(server.gateway.listen());
        QSignalSpy listening(&server.gateway, &QtWebSocketGateway::listeningChanged);
        QWebSocket peer;
        QSignalSpy connected(&peer, &QWebSocket::connected);
        QSignalSpy closed(&peer, &QWebSocket::disconnected);
        peer.open(server.url());
        QVERIFY(connected.wait(5000));
        peer.sendTextMessage(kConnect);
        QTRY_COMPARE(server.hub.counters().sessions, std::size_t(1));
        server.gateway.close();
        QVERIFY(!server.gateway.isListening());
        QCOMPARE(listening.count(), 1);
        QVERIFY(closed.wait(5000));
        QCOMPARE(int(peer.closeCode()), int(DisconnectCode::Shutdown));
        QTRY_COMPARE(server.gateway.connectionCount(), 0);
        QCOMPARE(server.hub.counters().sessions, std::size_t(0));
    }

    void connectAfterCloseAllIsRefused()
    {
        // ServerProtocol::closeAll (graceful shutdown) closes the Hub: a client that connects
        // while the listener still accepts gets `disconnect` + close 3000, never `welcome`.
        // The refusal comes right behind the 101 response, which QWebSocket (Qt 6.4) does not read
        // until more bytes arrive: a raw client reads exactly what the gateway sends.
        Server server;
        QVERIFY(server.gateway.listen());
        server.protocol.closeAll(DisconnectCode::Shutdown, "draining");
        QVERIFY(server.hub.isClosed());
        QTcpSocket late;
        late.connectToHost(QHostAddress::LocalHost, server.gateway.serverPort());
        QVERIFY(late.waitForConnected(5000));
        late.write("GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
        QByteArray bytes;
        QTRY_VERIFY_WITH_TIMEOUT((bytes += late.readAll()).contains("server shutting down")
                                     && bytes.count("server shutting down") >= 2, 5000); // disconnect frame and close frame
        QVERIFY(bytes.startsWith("HTTP/1.1 101"));
        QVERIFY(bytes.contains(R"("op":"disconnect","code":3000)"));
        QVERIFY(bytes.contains(QByteArray::fromHex("0bb8") + "server shutting down")); // close frame: 3000 + reason
        QCOMPARE(server.hub.counters().sessions, std::size_t(0));
        QCOMPARE(server.protocol.counters().shutdownRefusals, std::uint64_t(1));

        // close() then listen() again (a restart): the Hub is open again and connects are welcome.
        server.gateway.close();
        QVERIFY(server.gateway.listen());
        QVERIFY(!server.hub.isClosed());
        QWebSocket again;
        QStringList againTexts;
        connect(&again, &QWebSocket::textMessageReceived, this, [&](const QString &t) { againTexts.append(t); });
        QSignalSpy againConnected(&again, &QWebSocket::connected);
        again.open(server.url());
        QVERIFY(againConnected.wait(5000));
        again.sendTextMessage(kConnect);
        QTRY_COMPARE(againTexts.size(), 1);
        QVERIFY(againTexts[0].contains(QLatin1String(R"("op":"welcome")")));
    }
};

QTEST_GUILESS_MAIN(TestQtWebSocketGateway)
#include "tst_qtwebsocketgateway.moc"
