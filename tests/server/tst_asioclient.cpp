// Switchboard::AsioClient (the native client without Qt) against a real switchboard-gateway:
// connect, subscribe, publish with ack, request/reply, calls from several threads at once,
// reconnect and resubscribe after the gateway is killed and restarted, wss:// with a test CA,
// callbacks through a user executor. The test itself uses Qt only to start processes and wait.

#include "GatewayProcess.h"

#include <switchboard/asio_client/AsioClient.h>

#include <boost/json/serialize.hpp>

#include <QStandardPaths>
#include <QTemporaryDir>

#include <atomic>
#include <deque>
#include <map>
#include <mutex>
#include <thread>

using namespace gatewaytest;
using switchboard::AsioClient;
using switchboard::AsioClientOptions;
using switchboard::ClientState;

namespace {

/// Messages received by a listener (on the client's thread), read by the test thread.
struct Received {
    std::mutex mutex;
    std::map<std::string, int> countByData; ///< data text -> times received
    std::size_t total = 0;

    void add(const switchboard::ClientEvent &e)
    {
        std::lock_guard lock(mutex);
        ++countByData[e.data.is_string() ? std::string(e.data.as_string()) : boost::json::serialize(e.data)];
        ++total;
    }
    std::size_t size()
    {
        std::lock_guard lock(mutex);
        return total;
    }
    int count(const std::string &data)
    {
        std::lock_guard lock(mutex);
        auto it = countByData.find(data);
        return it == countByData.end() ? 0 : it->second;
    }
};

AsioClientOptions optionsFor(const GatewayProcess &g, const QString &scheme = "ws")
{
    AsioClientOptions options;
    options.client.url = g.url("/ws", scheme).toString().toStdString();
    options.client.backoff.initial = std::chrono::milliseconds(50);
    options.client.backoff.max = std::chrono::milliseconds(200);
    options.client.connectTimeout = std::chrono::milliseconds(3000);
    return options;
}

bool makeCertificate(QTemporaryDir &dir, QString &cert, QString &key)
{
    const QString openssl = QStandardPaths::findExecutable("openssl");
    if (openssl.isEmpty())
        return false;
    cert = dir.filePath("cert.pem");
    key = dir.filePath("key.pem");
    QProcess make;
    testsupport::dieWithTest(make);
    // Self-signed with CA:TRUE (req -x509 default) and an IP SAN: it is its own test CA, and
    // host name verification of 127.0.0.1 checks the SAN.
    make.start(openssl, {"req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "1",
                         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"});
    return make.waitForFinished(30000) && make.exitCode() == 0;
}

/// The user's loop for AsioClientOptions::callbackExecutor: tasks queued by the client's thread,
/// run by run() on the test thread.
struct UserLoop {
    std::function<void(std::function<void()>)> executor() const
    {
        return [mutex = mutex, tasks = tasks](std::function<void()> task) {
            std::lock_guard lock(*mutex);
            tasks->push_back(std::move(task));
        };
    }
    void run()
    {
        std::deque<std::function<void()>> now;
        {
            std::lock_guard lock(*mutex);
            now.swap(*tasks);
        }
        for (auto &task : now)
            task();
    }

    std::shared_ptr<std::mutex> mutex = std::make_shared<std::mutex>();
    std::shared_ptr<std::deque<std::function<void()>>> tasks = std::make_shared<std::deque<std::function<void()>>>();
};

} // namespace

class tst_AsioClient : public QObject
{
    Q_OBJECT

private slots:
    void connectSubscribePublishAck_data();
    void connectSubscribePublishAck();
    void requestWithoutHandlerGets404();
    void publishFromFourThreads();
    void reconnectsAndResubscribesAfterRestart();
    void wssVerifiesTheGatewayCertificate();
    void callbacksRunOnTheUserExecutor();
    void listenerResetFromAnotherThreadStopsAtOnce();
    void oversizeMessageClosesWith1009ForGood();
    void destroyedWhileBusy();
    void upgradeHeadersReachTheGateway();
    void permessageDeflate_data();
    void permessageDeflate();
    void repliesBetweenClientsAndWaitFor();
};

void tst_AsioClient::connectSubscribePublishAck_data()
{
    QTest::addColumn<bool>("binary");
    QTest::newRow("json") << false;
    QTest::newRow("binary encoding") << true;
}

void tst_AsioClient::connectSubscribePublishAck()
{
    QFETCH(bool, binary);
    GatewayProcess g;
    QVERIFY(g.start());
    AsioClientOptions options = optionsFor(g);
    options.client.encoding = binary ? switchboard::WireEncoding::Binary : switchboard::WireEncoding::Json;
    AsioClient client(options);
    Received received;
    auto listener = client.on("news.*", [&](const switchboard::ClientEvent &e) { received.add(e); });
    std::atomic<int> subscribed{-1};
    client.subscribe("news", {}, [&](std::error_code ec) { subscribed = ec.value(); });
    client.open();
    QTRY_COMPARE_WITH_TIMEOUT(int(client.state()), int(ClientState::Connected), 5000);
    QVERIFY(!client.sessionId().empty());
    QCOMPARE(client.wireEncoding() == switchboard::WireEncoding::Binary, binary);
    QTRY_COMPARE_WITH_TIMEOUT(subscribed.load(), 0, 5000);

    auto ack = client.publishAsync("news", "headline", R"("hello")");
    QCOMPARE(ack.wait_for(std::chrono::seconds(5)), std::future_status::ready);
    QVERIFY(ack.get().offset > 0);
    QTRY_COMPARE_WITH_TIMEOUT(received.count("hello"), 1, 5000);

    std::promise<std::chrono::microseconds> rtt;
    client.ping([&](std::error_code ec, std::chrono::microseconds t) { ec ? rtt.set_value({}) : rtt.set_value(t); });
    auto rttFuture = rtt.get_future();
    QCOMPARE(rttFuture.wait_for(std::chrono::seconds(5)), std::future_status::ready);
    QVERIFY(rttFuture.get().count() > 0);

    // After reset() the listener never runs again.
    listener.reset();
    QVERIFY(client.publishAsync("news", "headline", R"("after reset")").get().offset > 0);
    client.close();
    QTRY_COMPARE_WITH_TIMEOUT(int(client.state()), int(ClientState::Closed), 5000);
    QCOMPARE(received.count("after reset"), 0);
}

void tst_AsioClient::requestWithoutHandlerGets404()
{
    GatewayProcess g;
    QVERIFY(g.start());
    AsioClient client(optionsFor(g));
    client.open();
    auto reply = client.requestAsync("orders.create", R"({"item":1})", std::chrono::milliseconds(3000));
    QCOMPARE(reply.wait_for(std::chrono::seconds(5)), std::future_status::ready);
    try {
        reply.get();
        QFAIL("a request nobody serves must fail");
    } catch (const std::system_error &e) {
        QCOMPARE(e.code().value(), int(switchboard::Error::NotFound));
    }
}

void tst_AsioClient::publishFromFourThreads()
{
    GatewayProcess g;
    QVERIFY(g.start({"--rate", "100000", "--rate-burst", "100000"})); // 400 frames at once
    AsioClient client(optionsFor(g));
    Received received;
    auto listener = client.on("load.msg", [&](const switchboard::ClientEvent &e) { received.add(e); });
    std::atomic<int> subscribed{-1};
    client.subscribe("load", {}, [&](std::error_code ec) { subscribed = ec.value(); });
    client.open();
    QTRY_COMPARE_WITH_TIMEOUT(subscribed.load(), 0, 5000);

    constexpr int kThreads = 4, kPerThread = 100;
    std::atomic<int> acked{0}, failed{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t)
        threads.emplace_back([&, t] {
            for (int i = 0; i < kPerThread; ++i) {
                const std::string data = "\"" + std::to_string(t) + "-" + std::to_string(i) + "\"";
                client.publish("load", "msg", data, [&](std::error_code ec, switchboard::AckInfo) { ec ? ++failed : ++acked; });
            }
        });
    for (auto &thread : threads)
        thread.join();
    QTRY_COMPARE_WITH_TIMEOUT(acked.load() + failed.load(), kThreads * kPerThread, 10000);
    QCOMPARE(failed.load(), 0);
    QTRY_COMPARE_WITH_TIMEOUT(received.size(), std::size_t(kThreads * kPerThread), 10000);
    for (int t = 0; t < kThreads; ++t)
        for (int i = 0; i < kPerThread; ++i)
            QCOMPARE(received.count(std::to_string(t) + "-" + std::to_string(i)), 1);
}

void tst_AsioClient::reconnectsAndResubscribesAfterRestart()
{
    GatewayProcess g;
    QVERIFY(g.start());
    const quint16 port = g.port();
    AsioClient client(optionsFor(g));
    Received received;
    auto listener = client.on("room.*", [&](const switchboard::ClientEvent &e) { received.add(e); });
    std::atomic<int> reconnecting{0};
    auto states = client.onStateChanged([&](ClientState s) { if (s == ClientState::Reconnecting) ++reconnecting; });
    std::atomic<int> subscribed{-1};
    client.subscribe("room", {}, [&](std::error_code ec) { subscribed = ec.value(); });
    client.open();
    QTRY_COMPARE_WITH_TIMEOUT(subscribed.load(), 0, 5000);
    const std::string firstSession = client.sessionId();

    g.kill();
    QTRY_VERIFY_WITH_TIMEOUT(reconnecting.load() > 0, 5000);
    QVERIFY(client.state() != ClientState::Connected);
    // A publish made while the gateway is down waits for the connection and is acked after it.
    auto waiting = client.publishAsync("room", "say", R"("while down")");

    g.setFixedPort(port);
    QVERIFY(g.start());
    QTRY_COMPARE_WITH_TIMEOUT(int(client.state()), int(ClientState::Connected), 10000);
    QVERIFY(client.sessionId() != firstSession);
    QCOMPARE(waiting.wait_for(std::chrono::seconds(5)), std::future_status::ready);
    QVERIFY(waiting.get().offset > 0);
    // The channel was resubscribed: a publication through the new gateway arrives.
    QTRY_COMPARE_WITH_TIMEOUT(received.count("while down"), 1, 5000);
    QVERIFY(client.publishAsync("room", "say", R"("after restart")").get().offset > 0);
    QTRY_COMPARE_WITH_TIMEOUT(received.count("after restart"), 1, 5000);
}

void tst_AsioClient::wssVerifiesTheGatewayCertificate()
{
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    QString cert, key;
    if (!makeCertificate(dir, cert, key))
        QSKIP("the openssl program is needed to make a test certificate");
    GatewayProcess g;
    QVERIFY(g.start({"--tls-cert", cert, "--tls-key", key}));

    // Signed by our test CA: verified and connected.
    AsioClientOptions trusted = optionsFor(g, "wss");
    trusted.tls.caFile = cert.toStdString();
    AsioClient client(trusted);
    std::atomic<int> subscribed{-1}; // clients publish only where they are subscribed
    client.subscribe("secure", {}, [&](std::error_code ec) { subscribed = ec.value(); });
    client.open();
    QTRY_COMPARE_WITH_TIMEOUT(subscribed.load(), 0, 5000);
    QVERIFY(client.publishAsync("secure", "msg", R"("over tls")").get().offset > 0);

    // Verification is on by default: the system store does not know the test CA.
    std::mutex mutex;
    std::string closeReason; // the "error" event of the failed attempt names the TLS failure
    AsioClient untrusting(optionsFor(g, "wss"));
    auto closes = untrusting.on("error", [&](const switchboard::ClientEvent &e) {
        std::lock_guard lock(mutex);
        closeReason = boost::json::serialize(e.data);
    });
    untrusting.open();
    QTRY_VERIFY_WITH_TIMEOUT([&] { std::lock_guard lock(mutex); return !closeReason.empty(); }(), 5000);
    QVERIFY(untrusting.state() != ClientState::Connected);
    {
        std::lock_guard lock(mutex);
        QVERIFY2(closeReason.find("certificate") != std::string::npos, closeReason.c_str());
    }
}

void tst_AsioClient::callbacksRunOnTheUserExecutor()
{
    GatewayProcess g;
    QVERIFY(g.start());
    // The user's loop: tasks queued by the client's thread, run here on the test thread.
    UserLoop loop;
    AsioClientOptions options = optionsFor(g);
    options.callbackExecutor = loop.executor();
    auto runTasks = [&] { loop.run(); };
    AsioClient client(options);
    const auto testThread = std::this_thread::get_id();
    bool ackOnTestThread = false, messageOnTestThread = false, acked = false;
    std::string data;
    auto listener = client.on("feed.item", [&](const switchboard::ClientEvent &e) {
        messageOnTestThread = std::this_thread::get_id() == testThread;
        data = std::string(e.data.as_string());
    });
    bool subscribed = false;
    client.subscribe("feed", {}, [&](std::error_code ec) { subscribed = !ec; });
    client.open();
    QTRY_VERIFY_WITH_TIMEOUT((runTasks(), subscribed), 5000);
    client.publish("feed", "item", R"("via executor")", [&](std::error_code ec, switchboard::AckInfo) {
        ackOnTestThread = std::this_thread::get_id() == testThread;
        acked = !ec;
    });
    QTRY_VERIFY_WITH_TIMEOUT((runTasks(), acked && !data.empty()), 5000);
    QVERIFY(ackOnTestThread);
    QVERIFY(messageOnTestThread);
    QCOMPARE(data, std::string("via executor"));
}

void tst_AsioClient::listenerResetFromAnotherThreadStopsAtOnce()
{
    GatewayProcess g;
    QVERIFY(g.start({"--rate", "100000", "--rate-burst", "100000"}));
    AsioClient client(optionsFor(g));
    std::atomic<int> calls{0};
    auto listener = client.on("stream.*", [&](const switchboard::ClientEvent &) { ++calls; });
    std::atomic<int> subscribed{-1};
    client.subscribe("stream", {}, [&](std::error_code ec) { subscribed = ec.value(); });
    client.open();
    QTRY_COMPARE_WITH_TIMEOUT(subscribed.load(), 0, 5000);
    std::atomic<bool> stop{false};
    std::thread publisher([&] {
        for (int i = 0; i < 2000 && !stop; ++i)
            client.publish("stream", "n", std::to_string(i));
    });
    QTRY_VERIFY_WITH_TIMEOUT(calls.load() > 10, 5000); // messages are flowing
    std::thread resetter([&] { listener.reset(); });   // another thread than the client's and ours
    resetter.join();
    const int atReset = calls.load();
    stop = true;
    publisher.join();
    // Everything published before is through the strand once a publish made now is acked.
    QVERIFY(client.publishAsync("stream", "n", "-1").get().offset > 0);
    QCOMPARE(calls.load(), atReset);
}

void tst_AsioClient::oversizeMessageClosesWith1009ForGood()
{
    GatewayProcess g;
    QVERIFY(g.start());
    AsioClientOptions options = optionsFor(g);
    options.maxMessageBytes = 2048;
    AsioClient client(options);
    std::mutex mutex;
    std::vector<std::int64_t> closeCodes;
    auto closes = client.on("close", [&](const switchboard::ClientEvent &e) {
        std::lock_guard lock(mutex);
        closeCodes.push_back(e.data.as_object().at("code").to_number<std::int64_t>());
    });
    std::atomic<int> sessions{0};
    auto started = client.on("session.started", [&](const switchboard::ClientEvent &) { ++sessions; });
    std::atomic<int> subscribed{-1};
    client.subscribe("big", {}, [&](std::error_code ec) { subscribed = ec.value(); });
    client.open();
    QTRY_COMPARE_WITH_TIMEOUT(subscribed.load(), 0, 5000);
    const int before = sessions.load();
    client.publish("big", "blob", "\"" + std::string(4096, 'x') + "\""); // comes back over the limit
    QTRY_VERIFY_WITH_TIMEOUT([&] { std::lock_guard lock(mutex); return !closeCodes.empty(); }(), 5000);
    {
        std::lock_guard lock(mutex);
        QCOMPARE(closeCodes.front(), std::int64_t(1009));
    }
    // 1009 is final (the same message would come again after a reconnect): no new session.
    QTRY_VERIFY_WITH_TIMEOUT(client.state() == ClientState::Disconnected || client.state() == ClientState::Closed, 5000);
    QCOMPARE(sessions.load(), before);
}

void tst_AsioClient::destroyedWhileBusy()
{
    GatewayProcess g;
    QVERIFY(g.start({"--rate", "100000", "--rate-burst", "100000"}));
    auto acks = std::make_shared<std::atomic<int>>(0);
    auto client = std::make_unique<AsioClient>(optionsFor(g));
    client->subscribe("busy");
    client->open();
    QTRY_COMPARE_WITH_TIMEOUT(int(client->state()), int(ClientState::Connected), 5000);
    for (int i = 0; i < 500; ++i)
        client->publish("busy", "n", std::to_string(i), [acks](std::error_code, switchboard::AckInfo) { ++*acks; });
    // Destroyed with acks pending, on a thread that is neither the test's nor the client's.
    std::thread destroyer([&client] { client.reset(); });
    destroyer.join();
    const int atDestruction = acks->load();
    QTest::qWait(100); // no callback runs after the destructor returned (checked over a short window)
    QCOMPARE(acks->load(), atDestruction);
    if (atDestruction == 500)
        QSKIP("every ack arrived before the destruction: nothing was pending");
}

void tst_AsioClient::upgradeHeadersReachTheGateway()
{
    GatewayProcess g;
    QVERIFY(g.start({"--allowed-origin", "https://panel.example"}));
    // Another Origin is refused (403): the attempt fails, the client keeps trying.
    std::mutex mutex;
    std::string refusal;
    AsioClientOptions other = optionsFor(g);
    other.headers = {{"Origin", "https://elsewhere.example"}};
    AsioClient anonymous(other);
    auto errors = anonymous.on("error", [&](const switchboard::ClientEvent &e) {
        std::lock_guard lock(mutex);
        refusal = boost::json::serialize(e.data);
    });
    anonymous.open();
    QTRY_VERIFY_WITH_TIMEOUT([&] { std::lock_guard lock(mutex); return !refusal.empty(); }(), 5000);
    QVERIFY(anonymous.state() != ClientState::Connected);
    {
        std::lock_guard lock(mutex);
        QVERIFY2(refusal.find("upgrade") != std::string::npos, refusal.c_str());
    }

    AsioClientOptions options = optionsFor(g);
    options.headers = {{"Origin", "https://panel.example"}};
    AsioClient allowed(options);
    allowed.open();
    QTRY_COMPARE_WITH_TIMEOUT(int(allowed.state()), int(ClientState::Connected), 5000);
}

void tst_AsioClient::permessageDeflate_data()
{
    QTest::addColumn<bool>("deflate");
    QTest::addColumn<int>("maxWindowBits");
    QTest::addColumn<bool>("compressed");
    QTest::newRow("on (default)") << true << 15 << true;
    QTest::newRow("off") << false << 15 << false;
    // The gateway compresses with a 15-bit window: a client bounded to 12 bits is declined and
    // runs uncompressed.
    QTest::newRow("window below the gateway's") << true << 12 << false;
}

void tst_AsioClient::permessageDeflate()
{
    QFETCH(bool, deflate);
    QFETCH(int, maxWindowBits);
    QFETCH(bool, compressed);
    GatewayProcess g;
    QVERIFY(g.start());
    AsioClientOptions options = optionsFor(g);
    QVERIFY(options.deflate.enabled); // on unless turned off
    options.deflate.enabled = deflate;
    options.deflate.maxWindowBits = maxWindowBits;
    AsioClient client(options);
    Received received;
    auto listener = client.on("zip.*", [&](const switchboard::ClientEvent &e) { received.add(e); });
    std::atomic<int> subscribed{-1};
    client.subscribe("zip", {}, [&](std::error_code ec) { subscribed = ec.value(); });
    client.open();
    QTRY_COMPARE_WITH_TIMEOUT(subscribed.load(), 0, 5000);

    // A publication marked compress: sent compressed when the extension was negotiated, and
    // the listener sees the same data either way.
    std::string fromApi;
    for (int i = 0; fromApi.size() < 4096; ++i)
        fromApi += "sensor " + std::to_string(i % 16) + " reads nominal; ";
    QNetworkAccessManager nam;
    QCOMPARE(publish(nam, g, {{"channel", "zip"}, {"event", "big"}, {"data", QString::fromStdString(fromApi)}, {"compress", true}}).status,
             200);
    QTRY_COMPARE_WITH_TIMEOUT(received.count(fromApi), 1, 5000);

    // The client's own large message goes out compressed (above minCompressBytes), its small
    // protocol frames (connect, subscribe) do not.
    const std::string fromClient(2048, 'z');
    auto ack = client.publishAsync("zip", "own", "\"" + fromClient + "\"");
    QCOMPARE(ack.wait_for(std::chrono::seconds(5)), std::future_status::ready);
    QVERIFY(ack.get().offset > 0);
    QTRY_COMPARE_WITH_TIMEOUT(received.count(fromClient), 1, 5000);

    const auto m = metrics(nam, g);
    QCOMPARE(m.value("switchboard_websocket_deflate_sessions_total"), compressed ? 1.0 : 0.0);
    QCOMPARE(m.value("switchboard_websocket_deflate_frames_out_total"), compressed ? 1.0 : 0.0);
    QCOMPARE(m.value("switchboard_websocket_deflate_messages_in_total"), compressed ? 1.0 : 0.0);
    if (compressed)
        QVERIFY(m.value("switchboard_websocket_deflate_bytes_saved_total") > 2000);
}

void tst_AsioClient::repliesBetweenClientsAndWaitFor()
{
    GatewayProcess g;
    QVERIFY(g.start());
    AsioClient answerer(optionsFor(g));
    // The asker's callbacks go through a user executor: the reply and the event reach it as copies.
    UserLoop loop;
    AsioClientOptions askerOptions = optionsFor(g);
    askerOptions.callbackExecutor = loop.executor();
    auto runTasks = [&] { loop.run(); };
    AsioClient asker(askerOptions);

    // The answerer replies from its listener, on its strand.
    std::atomic<int> replyAcks{0};
    auto listener = answerer.on("chat.q", [&](const switchboard::ClientEvent &e) {
        if (!e.canReply())
            return;
        const std::string answer = R"({"double":)" + std::to_string(e.data.as_object().at("n").to_number<int>() * 2) + "}";
        answerer.reply(e.replyTo, answer, [&](std::error_code ec) { if (!ec) ++replyAcks; });
    });
    std::atomic<int> subscribed{0};
    answerer.subscribe("chat", {}, [&](std::error_code ec) { if (!ec) ++subscribed; });
    asker.subscribe("chat", {}, [&](std::error_code ec) { if (!ec) ++subscribed; });
    answerer.open();
    asker.open();
    QTRY_COMPARE_WITH_TIMEOUT((runTasks(), subscribed.load()), 2, 5000);

    std::string waitedKey;
    bool waitedCanReply = false;
    int waitCalls = 0;
    asker.waitFor("chat.*", std::chrono::milliseconds(5000), [&](std::error_code ec, const switchboard::ClientEvent *e) {
        ++waitCalls;
        if (!ec && e) {
            waitedKey = std::string(e->key);
            waitedCanReply = e->canReply();
        }
    });
    switchboard::PublishOptions publishOptions;
    publishOptions.timeout = std::chrono::milliseconds(5000);
    auto answer = asker.publishForReplyAsync("chat", "q", R"({"n":21})", publishOptions);
    QCOMPARE(answer.wait_for(std::chrono::seconds(6)), std::future_status::ready);
    const switchboard::ReceivedReply reply = answer.get();
    QCOMPARE(boost::json::serialize(reply.payload), std::string(R"({"double":42})"));
    QCOMPARE(reply.from, answerer.sessionId());
    QTRY_COMPARE_WITH_TIMEOUT((runTasks(), waitCalls), 1, 5000);
    QCOMPARE(waitedKey, std::string("chat.q"));
    QVERIFY(waitedCanReply);
    QTRY_COMPARE_WITH_TIMEOUT(replyAcks.load(), 1, 5000);

    // The callback form; nobody answers event "silent": 408 after its own timeout.
    std::error_code silentError;
    int silentCalls = 0;
    publishOptions.timeout = std::chrono::milliseconds(300);
    asker.publishForReply("chat", "silent", "1", [&](std::error_code ec, const switchboard::PublishReply &r) {
        ++silentCalls;
        silentError = ec;
        QVERIFY(r.payload.is_null());
    }, publishOptions);
    QTRY_COMPARE_WITH_TIMEOUT((runTasks(), silentCalls), 1, 5000);
    QCOMPARE(silentError, make_error_code(switchboard::Error::Timeout));

    // close() cancels a waitFor with 499.
    std::error_code waitError;
    asker.waitFor("chat.never", std::chrono::milliseconds(10000), [&](std::error_code ec, const switchboard::ClientEvent *) { waitError = ec; });
    asker.close();
    QTRY_COMPARE_WITH_TIMEOUT((runTasks(), waitError), make_error_code(switchboard::Error::Cancelled), 5000);
}

QTEST_GUILESS_MAIN(tst_AsioClient)
#include "tst_asioclient.moc"
