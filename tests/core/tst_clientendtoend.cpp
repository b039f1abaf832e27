// ClientSession end to end over LoopbackTransport with the real ServerProtocol, Hub and
// MemoryBroker, in virtual time: delivery, requests, reconnects and recovery, presence.
#include "ClientTestFixtures.h"

using namespace switchboard;
using namespace switchboard::clienttest;

class TestClientEndToEnd : public QObject
{
    Q_OBJECT

private slots:
    // Every test runs twice: over JSON and over the binary encoding (switchboard.v1.binary).
    void initTestCase_data();
    void init();
    void e2eSubscribeAndReceive();
    void e2eSubscribesSentBeforeWelcome();
    void e2eRequestReply();
    void e2eReconnectRecovers_data();
    void e2eReconnectRecovers();
    void e2eRecoveryFailsWhenHistoryIsGone();
    void e2eStreamRecreatedWhileAway();
    void e2eChannelWithoutHistory();
    void e2eLatestValueOnSubscribe();
    void e2eTokenRefreshedInPlace();
    void e2eChannelAuthorizationRefreshed();
    void e2ePresenceTwoClients();
    void e2eServerRefusedThenUp();
    void e2eStalledServerAckTimeout();
    void e2eHeartbeatKeepsConnection();
};

void TestClientEndToEnd::initTestCase_data()
{
    QTest::addColumn<bool>("binary");
    QTest::newRow("json") << false;
    QTest::newRow("binary") << true;
}

void TestClientEndToEnd::init()
{
    QFETCH_GLOBAL(bool, binary);
    peerEncoding = binary ? WireEncoding::Binary : WireEncoding::Json;
}

void TestClientEndToEnd::e2eSubscribeAndReceive()
{
    Server server;
    Peer alice(server), bob(server);
    QVERIFY(alice.connect());
    QVERIFY(bob.connect());
    QCOMPARE(alice.session.sessionId(), alice.transport.serverSessionId());
    QVERIFY(alice.session.sessionId() != bob.session.sessionId());

    Recorder aliceSees, bobSees;
    auto h1 = alice.session.on("news.*", aliceSees.listener());
    auto h2 = bob.session.on("news.*", bobSees.listener());
    ClientChannel &news = alice.session.subscribe("news");
    bob.session.subscribe("news");
    server.settle();
    QVERIFY(news.subscribed());
    QCOMPARE(server.hub.subscriberCount("news"), std::size_t(2));

    std::vector<std::uint64_t> acks;
    bob.session.publish("news", "headline", R"({"title":"hello"})",
                        [&](std::error_code ec, AckInfo info) { QVERIFY(!ec); acks.push_back(info.offset); });
    bob.session.publish("news", "headline", R"({"title":"quiet"})",
                        [&](std::error_code ec, AckInfo info) { QVERIFY(!ec); acks.push_back(info.offset); }, true);
    server.settle();
    QCOMPARE(acks, (std::vector<std::uint64_t>{1, 2}));
    QCOMPARE(aliceSees.data, (std::vector<std::string>{R"({"title":"hello"})", R"({"title":"quiet"})"}));
    QCOMPARE(bobSees.data, (std::vector<std::string>{R"({"title":"hello"})"})); // skipSelf
    QCOMPARE(aliceSees.offsets, (std::vector<std::uint64_t>{1, 2}));
    QCOMPARE(news.position().offset, std::uint64_t(2));
    QCOMPARE(bob.session.pendingOperations(), std::size_t(0));

    // Server-side broadcast reaches both; a publish to a channel not subscribed is refused.
    server.hub.broadcast("news", "flash", "3");
    std::error_code refused;
    alice.session.publish("other", "x", "1", [&](std::error_code ec, AckInfo) { refused = ec; });
    server.settle();
    QCOMPARE(aliceSees.keys.back(), std::string("news.flash"));
    QCOMPARE(bobSees.keys.back(), std::string("news.flash"));
    QCOMPARE(refused, make_error_code(Error::Forbidden));

    alice.session.unsubscribe("news");
    server.settle();
    QCOMPARE(server.hub.subscriberCount("news"), std::size_t(1));
}

void TestClientEndToEnd::e2eSubscribesSentBeforeWelcome()
{
    // A server that authenticates later and keeps only 2 frames meanwhile.
    ServerProtocolOptions options = Server::protocolOptions();
    options.limits.maxFramesWhileAuthenticating = 2;
    Server server(options);
    std::vector<ConnectAnswer> held;
    server.protocol.setAsyncConnectAuthenticator(
        [&](const ConnectRequest &, ConnectAnswer answer) { held.push_back(std::move(answer)); });
    Peer alice(server);
    Recorder errors;
    auto h = alice.session.on("error", errors.listener());
    const std::vector<std::string> names{"a", "b", "c", "d", "e"};
    for (const std::string &name : names)
        alice.session.subscribe(name);
    alice.session.connect();
    server.settle();
    QCOMPARE(held.size(), std::size_t(1));
    QCOMPARE(alice.session.state(), ClientState::Connecting);
    // The five subscribes went right behind connect: two kept, three refused (429).
    QCOMPARE(server.protocol.counters().earlyFramesRefused, std::uint64_t(3));
    QVERIFY(errors.keys.empty());

    held[0](ConnectDecision{});
    server.settle();
    QCOMPARE(alice.session.state(), ClientState::Connected);
    for (const std::string &name : names) {
        QVERIFY2(alice.session.channel(name)->subscribed(), name.c_str());
        QCOMPARE(server.hub.subscriberCount(name), std::size_t(1));
    }
    QVERIFY(errors.keys.empty());
    Recorder sees;
    auto h2 = alice.session.on("e.*", sees.listener());
    server.hub.broadcast("e", "x", "1");
    server.settle();
    QCOMPARE(sees.data, std::vector<std::string>{"1"});
}

void TestClientEndToEnd::e2eRequestReply()
{
    Server server;
    server.protocol.setRequestHandler("math.add", [](const RequestContext &ctx, std::shared_ptr<Responder> r) {
        const json::object in = json::parse(ctx.payload).as_object();
        r->reply(std::to_string(in.at("a").as_int64() + in.at("b").as_int64()));
    });
    server.protocol.setRequestHandler("fail", [](const RequestContext &, std::shared_ptr<Responder> r) {
        r->fail("nope", 422);
    });
    std::shared_ptr<Responder> parked;
    server.protocol.setRequestHandler("never", [&](const RequestContext &, std::shared_ptr<Responder> r) { parked = r; });
    ClientOptions options;
    options.replyTimeout = 1'000ms;
    Peer peer(server, options);
    QVERIFY(peer.connect());

    std::vector<std::string> results;
    auto collect = [&](std::error_code ec, const json::value &v) {
        results.push_back(std::to_string(ec.value()) + " " + json::serialize(v));
    };
    peer.session.request("math.add", R"({"a":2,"b":3})", collect);
    peer.session.request("fail", "{}", collect);
    peer.session.request("missing", "{}", collect);
    peer.session.request("never", "{}", collect);
    server.settle();
    QCOMPARE(results.size(), std::size_t(3));
    QCOMPARE(results[0], std::string("0 5"));
    QVERIFY2(results[1].starts_with("422 ") && results[1].find("\"nope\"") != std::string::npos, results[1].c_str());
    QVERIFY2(results[2].starts_with("404 "), results[2].c_str());
    QCOMPARE(peer.session.pendingOperations(), std::size_t(1));
    server.timer.advance(1'000ms);
    QCOMPARE(results.size(), std::size_t(4));
    QCOMPARE(results[3], std::string("408 null"));
    QCOMPARE(peer.session.pendingOperations(), std::size_t(0));
    parked->reply("1"); // too late: discarded by the client
    server.settle();
    QCOMPARE(results.size(), std::size_t(4));
}

void TestClientEndToEnd::e2eReconnectRecovers_data()
{
    // Either way the subscribe learns the epoch (the join creates the stream) and the client
    // recovers by epoch.
    QTest::addColumn<bool>("streamExists");
    QTest::newRow("channel new at subscribe") << false;
    QTest::newRow("channel with history") << true;
}

void TestClientEndToEnd::e2eReconnectRecovers()
{
    QFETCH(bool, streamExists);
    Server server;
    if (streamExists)
        server.hub.broadcast("feed", "tick", "0");
    Peer peer(server);
    QVERIFY(peer.connect());
    ClientChannel &feed = peer.session.subscribe("feed");
    Recorder rec;
    auto h = peer.session.on("feed.*", rec.listener());
    server.settle();
    QVERIFY(!feed.position().epoch.empty());
    const std::string epoch = feed.position().epoch;
    server.hub.broadcast("feed", "tick", "1");
    server.settle();
    QCOMPARE(rec.data, std::vector<std::string>{"1"});
    const std::string firstSession = peer.session.sessionId();

    std::vector<ClientState> states;
    auto hs = peer.session.onStateChanged([&](ClientState st) { states.push_back(st); });
    peer.transport.drop();
    server.settle();
    QCOMPARE(peer.session.state(), ClientState::Reconnecting);
    QCOMPARE(server.hub.subscriberCount("feed"), std::size_t(0)); // the server saw it go

    for (int i = 2; i <= 4; ++i)
        server.hub.broadcast("feed", "tick", std::to_string(i));
    QVERIFY(peer.awaitReconnect());
    QVERIFY(peer.session.sessionId() != firstSession);
    QVERIFY(feed.subscribed());
    QVERIFY(feed.recovered());
    server.hub.broadcast("feed", "tick", "5");
    server.settle();
    const std::uint64_t base = streamExists ? 1 : 0;
    QCOMPARE(rec.data, (std::vector<std::string>{"1", "2", "3", "4", "5"}));
    QCOMPARE(rec.offsets, (std::vector<std::uint64_t>{base + 1, base + 2, base + 3, base + 4, base + 5}));
    QCOMPARE(feed.position().offset, base + 5);
    QCOMPARE(feed.position().epoch, epoch);
    QCOMPARE(states, (std::vector<ClientState>{ClientState::Reconnecting, ClientState::Connected}));
}

void TestClientEndToEnd::e2eRecoveryFailsWhenHistoryIsGone()
{
    Server server(/*historySize=*/2);
    Peer peer(server);
    QVERIFY(peer.connect());
    ClientChannel &feed = peer.session.subscribe("feed");
    Recorder rec;
    auto h = peer.session.on("feed.*", rec.listener());
    server.settle();
    server.hub.broadcast("feed", "tick", "1");
    server.settle();

    peer.transport.drop();
    server.settle();
    for (int i = 2; i <= 6; ++i) // five missed, two kept: the gap is gone
        server.hub.broadcast("feed", "tick", std::to_string(i));
    QVERIFY(peer.awaitReconnect());
    QVERIFY(feed.subscribed());
    QVERIFY(!feed.recovered());
    QCOMPARE(feed.position().offset, std::uint64_t(6)); // continues from the top
    server.hub.broadcast("feed", "tick", "7");
    server.settle();
    QCOMPARE(rec.data.front(), std::string("1"));
    QCOMPARE(rec.data.back(), std::string("7"));
    QVERIFY(rec.data.size() < 7); // something was missed, and the channel says so
}

void TestClientEndToEnd::e2eStreamRecreatedWhileAway()
{
    // History kept 1 s. The client subscribes before anything is published, receives 1..3,
    // then stays away (the server refuses it) long enough for the stream to expire.
    Server server(100, 1000ms);
    ClientOptions options;
    options.backoff.max = 200ms; // back well within the TTL once the server lets it in
    Peer peer(server, options);
    QVERIFY(peer.connect());
    ClientChannel &feed = peer.session.subscribe("feed");
    Recorder rec;
    auto h = peer.session.on("feed.*", rec.listener());
    server.settle();
    const std::string firstEpoch = feed.position().epoch;
    QVERIFY(!firstEpoch.empty());
    for (int i = 1; i <= 3; ++i)
        server.hub.broadcast("feed", "tick", "\"old" + std::to_string(i) + "\"");
    server.settle();
    QCOMPARE(feed.position(), (StreamPosition{3, firstEpoch}));

    peer.transport.refuse(true);
    peer.transport.drop();
    server.settle();
    QCOMPARE(server.hub.subscriberCount("feed"), std::size_t(0));
    for (int i = 0; i < 30; ++i) { // 3 s of virtual time while the client retries in vain
        server.timer.advance(100ms);
        server.settle();
    }
    QCOMPARE(server.broker.streamCount(), std::size_t(0)); // expired entirely
    server.hub.broadcast("feed", "tick", "\"new1\""); // a new stream: offset 1, new epoch

    peer.transport.refuse(false);
    QVERIFY(peer.awaitReconnect());
    QVERIFY(feed.subscribed());
    QVERIFY(!feed.recovered()); // honest: the old stream's gap is lost...
    QVERIFY(feed.position().epoch != firstEpoch);
    QCOMPARE(feed.position().offset, std::uint64_t(1));

    // ...but what the new stream holds was replayed (new1), and offsets 2 and 3 of the new
    // stream, not above the old position, still arrive.
    server.hub.broadcast("feed", "tick", "\"new2\"");
    server.hub.broadcast("feed", "tick", "\"new3\"");
    server.settle();
    QCOMPARE(rec.data, (std::vector<std::string>{"\"old1\"", "\"old2\"", "\"old3\"", "\"new1\"", "\"new2\"", "\"new3\""}));
    QCOMPARE(rec.offsets, (std::vector<std::uint64_t>{1, 2, 3, 1, 2, 3}));
    QCOMPARE(feed.position().offset, std::uint64_t(3));
}

void TestClientEndToEnd::e2eChannelWithoutHistory()
{
    Server server(/*historySize=*/0);
    Peer peer(server);
    QVERIFY(peer.connect());
    ClientChannel &feed = peer.session.subscribe("feed");
    Recorder rec;
    auto h = peer.session.on("feed.*", rec.listener());
    server.settle();
    QVERIFY(feed.subscribed());
    QCOMPARE(feed.position(), StreamPosition{});
    server.hub.broadcast("feed", "tick", "1");
    server.settle();

    peer.transport.drop();
    server.settle();
    server.hub.broadcast("feed", "tick", "2"); // missed, and nothing can bring it back
    QVERIFY(peer.awaitReconnect());
    QVERIFY(feed.subscribed());
    QVERIFY(!feed.recovered());
    server.hub.broadcast("feed", "tick", "3");
    server.settle();
    QCOMPARE(rec.data, (std::vector<std::string>{"1", "3"}));
    QCOMPARE(server.broker.streamCount(), std::size_t(0));
}

void TestClientEndToEnd::e2eLatestValueOnSubscribe()
{
    Server server;
    for (int i = 1; i <= 3; ++i)
        server.hub.broadcast("gauge", "level", std::to_string(i * 10));
    Peer peer(server);
    QVERIFY(peer.connect());
    Recorder rec;
    auto h = peer.session.on("gauge.*", rec.listener());
    SubscribeOptions options;
    options.latest = true;
    ClientChannel &gauge = peer.session.subscribe("gauge", options);
    server.settle();
    // The newest value at once, marked, at the stream's top.
    QCOMPARE(rec.data, std::vector<std::string>{"30"});
    QCOMPARE(rec.offsets, std::vector<std::uint64_t>{3});
    QCOMPARE(rec.latest, std::vector<bool>{true});
    QCOMPARE(gauge.position().offset, std::uint64_t(3));
    server.hub.broadcast("gauge", "level", "40");
    server.settle();
    QCOMPARE(rec.data, (std::vector<std::string>{"30", "40"}));
    QCOMPARE(rec.latest, (std::vector<bool>{true, false}));

    // A reconnect recovers from the position (nothing twice, nothing missed), not `latest`.
    peer.transport.drop();
    server.settle();
    server.hub.broadcast("gauge", "level", "50");
    QVERIFY(peer.awaitReconnect());
    server.settle();
    QVERIFY(gauge.recovered());
    QCOMPARE(rec.data, (std::vector<std::string>{"30", "40", "50"}));
    QCOMPARE(rec.latest, (std::vector<bool>{true, false, false}));
    QCOMPARE(server.hub.counters().latestDelivered, std::uint64_t(1));
}

void TestClientEndToEnd::e2eTokenRefreshedInPlace()
{
    Server server;
    server.protocol.setConnectAuthenticator([&](std::string_view token) {
        ConnectDecision decision;
        decision.principal.userId = token.starts_with("bob") ? "bob" : "mallory";
        decision.expiresAtMs = server.timer.wallClockMs() + 60'000;
        return decision;
    });
    Peer peer(server);
    int issued = 0;
    std::string user = "bob";
    peer.session.setTokenProvider([&](std::function<void(std::string)> deliver) {
        deliver(user + "-" + std::to_string(++issued));
    });
    Recorder errors;
    auto he = peer.session.on("error", errors.listener());
    QVERIFY(peer.connect());
    ClientChannel &feed = peer.session.subscribe("feed");
    server.settle();
    const std::string firstSession = peer.session.sessionId();
    QCOMPARE(issued, 1);

    // The server's hint 30 s before the expiry: the session asks the provider and refreshes
    // without reconnecting; it outlives the first token's expiry.
    for (int second = 0; second < 100; ++second) {
        server.timer.advance(1s);
        server.settle();
    }
    QCOMPARE(peer.session.state(), ClientState::Connected);
    QCOMPARE(peer.session.sessionId(), firstSession);
    QVERIFY(feed.subscribed());
    QCOMPARE(issued, 4); // at 30, 60 and 90 s: each fresh token lives 60 s, hinted 30 s before
    QCOMPARE(server.protocol.counters().tokenRefreshes, std::uint64_t(3));
    QCOMPARE(server.protocol.counters().tokenExpirations, std::uint64_t(0));
    QVERIFY(errors.keys.empty());

    // A refresh the server refuses (another user's token) is an error event; the session then
    // ends at the expiry (3004) and reconnects with a token from the provider.
    user = "mallory";
    for (int second = 0; second < 80 && peer.session.sessionId() == firstSession; ++second) {
        server.timer.advance(1s);
        server.settle();
    }
    QCOMPARE(errors.keys.size(), std::size_t(1));
    QCOMPARE(server.protocol.counters().tokenRefreshFailures, std::uint64_t(1));
    QCOMPARE(server.protocol.counters().tokenExpirations, std::uint64_t(1));
    QVERIFY(peer.awaitReconnect());
    QVERIFY(peer.session.sessionId() != firstSession);
}

void TestClientEndToEnd::e2eChannelAuthorizationRefreshed()
{
    Server server;
    std::vector<std::string> asked;
    server.hub.setAuthorizer([&](const AuthRequest &request) {
        asked.emplace_back(request.auth);
        AuthDecision decision;
        decision.allowed = true;
        decision.expiresAtMs = server.timer.wallClockMs() + 60'000;
        return decision;
    });
    Peer peer(server);
    QVERIFY(peer.connect());
    int issued = 0;
    SubscribeOptions options;
    options.auth = "grant-0";
    options.authProvider = [&](std::function<void(std::string)> deliver) { deliver("grant-" + std::to_string(++issued)); };
    ClientChannel &ops = peer.session.subscribe("private-ops", options);
    server.settle();
    QVERIFY(ops.subscribed());
    // Hinted 30 s before each expiry: the provider's auth goes in `refresh`; the subscription
    // outlives every expiry.
    for (int second = 0; second < 100; ++second) {
        server.timer.advance(1s);
        server.settle();
    }
    QVERIFY(ops.subscribed());
    QCOMPARE(asked, (std::vector<std::string>{"grant-0", "grant-1", "grant-2", "grant-3"}));
    QCOMPARE(server.hub.counters().channelAuthorizationRefreshes, std::uint64_t(3));
    QCOMPARE(server.hub.counters().channelAuthorizationExpirations, std::uint64_t(0));

    // A resubscribe after a reconnect uses the newest auth.
    peer.transport.drop();
    QVERIFY(peer.awaitReconnect());
    for (int i = 0; i < 20 && !ops.subscribed(); ++i) {
        server.timer.advance(100ms);
        server.settle();
    }
    QVERIFY2(ops.subscribed(), ops.lastError().message().c_str());
    QCOMPARE(asked.back(), std::string("grant-3"));
}

void TestClientEndToEnd::e2ePresenceTwoClients()
{
    Server server;
    server.hub.setAuthorizer([](const AuthRequest &) { return AuthDecision{true, {}, {}}; });
    Peer alice(server), bob(server);
    QVERIFY(alice.connect());
    QVERIFY(bob.connect());

    ClientChannel &aliceRoom = alice.session.subscribe("presence-room", SubscribeOptions{{}, R"({"user_id":"alice","user_info":{"name":"Alice"}})", true});
    server.settle();
    QCOMPARE(aliceRoom.members().size(), std::size_t(1));
    std::vector<std::string> aliceSaw;
    auto h = aliceRoom.onPresenceChanged([&](std::string_view kind, const Member &m) {
        aliceSaw.push_back(std::string(kind) + ":" + m.userId);
    });

    ClientChannel &bobRoom = bob.session.subscribe("presence-room", SubscribeOptions{{}, R"({"user_id":"bob","user_info":{"name":"Bob"}})", true});
    server.settle();
    auto ids = [](const ClientChannel &ch) {
        std::vector<std::string> out;
        for (const Member &m : ch.members())
            out.push_back(m.userId);
        std::sort(out.begin(), out.end());
        return out;
    };
    QCOMPARE(ids(bobRoom), (std::vector<std::string>{"alice", "bob"}));
    QCOMPARE(ids(aliceRoom), (std::vector<std::string>{"alice", "bob"}));
    QCOMPARE(aliceSaw, std::vector<std::string>{"member_added:bob"});
    for (const Member &m : aliceRoom.members()) {
        if (m.userId == "bob")
            QCOMPARE(json::parse(m.info).as_object().at("name").as_string(), json::string("Bob"));
    }

    bob.session.close();
    server.settle();
    QCOMPARE(ids(aliceRoom), std::vector<std::string>{"alice"});
    QCOMPARE(aliceSaw, (std::vector<std::string>{"member_added:bob", "member_removed:bob"}));
}

void TestClientEndToEnd::e2eServerRefusedThenUp()
{
    Server server;
    ClientOptions options;
    options.backoff = BackoffOptions{100ms, 400ms, 2.0, 0.0};
    Peer peer(server, options);
    Recorder errors;
    auto h = peer.session.on("error", errors.listener());
    peer.transport.refuse(true);
    peer.session.connect();
    server.settle();
    QCOMPARE(peer.session.state(), ClientState::Reconnecting);
    for (int i = 0; i < 3; ++i) {
        server.timer.advance(400ms);
        server.settle();
    }
    QCOMPARE(peer.session.state(), ClientState::Reconnecting);
    QVERIFY(errors.keys.size() >= 3); // each failed attempt is reported
    QCOMPARE(peer.session.lastError(), make_error_code(Error::NotConnected));
    peer.transport.refuse(false);
    QVERIFY(peer.awaitReconnect());
}

void TestClientEndToEnd::e2eStalledServerAckTimeout()
{
    Server server;
    ClientOptions options;
    options.ackTimeout = 1'000ms;
    Peer peer(server, options);
    QVERIFY(peer.connect());
    peer.session.subscribe("feed");
    server.settle();

    peer.transport.stallServer(true);
    std::vector<std::error_code> acks;
    peer.session.publish("feed", "x", "1", [&](std::error_code ec, AckInfo) { acks.push_back(ec); });
    server.settle();
    QVERIFY(acks.empty());
    server.timer.advance(1'000ms);
    QCOMPARE(acks, std::vector<std::error_code>{make_error_code(Error::Timeout)});
    QCOMPARE(peer.session.pendingOperations(), std::size_t(0));

    // Released, the server handles the frame; its ack is late and ignored.
    peer.transport.stallServer(false);
    server.settle();
    QCOMPARE(acks.size(), std::size_t(1));
    QCOMPARE(peer.session.state(), ClientState::Connected);
}

void TestClientEndToEnd::e2eHeartbeatKeepsConnection()
{
    Server server;
    Peer peer(server);
    QVERIFY(peer.connect());
    const std::uint64_t framesBefore = peer.transport.framesToServer();
    for (int i = 0; i < 40; ++i) { // 200 s of virtual time, 25 s ping interval
        server.timer.advance(5'000ms);
        server.settle();
    }
    QCOMPARE(peer.session.state(), ClientState::Connected);
    QVERIFY(peer.transport.framesToServer() >= framesBefore + 6); // pings went out and were answered
    QVERIFY(!peer.session.lastError());
}

QTEST_APPLESS_MAIN(TestClientEndToEnd)
#include "tst_clientendtoend.moc"
