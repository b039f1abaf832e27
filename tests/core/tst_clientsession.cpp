// ClientSession against a scripted server: the test plays the server frame by frame, in
// virtual time. Its states, connect, tokens, acks and replies, listeners and incoming frames;
// channels are in tst_clientchannels.cpp, the heartbeat and round trips in
// tst_clientheartbeat.cpp, end-to-end tests over the real server in tst_clientendtoend.cpp.
#include "ClientTestFixtures.h"

using namespace switchboard;
using namespace switchboard::clienttest;

class TestClientSession : public QObject
{
    Q_OBJECT

private slots:
    // scripted server
    void stateTransitions();
    void connectFrameAndUrl();
    void binaryOfferedButNotAgreedStaysJson();
    void fatalCloseStopsReconnecting();
    void backoffDelays_data();
    void backoffDelays();
    void backoffResetsAfterWelcome();
    void connectTimeout();
    void tokenProviderOnEveryConnect();
    void tokenProviderLate();
    void tokenExpiredOnConnectFetchesFreshToken();
    void sessionStartedAndClose();
    void publishAck();
    void publishCompress();
    void ackTimeoutFreesState();
    void replyAndReplyTimeout();
    void errorReply();
    void errorFrameForRequest();
    void errorFrameWithoutAck();
    void notConnectedFailsFast();
    void pendingFailOnDisconnect();
    void invalidUtf8NeverReachesTheWire();
    void closeCancelsPending();
    void connectWhilePreviousConnectionCloses();
    void onceListener();
    void offInsideDispatch();
    void unsubscribeInsideDispatch();
    void handleOutlivesSession();
    void wildcardPatterns_data();
    void wildcardPatterns();
    void lifecycleNotCaughtByWildcards();
    void binaryMessage();
    void badFramesFromServer();
};

// ======================= scripted server =======================

void TestClientSession::stateTransitions()
{
    Scripted s;
    std::vector<ClientState> states;
    auto handle = s.session.onStateChanged([&](ClientState st) { states.push_back(st); });
    QCOMPARE(s.session.state(), ClientState::Disconnected);

    s.session.connect();
    QCOMPARE(s.session.state(), ClientState::Connecting);
    QCOMPARE(s.transport.opens, 1);
    s.transport.accept();
    QCOMPARE(s.session.state(), ClientState::Connecting); // open, but no welcome yet
    s.welcome("abc");
    QCOMPARE(s.session.state(), ClientState::Connected);
    QCOMPARE(s.session.sessionId(), std::string("abc"));
    QCOMPARE(s.session.userId(), std::string("u1"));

    s.transport.serverClose(3000, "shutdown"); // reconnect range
    QCOMPARE(s.session.state(), ClientState::Reconnecting);
    QVERIFY(s.session.sessionId().empty());
    s.timer.advance(10'000ms); // past the longest first backoff delay
    QCOMPARE(s.transport.opens, 2);
    s.transport.accept();
    s.welcome("def");
    QCOMPARE(s.session.state(), ClientState::Connected);
    QCOMPARE(s.session.sessionId(), std::string("def"));

    s.session.close();
    QCOMPARE(s.session.state(), ClientState::Closed);
    QCOMPARE(s.transport.closeRequests, std::vector<std::uint16_t>{1000});
    s.transport.serverClose(1000, "closed by client");
    QCOMPARE(s.session.state(), ClientState::Closed);

    const std::vector<ClientState> expected{ClientState::Connecting, ClientState::Connected,
                                            ClientState::Reconnecting, ClientState::Connected,
                                            ClientState::Closed};
    QCOMPARE(states, expected);

    // Closed is final until connect() again; no timer may reopen it.
    s.timer.advance(60'000ms);
    QCOMPARE(s.transport.opens, 2);
    s.session.connect();
    QCOMPARE(s.session.state(), ClientState::Connecting);
    QCOMPARE(s.transport.opens, 3);
}

void TestClientSession::connectFrameAndUrl()
{
    ClientOptions options;
    options.url = "ws://example.invalid/ws";
    options.clientName = "dashboard";
    Scripted s(options);
    s.session.connect();
    QCOMPARE(s.transport.lastUrl, std::string("ws://example.invalid/ws"));
    QVERIFY(s.transport.sent.empty()); // nothing before the transport opened
    s.transport.accept();
    const json::object frame = s.transport.takeOne();
    QCOMPARE(str(frame, "op"), std::string("connect"));
    QCOMPARE(num(frame, "version"), std::int64_t(1));
    QCOMPARE(str(frame, "token"), std::string());
    QCOMPARE(str(frame, "name"), std::string("dashboard"));

    s.session.setUrl("ws://other.invalid/ws");
    s.transport.serverClose(1006);
    s.timer.advance(10'000ms);
    QCOMPARE(s.transport.lastUrl, std::string("ws://other.invalid/ws"));
}

void TestClientSession::binaryOfferedButNotAgreedStaysJson()
{
    // The client offers the binary encoding; a server that answers no subprotocol (an older
    // one) gets JSON text (ScriptedTransport::sendBinary fails the test).
    ClientOptions options;
    options.url = "ws://example.invalid/ws";
    options.encoding = WireEncoding::Binary;
    Scripted s(options);
    s.session.connect();
    QCOMPARE(s.transport.offeredSubprotocol, std::string(kBinarySubprotocol));
    s.transport.accept();
    QCOMPARE(str(s.transport.takeOne(), "op"), std::string("connect"));
    QCOMPARE(s.session.wireEncoding(), WireEncoding::Json);
    s.transport.feed(R"({"op":"welcome","session":"s1","version":1,"ping":25000,"user":""})");
    QCOMPARE(s.session.state(), ClientState::Connected);
    s.session.subscribe("news");
    QCOMPARE(str(s.transport.takeOne(), "op"), std::string("subscribe"));

    // Offering nothing again takes effect at the next connection attempt.
    s.session.setEncoding(WireEncoding::Json);
    s.transport.serverClose(1006);
    s.timer.advance(10'000ms);
    QCOMPARE(s.transport.opens, 2);
    QCOMPARE(s.transport.offeredSubprotocol, std::string());
}

void TestClientSession::fatalCloseStopsReconnecting()
{
    Scripted s;
    s.establish();
    Recorder errors;
    auto h = s.session.on("error", errors.listener());
    s.transport.serverClose(3501, "invalid token");
    QCOMPARE(s.session.state(), ClientState::Closed);
    QCOMPARE(s.session.lastError(), make_error_code(Error::Unauthorized));
    QCOMPARE(errors.keys.size(), std::size_t(1));
    s.timer.advance(60'000ms);
    QCOMPARE(s.transport.opens, 1);
}

void TestClientSession::backoffDelays_data()
{
    QTest::addColumn<int>("initial");
    QTest::addColumn<int>("max");
    QTest::addColumn<double>("factor");
    QTest::addColumn<double>("jitter");
    QTest::newRow("default shape") << 100 << 2'000 << 2.0 << 0.5;
    QTest::newRow("no jitter") << 100 << 1'000 << 2.0 << 0.0;
    QTest::newRow("factor 3, small jitter") << 50 << 3'000 << 3.0 << 0.1;
    QTest::newRow("full jitter") << 200 << 1'600 << 2.0 << 1.0;
}

void TestClientSession::backoffDelays()
{
    QFETCH(int, initial);
    QFETCH(int, max);
    QFETCH(double, factor);
    QFETCH(double, jitter);
    ClientOptions options;
    options.backoff = BackoffOptions{std::chrono::milliseconds(initial), std::chrono::milliseconds(max), factor, jitter};
    Scripted s(options);
    s.session.connect();

    constexpr int attempts = 10;
    std::vector<int> delays;
    for (int n = 0; n < attempts; ++n) {
        const int opensBefore = s.transport.opens;
        s.transport.refuse();
        QCOMPARE(s.session.state(), ClientState::Reconnecting);
        // Step virtual time 1 ms at a time until the next attempt opens.
        int waited = 0;
        while (s.transport.opens == opensBefore && waited <= max + 1) {
            s.timer.advance(1ms);
            ++waited;
        }
        QCOMPARE(s.transport.opens, opensBefore + 1);
        delays.push_back(waited);
    }

    bool someBelowBase = false;
    for (int n = 0; n < attempts; ++n) {
        const double base = std::min(initial * std::pow(factor, n), double(max));
        const double low = std::floor(base * (1.0 - jitter));
        const int measured = delays[n];
        // A delay of d ms is seen after max(d, 1) steps of 1 ms.
        QVERIFY2(measured >= std::max(low, 1.0) && measured <= std::max(base, 1.0),
                 qPrintable(QStringLiteral("attempt %1: waited %2 ms, expected [%3, %4]").arg(n).arg(measured).arg(low).arg(base)));
        someBelowBase = someBelowBase || measured < base;
    }
    QVERIFY(delays.back() <= max);
    if (jitter > 0)
        QVERIFY2(someBelowBase, "jitter never shortened a delay");
    else
        QCOMPARE(delays.back(), max);
}

void TestClientSession::backoffResetsAfterWelcome()
{
    ClientOptions options;
    options.backoff = BackoffOptions{100ms, 5'000ms, 2.0, 0.0};
    Scripted s(options);
    s.session.connect();
    for (int i = 0; i < 5; ++i) { // grow the delay to 1.6 s
        s.transport.refuse();
        s.timer.advance(5'000ms);
    }
    s.transport.accept();
    s.welcome("s1");
    s.transport.serverClose(1006);
    s.timer.advance(99ms);
    QCOMPARE(s.transport.opens, 6);
    s.timer.advance(1ms); // back to the initial 100 ms
    QCOMPARE(s.transport.opens, 7);
}

void TestClientSession::connectTimeout()
{
    ClientOptions options;
    options.connectTimeout = 2'000ms;
    options.backoff = BackoffOptions{100ms, 100ms, 2.0, 0.0};
    Scripted s(options);
    Recorder errors;
    auto h = s.session.on("error", errors.listener());
    s.session.connect();
    s.transport.accept(); // open, but the server never welcomes
    s.timer.advance(1'999ms);
    QVERIFY(s.transport.closeRequests.empty());
    s.timer.advance(1ms);
    QCOMPARE(s.transport.closeRequests, std::vector<std::uint16_t>{3006});
    s.transport.serverClose(3006, "connect timeout");
    QCOMPARE(s.session.state(), ClientState::Reconnecting);
    QCOMPARE(s.session.lastError(), make_error_code(Error::Timeout));
    QCOMPARE(errors.keys.size(), std::size_t(1));
    s.timer.advance(100ms);
    QCOMPARE(s.transport.opens, 2);
}

void TestClientSession::tokenProviderOnEveryConnect()
{
    Scripted s;
    int calls = 0;
    s.session.setTokenProvider([&](std::function<void(std::string)> deliver) {
        ++calls;
        deliver("token-" + std::to_string(calls));
    });
    s.session.connect();
    s.transport.accept();
    QCOMPARE(str(s.transport.takeOne(), "token"), std::string("token-1"));
    s.welcome("s1");

    for (int round = 2; round <= 4; ++round) {
        s.transport.serverClose(round == 3 ? 3004 : 1006); // 3004: token expired
        s.timer.advance(10'000ms);
        QCOMPARE(calls, round);
        s.transport.accept();
        QCOMPARE(str(s.transport.takeOne(), "token"), "token-" + std::to_string(round));
        s.welcome("s");
    }
    QCOMPARE(s.transport.opens, 4);
}

void TestClientSession::tokenProviderLate()
{
    ClientOptions options;
    options.connectTimeout = 1'000ms;
    options.backoff = BackoffOptions{100ms, 100ms, 2.0, 0.0};
    Scripted s(options);
    std::vector<std::function<void(std::string)>> deliveries;
    s.session.setTokenProvider([&](std::function<void(std::string)> deliver) { deliveries.push_back(std::move(deliver)); });
    s.session.connect();
    QCOMPARE(s.transport.opens, 0); // waits for the token
    QCOMPARE(deliveries.size(), std::size_t(1));

    // No token within the connect timeout: the attempt fails and another starts after backoff.
    s.timer.advance(1'000ms);
    QCOMPARE(s.session.state(), ClientState::Reconnecting);
    QCOMPARE(s.session.lastError(), make_error_code(Error::Timeout));
    s.timer.advance(100ms);
    QCOMPARE(deliveries.size(), std::size_t(2));

    deliveries[0]("stale"); // a late token of an abandoned attempt is ignored
    QCOMPARE(s.transport.opens, 0);
    deliveries[1]("fresh");
    QCOMPARE(s.transport.opens, 1);
    deliveries[1]("twice"); // only the first delivery counts
    QCOMPARE(s.transport.opens, 1);
    s.transport.accept();
    QCOMPARE(str(s.transport.takeOne(), "token"), std::string("fresh"));
}

void TestClientSession::tokenExpiredOnConnectFetchesFreshToken()
{
    Scripted s;
    int calls = 0;
    s.session.setTokenProvider([&](std::function<void(std::string)> deliver) {
        ++calls;
        deliver(calls == 1 ? "expired" : "fresh");
    });
    s.session.connect();
    s.transport.accept();
    QCOMPARE(str(s.transport.takeOne(), "token"), std::string("expired"));

    // Refused at connect, before any welcome: 3004 means "get a new token", not "give up" (3501).
    s.transport.serverClose(3004);
    QCOMPARE(s.session.state(), ClientState::Reconnecting);
    s.timer.advance(10'000ms);
    QCOMPARE(calls, 2);
    s.transport.accept();
    QCOMPARE(str(s.transport.takeOne(), "token"), std::string("fresh"));
    s.welcome("s2");
    QCOMPARE(s.session.state(), ClientState::Connected);

    // 3501 is final: no new token is asked for.
    s.transport.serverClose(3501);
    s.timer.advance(60'000ms);
    QCOMPARE(s.session.state(), ClientState::Closed);
    QCOMPARE(calls, 2);
}

void TestClientSession::sessionStartedAndClose()
{
    Scripted s;
    Recorder started, closed;
    auto h1 = s.session.on("session.started", started.listener());
    auto h2 = s.session.on("close", closed.listener());
    std::string startedSession;
    auto h3 = s.session.on("session.started", [&](const ClientEvent &e) {
        startedSession = std::string(e.data.as_object().at("session").as_string());
        QVERIFY(e.channel.empty());
        QCOMPARE(s.session.state(), ClientState::Connected);
    });
    s.establish("xyz");
    QCOMPARE(started.keys, std::vector<std::string>{"session.started"});
    QCOMPARE(startedSession, std::string("xyz"));

    s.transport.serverClose(3002, "idle");
    QCOMPARE(closed.keys, std::vector<std::string>{"close"});
    const json::object data = json::parse(closed.data[0]).as_object();
    QCOMPARE(num(data, "code"), std::int64_t(3002));
    QCOMPARE(str(data, "reason"), std::string("idle"));
    QCOMPARE(data.at("reconnect").as_bool(), true);
}

void TestClientSession::publishCompress()
{
    Scripted s;
    s.establish();
    s.session.publish("board", "rows", R"({"n":1})", {}, false, true);
    const json::object frame = s.transport.takeOne();
    QCOMPARE(str(frame, "op"), std::string("publish"));
    QCOMPARE(frame.at("compress").as_bool(), true);
    QVERIFY(!frame.contains("skipSelf"));
}

void TestClientSession::publishAck()
{
    Scripted s;
    s.establish();
    std::vector<std::pair<std::error_code, std::uint64_t>> acks;
    s.session.publish("chat", "msg", R"({"text":"hi"})",
                      [&](std::error_code ec, AckInfo info) { acks.emplace_back(ec, info.offset); }, true);
    const json::object frame = s.transport.takeOne();
    QCOMPARE(str(frame, "op"), std::string("publish"));
    QCOMPARE(str(frame, "channel"), std::string("chat"));
    QCOMPARE(str(frame, "event"), std::string("msg"));
    QCOMPARE(json::serialize(frame.at("data")), std::string(R"({"text":"hi"})"));
    QCOMPARE(frame.at("skipSelf").as_bool(), true);
    QVERIFY(!frame.contains("compress")); // only when asked for
    QCOMPARE(s.session.pendingOperations(), std::size_t(1));

    s.transport.feed(R"({"op":"ack","ackId":)" + ackIdText(frame) + R"(,"offset":42})");
    QCOMPARE(acks.size(), std::size_t(1));
    QCOMPARE(acks[0].first, std::error_code());
    QCOMPARE(acks[0].second, std::uint64_t(42));
    QCOMPARE(s.session.pendingOperations(), std::size_t(0));

    // Without a callback no ackId is sent and nothing is waited for.
    s.session.publish("chat", "msg", "1");
    QVERIFY(!s.transport.takeOne().contains("ackId"));
    QCOMPARE(s.session.pendingOperations(), std::size_t(0));
}

void TestClientSession::ackTimeoutFreesState()
{
    ClientOptions options;
    options.ackTimeout = 500ms;
    Scripted s(options);
    s.establish();
    const std::size_t timersBefore = s.timer.pendingCount();
    int calls = 0;
    std::error_code result;
    s.session.publish("chat", "msg", "{}", [&](std::error_code ec, AckInfo) { ++calls; result = ec; });
    const std::string ackId = ackIdText(s.transport.takeOne());
    QCOMPARE(s.session.pendingOperations(), std::size_t(1));
    QCOMPARE(s.timer.pendingCount(), timersBefore + 1);

    s.timer.advance(499ms);
    QCOMPARE(calls, 0);
    s.timer.advance(1ms);
    QCOMPARE(calls, 1);
    QCOMPARE(result, make_error_code(Error::Timeout));
    QCOMPARE(s.session.pendingOperations(), std::size_t(0));
    QCOMPARE(s.timer.pendingCount(), timersBefore);

    // A late ack changes nothing: the callback ran once.
    s.transport.feed(R"({"op":"ack","ackId":)" + ackId + R"(,"offset":1})");
    QCOMPARE(calls, 1);
}

void TestClientSession::replyAndReplyTimeout()
{
    ClientOptions options;
    options.replyTimeout = 3'000ms;
    Scripted s(options);
    s.establish();

    std::vector<std::string> replies;
    std::vector<std::error_code> errors;
    auto collect = [&](std::error_code ec, const json::value &v) {
        errors.push_back(ec);
        replies.push_back(json::serialize(v));
    };

    s.session.request("users.create", R"({"name":"Ada"})", collect);
    const json::object frame = s.transport.takeOne();
    QCOMPARE(str(frame, "op"), std::string("request"));
    QCOMPARE(str(frame, "topic"), std::string("users.create"));
    QCOMPARE(json::serialize(frame.at("payload")), std::string(R"({"name":"Ada"})"));
    QVERIFY(frame.contains("ackId"));
    const std::string id = ackIdText(frame);

    // The gateway's ack does not answer a request: the reply does.
    s.transport.feed(R"({"op":"ack","ackId":)" + id + "}");
    QVERIFY(replies.empty());
    QCOMPARE(s.session.pendingOperations(), std::size_t(1));
    s.transport.feed(R"({"op":"reply","topic":"users.create","payload":{"id":7},"ackId":)" + id + "}");
    QCOMPARE(replies, std::vector<std::string>{R"({"id":7})"});
    QCOMPARE(errors[0], std::error_code());
    QCOMPARE(s.session.pendingOperations(), std::size_t(0));

    // A reply that never comes: Timeout after the per-call timeout, state freed.
    const std::size_t timersBefore = s.timer.pendingCount();
    s.session.request("slow", "null", collect, 250ms);
    const std::string slowId = ackIdText(s.transport.takeOne());
    s.transport.feed(R"({"op":"ack","ackId":)" + slowId + "}");
    s.timer.advance(249ms);
    QCOMPARE(replies.size(), std::size_t(1));
    s.timer.advance(1ms);
    QCOMPARE(replies.size(), std::size_t(2));
    QCOMPARE(errors[1], make_error_code(Error::Timeout));
    QCOMPARE(replies[1], std::string("null"));
    QCOMPARE(s.session.pendingOperations(), std::size_t(0));
    QCOMPARE(s.timer.pendingCount(), timersBefore);

    // The default reply timeout applies when none is given.
    s.session.request("slow", "", collect);
    s.transport.take();
    s.timer.advance(2'999ms);
    QCOMPARE(replies.size(), std::size_t(2));
    s.timer.advance(1ms);
    QCOMPARE(errors.size(), std::size_t(3));
    QCOMPARE(errors[2], make_error_code(Error::Timeout));
}

void TestClientSession::errorReply()
{
    Scripted s;
    s.establish();
    std::error_code error;
    std::string payload;
    s.session.request("orders.place", "{}", [&](std::error_code ec, const json::value &v) {
        error = ec;
        payload = json::serialize(v);
    });
    const std::string id = ackIdText(s.transport.takeOne());
    s.transport.feed(R"({"op":"reply","topic":"error","payload":{"message":"out of stock","status":409,"trace":"t1"},"ackId":)" + id + "}");
    QCOMPARE(error, make_error_code(Error::AlreadySubscribed)); // 409: the status is the code
    QCOMPARE(error.value(), 409);
    const json::object p = json::parse(payload).as_object();
    QCOMPARE(str(p, "message"), std::string("out of stock"));
    QCOMPARE(str(p, "trace"), std::string("t1"));
    QCOMPARE(s.session.pendingOperations(), std::size_t(0));
}

void TestClientSession::errorFrameForRequest()
{
    Scripted s;
    s.establish();
    std::error_code error;
    std::string payload;
    s.session.request("nobody", "1", [&](std::error_code ec, const json::value &v) {
        error = ec;
        payload = json::serialize(v);
    });
    const std::string id = ackIdText(s.transport.takeOne());
    s.transport.feed(R"({"op":"error","code":404,"message":"no handler","ackId":)" + id + "}");
    QCOMPARE(error, make_error_code(Error::NotFound));
    QCOMPARE(str(json::parse(payload).as_object(), "message"), std::string("no handler"));

    // An error answering a publish fails its ack and is not reported as a session error.
    Recorder errors;
    auto h = s.session.on("error", errors.listener());
    std::error_code ackError;
    s.session.publish("chat", "m", "1", [&](std::error_code ec, AckInfo) { ackError = ec; });
    const std::string pid = ackIdText(s.transport.takeOne());
    s.transport.feed(R"({"op":"error","code":403,"message":"publish requires a subscription","ackId":)" + pid + "}");
    QCOMPARE(ackError, make_error_code(Error::Forbidden));
    QVERIFY(errors.keys.empty());
    QCOMPARE(s.session.pendingOperations(), std::size_t(0));
}

void TestClientSession::errorFrameWithoutAck()
{
    Scripted s;
    s.establish();
    Recorder errors;
    auto h = s.session.on("error", errors.listener());
    s.transport.feed(R"({"op":"error","code":429,"name":"rate_limited","message":"slow down"})");
    QCOMPARE(errors.keys, std::vector<std::string>{"error"});
    QCOMPARE(s.session.lastError(), make_error_code(Error::RateLimited));
    QCOMPARE(str(json::parse(errors.data[0]).as_object(), "message"), std::string("slow down"));
    QCOMPARE(s.session.state(), ClientState::Connected);
}

void TestClientSession::notConnectedFailsFast()
{
    ClientOptions options;
    options.failFast = true; // without it calls wait while connecting (tst_clientwaitingcalls)
    Scripted s(options);
    std::error_code ackError, replyError;
    s.session.publish("chat", "m", "1", [&](std::error_code ec, AckInfo) { ackError = ec; });
    s.session.request("t", "1", [&](std::error_code ec, const json::value &) { replyError = ec; });
    QVERIFY(!ackError && !replyError); // never inside the call
    QCOMPARE(s.executor.runPending(), std::size_t(2));
    QCOMPARE(ackError, make_error_code(Error::NotConnected));
    QCOMPARE(replyError, make_error_code(Error::NotConnected));
    QVERIFY(s.transport.sent.empty());
    QCOMPARE(s.session.pendingOperations(), std::size_t(0));

    // Connecting is not connected either.
    s.session.connect();
    s.transport.accept();
    s.transport.take();
    ackError = {};
    s.session.publish("chat", "m", "1", [&](std::error_code ec, AckInfo) { ackError = ec; });
    s.executor.runPending();
    QCOMPARE(ackError, make_error_code(Error::NotConnected));

    // Invalid JSON text is refused before it reaches the wire.
    s.welcome("s1");
    s.session.publish("chat", "m", "{not json", [&](std::error_code ec, AckInfo) { ackError = ec; });
    s.executor.runPending();
    QCOMPARE(ackError, make_error_code(Error::BadRequest));
    QVERIFY(s.transport.sent.empty());

    // So is a number JSON cannot carry: serialized it would be `Infinity`, which no server parses.
    ackError = {};
    s.session.publish("chat", "m", R"({"v":1e400})", [&](std::error_code ec, AckInfo) { ackError = ec; });
    s.executor.runPending();
    QCOMPARE(ackError, make_error_code(Error::BadRequest));
    QVERIFY(s.transport.sent.empty());
}

// Names that are not UTF-8 would make a text frame the gateway closes with 1007, taking every
// subscription down: the operation fails with InvalidName instead and nothing is sent (found by
// fuzz/fuzz_client_session).
void TestClientSession::invalidUtf8NeverReachesTheWire()
{
    Scripted s;
    s.establish();
    const std::string bad("ch\xff\xfe", 4);
    std::error_code ackError, replyError;
    s.session.publish(bad, "m", "1", [&](std::error_code ec, AckInfo) { ackError = ec; });
    s.session.publish("chat", bad, "1", [&](std::error_code ec, AckInfo) { replyError = ec; });
    QVERIFY(!ackError && !replyError); // never inside the call
    s.executor.runPending();
    QCOMPARE(ackError, make_error_code(Error::InvalidName));
    QCOMPARE(replyError, make_error_code(Error::InvalidName));
    replyError = {};
    s.session.request(bad, "1", [&](std::error_code ec, const json::value &) { replyError = ec; });
    s.executor.runPending();
    QCOMPARE(replyError, make_error_code(Error::InvalidName));

    Recorder errors;
    auto h = s.session.on("error", errors.listener());
    ClientChannel &channel = s.session.subscribe(bad);
    SubscribeOptions badAuth;
    badAuth.auth = bad;
    ClientChannel &other = s.session.subscribe("room", badAuth);
    s.executor.runPending();
    QCOMPARE(channel.lastError(), make_error_code(Error::InvalidName));
    QCOMPARE(other.lastError(), make_error_code(Error::InvalidName));
    QVERIFY(!channel.subscribed() && !other.subscribed());
    QCOMPARE(errors.keys.size(), std::size_t(2));
    s.session.unsubscribe(bad);
    QVERIFY(s.transport.sent.empty());
    QCOMPARE(s.session.pendingOperations(), std::size_t(0));
}

void TestClientSession::pendingFailOnDisconnect()
{
    Scripted s;
    s.establish();
    std::error_code ackError, replyError;
    s.session.publish("chat", "m", "1", [&](std::error_code ec, AckInfo) { ackError = ec; });
    s.session.request("t", "1", [&](std::error_code ec, const json::value &) { replyError = ec; });
    QCOMPARE(s.session.pendingOperations(), std::size_t(2));
    s.transport.serverClose(1006, "");
    // Lost with the connection: the request fails at once, not left to time out; the publish
    // (it carries an idempotency key) waits to be sent again after the reconnect
    // (tst_clientpublishretry.cpp).
    QVERIFY(!ackError);
    QCOMPARE(s.session.waitingCalls(), std::size_t(1));
    QCOMPARE(replyError, make_error_code(Error::NotConnected));
    QCOMPARE(s.session.pendingOperations(), std::size_t(0));
}

void TestClientSession::closeCancelsPending()
{
    Scripted s;
    s.establish();
    std::vector<std::error_code> results;
    s.session.publish("chat", "m", "1", [&](std::error_code ec, AckInfo) { results.push_back(ec); });
    s.session.request("t", "1", [&](std::error_code ec, const json::value &) { results.push_back(ec); });
    s.session.close();
    QVERIFY(results.empty()); // not inside close()
    QCOMPARE(s.session.pendingOperations(), std::size_t(0));
    s.executor.runPending();
    QCOMPARE(results, (std::vector<std::error_code>{make_error_code(Error::Cancelled), make_error_code(Error::Cancelled)}));
    // The transport's late report of the close changes nothing.
    s.transport.serverClose(1000, "");
    QCOMPARE(results.size(), std::size_t(2));
    QCOMPARE(s.session.state(), ClientState::Closed);
}

void TestClientSession::connectWhilePreviousConnectionCloses()
{
    Scripted s;
    s.establish();
    Recorder closes;
    auto h = s.session.on("close", closes.listener());
    s.session.close();
    s.session.connect(); // one connection at a time: waits for the transport's close report
    QCOMPARE(s.session.state(), ClientState::Connecting);
    QCOMPARE(s.transport.opens, 1);
    s.transport.serverClose(1000, "closed by client");
    QCOMPARE(closes.keys.size(), std::size_t(1));
    QCOMPARE(s.transport.opens, 2);
    s.transport.accept();
    s.welcome("again");
    QCOMPARE(s.session.state(), ClientState::Connected);
    QCOMPARE(s.session.sessionId(), std::string("again"));
}

void TestClientSession::onceListener()
{
    Scripted s;
    s.establish();
    s.session.subscribe("chat");
    s.transport.take();
    int once = 0, always = 0;
    auto h1 = s.session.once("chat.msg", [&](const ClientEvent &) {
        ++once;
        // Re-entrant delivery from inside the listener must not run it again.
        s.transport.feed(message("chat", "msg", "2"));
    });
    auto h2 = s.session.on("chat.msg", [&](const ClientEvent &) { ++always; });
    s.transport.feed(message("chat", "msg", "1"));
    s.transport.feed(message("chat", "msg", "3"));
    QCOMPARE(once, 1);
    QCOMPARE(always, 3);
    h1.reset(); // already spent: harmless

    // once() on a lifecycle key.
    int started = 0;
    auto h3 = s.session.once("session.started", [&](const ClientEvent &) { ++started; });
    s.transport.serverClose(1006);
    s.timer.advance(10'000ms);
    s.transport.accept();
    s.welcome("s2");
    s.transport.serverClose(1006);
    s.timer.advance(10'000ms);
    s.transport.accept();
    s.welcome("s3");
    QCOMPARE(started, 1);
}

void TestClientSession::offInsideDispatch()
{
    Scripted s;
    s.establish();
    s.session.subscribe("chat");
    s.transport.take();
    std::vector<std::string> calls;
    ListenerHandle second;
    ListenerHandle added;
    ListenerHandle first = s.session.on("chat.*", [&](const ClientEvent &) {
        calls.push_back("first");
        second.reset();  // removed before its turn: must not run for this event
        first.reset();   // removing itself while running is allowed
        added = s.session.on("chat.msg", [&](const ClientEvent &) { calls.push_back("added"); });
    });
    second = s.session.on("chat.msg", [&](const ClientEvent &) { calls.push_back("second"); });
    auto third = s.session.on("**", [&](const ClientEvent &) { calls.push_back("third"); });
    s.transport.feed(message("chat", "msg", "1"));
    QCOMPARE(calls, (std::vector<std::string>{"first", "third"})); // added waits for the next event
    calls.clear();
    s.transport.feed(message("chat", "msg", "2"));
    QCOMPARE(calls, (std::vector<std::string>{"third", "added"}));
    QVERIFY(!second.active());
}

void TestClientSession::unsubscribeInsideDispatch()
{
    Scripted s;
    s.establish();
    ClientChannel &ch = s.session.subscribe("feed");
    s.transport.feed(R"({"op":"subscribed","channel":"feed","ackId":)" + ackIdText(s.transport.takeOne())
                     + R"(,"type":"public","epoch":"E","offset":2,"publications":[]})");
    s.transport.serverClose(1006);
    s.timer.advance(10'000ms);
    s.transport.accept();
    s.welcome("s2");
    const json::object sub = s.transport.take().back();
    int seen = 0;
    auto h = s.session.on("feed.*", [&](const ClientEvent &e) {
        ++seen;
        QCOMPARE(e.channel, std::string_view("feed")); // views stay valid after unsubscribe
        s.session.unsubscribe("feed");
        QCOMPARE(e.channel, std::string_view("feed"));
    });
    int stateChanges = 0;
    auto h2 = ch.onStateChanged([&] { ++stateChanges; });
    s.transport.feed(R"({"op":"subscribed","channel":"feed","ackId":)" + ackIdText(sub)
                     + R"(,"type":"public","epoch":"E","offset":5,"recovered":true,"publications":[)"
                       R"({"event":"a","data":3,"offset":3},{"event":"b","data":4,"offset":4},{"event":"c","data":5,"offset":5}]})");
    QCOMPARE(stateChanges, 1);
    QCOMPARE(seen, 1); // the rest of the recovered batch is for a channel we left
    QCOMPARE(s.session.channel("feed"), nullptr);
}

void TestClientSession::handleOutlivesSession()
{
    ListenerHandle handle;
    ListenerHandle stateHandle;
    ListenerHandle channelHandle;
    {
        Scripted s;
        handle = s.session.on("a.b", [](const ClientEvent &) {});
        stateHandle = s.session.onStateChanged([](ClientState) {});
        channelHandle = s.session.subscribe("a").onStateChanged([] {});
        QVERIFY(handle.active());
    }
    handle.reset(); // the session is gone: nothing to remove, nothing crashes
    stateHandle.reset();
    channelHandle.reset();
    QVERIFY(!handle.active());
}

void TestClientSession::wildcardPatterns_data()
{
    QTest::addColumn<QString>("pattern");
    QTest::addColumn<QString>("channel");
    QTest::addColumn<QString>("event");
    QTest::addColumn<bool>("match");
    QTest::newRow("exact") << "chat.msg" << "chat" << "msg" << true;
    QTest::newRow("exact other event") << "chat.msg" << "chat" << "join" << false;
    QTest::newRow("star event") << "chat.*" << "chat" << "msg" << true;
    QTest::newRow("star is one segment") << "chat.*" << "chat.room" << "msg" << false;
    QTest::newRow("star channel") << "*.msg" << "chat" << "msg" << true;
    QTest::newRow("star channel, dotted channel") << "*.msg" << "chat.room" << "msg" << false;
    QTest::newRow("star star") << "*.*" << "chat" << "msg" << true;
    QTest::newRow("star middle") << "chat.*.msg" << "chat.room" << "msg" << true;
    QTest::newRow("star middle, too short") << "chat.*.msg" << "chat" << "msg" << false;
    QTest::newRow("double star one") << "chat.**" << "chat" << "msg" << true;
    QTest::newRow("double star many") << "chat.**" << "chat.room.7" << "msg" << true;
    QTest::newRow("double star needs one") << "chat.msg.**" << "chat" << "msg" << false;
    QTest::newRow("double star all") << "**" << "a.b.c" << "d" << true;
    QTest::newRow("double star other prefix") << "chat.**" << "chatter" << "msg" << false;
    QTest::newRow("prefix only") << "chat" << "chat" << "msg" << false;
    QTest::newRow("longer pattern") << "chat.msg.x" << "chat" << "msg" << false;
    QTest::newRow("dotted channel exact") << "a.b.msg" << "a.b" << "msg" << true;
    QTest::newRow("slashes are not separators") << "*.temp" << "sensors/room-1" << "temp" << true;
    QTest::newRow("presence events") << "presence-room.*" << "presence-room" << "presence:member_added" << true;
    QTest::newRow("invalid: ** not last") << "a.**.msg" << "a.b" << "msg" << false;
    QTest::newRow("invalid: mixed wildcard") << "ch*.msg" << "chat" << "msg" << false;
    QTest::newRow("invalid: empty segment") << "chat..msg" << "chat" << "msg" << false;
    QTest::newRow("invalid: empty") << "" << "chat" << "msg" << false;
    QTest::newRow("invalid: trailing dot") << "chat." << "chat" << "msg" << false;
}

void TestClientSession::wildcardPatterns()
{
    QFETCH(QString, pattern);
    QFETCH(QString, channel);
    QFETCH(QString, event);
    QFETCH(bool, match);
    Scripted s;
    s.establish();
    s.session.subscribe(channel.toStdString());
    s.transport.take();
    int calls = 0;
    auto h = s.session.on(pattern.toStdString(), [&](const ClientEvent &e) {
        ++calls;
        QCOMPARE(e.channel, std::string_view(channel.toStdString()));
        QCOMPARE(e.event, std::string_view(event.toStdString()));
    });
    const bool invalid = QByteArray(QTest::currentDataTag()).startsWith("invalid");
    QCOMPARE(h.active(), !invalid); // an invalid pattern registers nothing
    if (event.startsWith("presence:")) {
        s.transport.feed(R"({"op":"presence","event":")" + event.toStdString() + R"(","channel":")" + channel.toStdString()
                         + R"(","member":{"id":"x","info":null}})");
    } else {
        s.transport.feed(message(channel.toStdString(), event.toStdString(), "null"));
    }
    QCOMPARE(calls, match ? 1 : 0);
}

void TestClientSession::lifecycleNotCaughtByWildcards()
{
    Scripted s;
    Recorder any, session;
    auto h1 = s.session.on("**", any.listener());
    auto h2 = s.session.on("session.*", session.listener());
    s.establish();
    s.transport.feed(R"({"op":"error","code":400,"message":"x"})");
    s.transport.serverClose(1006);
    QVERIFY(any.keys.empty());
    QVERIFY(session.keys.empty());
}

void TestClientSession::binaryMessage()
{
    Scripted s;
    s.establish();
    s.session.subscribe("cam");
    s.transport.take();
    std::string payload;
    bool binary = false;
    auto h = s.session.on("cam.frame", [&](const ClientEvent &e) {
        binary = e.binary;
        payload = std::string(e.binaryData);
    });
    std::string frame("\x01\x00\x03" "cam" "\x00\x05" "frame", 1 + 2 + 3 + 2 + 5);
    frame += std::string("\x00\xff\x10", 3);
    s.transport.feedBinary(frame);
    QVERIFY(binary);
    QCOMPARE(payload, std::string("\x00\xff\x10", 3));

    Recorder errors;
    auto h2 = s.session.on("error", errors.listener());
    s.transport.feedBinary(std::string("\x01\x00\x09" "cam", 6)); // channel length past the end
    QCOMPARE(errors.keys.size(), std::size_t(1));
    QCOMPARE(s.session.lastError(), make_error_code(Error::BadRequest));
}

void TestClientSession::badFramesFromServer()
{
    Scripted s;
    s.establish();
    Recorder errors;
    auto h = s.session.on("error", errors.listener());
    for (std::string_view bad : {"not json", "[1,2]", "{\"op\":", "\"text\""})
        s.transport.feed(bad);
    QCOMPARE(errors.keys.size(), std::size_t(4));
    // Unknown ops and odd fields are ignored, never fatal.
    s.transport.feed(R"({"op":"future-op","x":1})");
    s.transport.feed(R"({"op":"ack","ackId":"not-a-number"})");
    s.transport.feed(R"({"op":"message","channel":5,"event":null})");
    s.transport.feed(R"({"op":"presence","event":"presence:member_added","channel":"nope"})");
    QCOMPARE(errors.keys.size(), std::size_t(4));
    QCOMPARE(s.session.state(), ClientState::Connected);
}

QTEST_APPLESS_MAIN(TestClientSession)
#include "tst_clientsession.moc"
