// ClientSession against a scripted server: the test plays the server frame by frame, in
// virtual time. End-to-end tests over the real server are in tst_clientendtoend.cpp.
#include "ClientTestFixtures.h"

#include <set>

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
    void subscribeQueuedUntilConnected();
    void subscribesFollowConnect();
    void pipelinedSubscribeRefusedAsTooManyIsSentAgain();
    void unsubscribeBeforeWelcome();
    void subscribeRefused();
    void resubscribeWithRecovery();
    void recoveryStrictlyFromGivenPosition();
    void noEpochNoRecovery();
    void presenceRoster();
    void onceListener();
    void offInsideDispatch();
    void unsubscribeInsideDispatch();
    void handleOutlivesSession();
    void wildcardPatterns_data();
    void wildcardPatterns();
    void lifecycleNotCaughtByWildcards();
    void binaryMessage();
    void badFramesFromServer();
    void pingAnswered();
    void heartbeat();
    void roundTrip_data();
    void roundTrip();
    void roundTripIgnoresOtherPongs();
    void roundTripTimeout();
    void roundTripNotConnected();
    void roundTripConnectionLost();
    void roundTripCancelledOnClose();
    void heartbeatMeasuresRoundTrip();
    void manualTimerPreciseClock();
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

void TestClientSession::subscribeQueuedUntilConnected()
{
    Scripted s;
    ClientChannel &news = s.session.subscribe("news");
    QCOMPARE(&s.session.subscribe("news"), &news); // one object per name
    QCOMPARE(s.session.channel("news"), &news);
    QVERIFY(!news.subscribed());
    s.session.connect();
    s.transport.accept();
    // The subscribe goes right behind connect; welcome sends nothing more.
    std::vector<json::object> opening = s.transport.take();
    QCOMPARE(opening.size(), std::size_t(2));
    QCOMPARE(str(opening[0], "op"), std::string("connect"));
    const json::object sub = opening[1];
    QCOMPARE(str(sub, "op"), std::string("subscribe"));
    QCOMPARE(str(sub, "channel"), std::string("news"));
    QVERIFY(!sub.contains("recover")); // nothing to recover yet
    s.welcome("s1");
    QVERIFY(s.transport.take().empty());
    int changes = 0;
    auto h = news.onStateChanged([&] { ++changes; });
    s.transport.feed(R"({"op":"subscribed","channel":"news","ackId":)" + ackIdText(sub)
                     + R"(,"type":"public","epoch":"e1","offset":5,"publications":[]})");
    QVERIFY(news.subscribed());
    QVERIFY(!news.recovered()); // no recovery was asked
    QCOMPARE(news.position(), (StreamPosition{5, "e1"}));
    QCOMPARE(changes, 1);

    // Subscribing while connected sends at once.
    s.session.subscribe("sport", SubscribeOptions{"sig", R"({"user_id":"u"})", true});
    const json::object sport = s.transport.takeOne();
    QCOMPARE(str(sport, "channel"), std::string("sport"));
    QCOMPARE(str(sport, "auth"), std::string("sig"));
    QCOMPARE(str(sport.at("channelData").as_object(), "user_id"), std::string("u"));

    s.session.unsubscribe("news");
    QCOMPARE(s.session.channel("news"), nullptr);
    const json::object unsub = s.transport.takeOne();
    QCOMPARE(str(unsub, "op"), std::string("unsubscribe"));
    QCOMPARE(str(unsub, "channel"), std::string("news"));
    // Messages for a channel we left are not delivered; its late answers raise nothing.
    Recorder rec, errors;
    auto h1 = s.session.on("news.*", rec.listener());
    auto h2 = s.session.on("error", errors.listener());
    s.transport.feed(message("news", "m", "1", 6));
    s.transport.feed(R"({"op":"unsubscribed","channel":"news","ackId":)" + ackIdText(unsub) + "}");
    QVERIFY(rec.keys.empty());
    QVERIFY(errors.keys.empty());
}

void TestClientSession::subscribesFollowConnect()
{
    ClientOptions options;
    options.ackTimeout = 2'000ms;
    options.connectTimeout = 10'000ms;
    Scripted s(options);
    Recorder errors;
    auto h = s.session.on("error", errors.listener());
    // Ten channels, one of them with more channel data than the pipelined bytes allow.
    std::vector<std::string> names;
    for (int i = 0; i < 9; ++i)
        names.push_back("ch" + std::to_string(i));
    for (const std::string &name : names)
        s.session.subscribe(name);
    const std::string bulky(kPipelinedSubscribeBytes + 1, 'x');
    s.session.subscribe("bulky", SubscribeOptions{"", "\"" + bulky + "\""});
    s.session.connect();
    s.transport.accept();
    std::vector<json::object> opening = s.transport.take();
    QCOMPARE(opening.size(), kPipelinedSubscribes + 1);
    QCOMPARE(str(opening[0], "op"), std::string("connect"));
    std::set<std::string> early;
    for (std::size_t i = 1; i < opening.size(); ++i) {
        QCOMPARE(str(opening[i], "op"), std::string("subscribe"));
        early.insert(str(opening[i], "channel"));
    }
    QVERIFY(!early.contains("bulky"));

    // The server takes longer than the ack timeout to welcome: the subscribes sent before it
    // wait for the connection too, and do not time out meanwhile.
    s.timer.advance(options.ackTimeout + 1'000ms);
    QVERIFY(errors.keys.empty());
    s.welcome("s1");
    std::vector<json::object> late = s.transport.take();
    QCOMPARE(late.size(), names.size() + 1 - kPipelinedSubscribes);
    for (const json::object &frame : late) {
        QCOMPARE(str(frame, "op"), std::string("subscribe"));
        QVERIFY(!early.contains(str(frame, "channel")));
    }
    for (std::size_t i = 1; i < opening.size(); ++i)
        s.transport.feed(R"({"op":"subscribed","channel":")" + str(opening[i], "channel") + R"(","ackId":)"
                         + ackIdText(opening[i]) + R"(,"type":"public","epoch":"","offset":0})");
    for (const json::object &frame : late)
        s.transport.feed(R"({"op":"subscribed","channel":")" + str(frame, "channel") + R"(","ackId":)"
                         + ackIdText(frame) + R"(,"type":"public","epoch":"","offset":0})");
    for (const std::string &name : names)
        QVERIFY2(s.session.channel(name)->subscribed(), name.c_str());
    QVERIFY(s.session.channel("bulky")->subscribed());
    QVERIFY(errors.keys.empty());

    // A subscribe sent before welcome still times out when nothing answers it: after the ack
    // timeout and the connect timeout.
    ClientChannel *quiet = nullptr;
    {
        Scripted q(options);
        quiet = &q.session.subscribe("quiet");
        q.session.connect();
        q.transport.accept();
        QCOMPARE(q.transport.take().size(), std::size_t(2));
        q.welcome("s2");
        q.timer.advance(options.ackTimeout + options.connectTimeout - 1ms);
        QCOMPARE(quiet->lastError(), std::error_code());
        q.timer.advance(1ms);
        QCOMPARE(quiet->lastError(), make_error_code(Error::Timeout));
    }
}

void TestClientSession::pipelinedSubscribeRefusedAsTooManyIsSentAgain()
{
    Scripted s;
    Recorder errors;
    auto h = s.session.on("error", errors.listener());
    ClientChannel &a = s.session.subscribe("a");
    ClientChannel &b = s.session.subscribe("b");
    s.session.connect();
    s.transport.accept();
    std::vector<json::object> opening = s.transport.take();
    QCOMPARE(opening.size(), std::size_t(3));
    // A server that keeps one frame while it authenticates refuses the second.
    const json::object &refused = str(opening[1], "channel") == "b" ? opening[1] : opening[2];
    const json::object &kept = str(opening[1], "channel") == "b" ? opening[2] : opening[1];
    s.transport.feed(R"({"op":"error","code":429,"message":"too many frames before welcome","ackId":)"
                     + ackIdText(refused) + "}");
    QVERIFY(errors.keys.empty());
    QCOMPARE(b.lastError(), std::error_code());
    s.welcome("s1");
    const json::object again = s.transport.takeOne();
    QCOMPARE(str(again, "op"), std::string("subscribe"));
    QCOMPARE(str(again, "channel"), std::string("b"));
    s.transport.feed(R"({"op":"subscribed","channel":"a","ackId":)" + ackIdText(kept) + R"(,"type":"public","offset":0})");
    s.transport.feed(R"({"op":"subscribed","channel":"b","ackId":)" + ackIdText(again) + R"(,"type":"public","offset":0})");
    QVERIFY(a.subscribed());
    QVERIFY(b.subscribed());
    QVERIFY(errors.keys.empty());

    // After welcome, 429 is the channel's error.
    ClientChannel &c = s.session.subscribe("c");
    const json::object sub = s.transport.takeOne();
    s.transport.feed(R"({"op":"error","code":429,"message":"rate limited","ackId":)" + ackIdText(sub) + "}");
    QCOMPARE(c.lastError(), make_error_code(Error::RateLimited));
    QCOMPARE(errors.keys.size(), std::size_t(1));
}

void TestClientSession::unsubscribeBeforeWelcome()
{
    Scripted s;
    s.session.subscribe("news");
    s.session.connect();
    s.transport.accept();
    std::vector<json::object> opening = s.transport.take();
    QCOMPARE(opening.size(), std::size_t(2));
    // The server handles the subscribe after welcome: leaving before it must tell the server.
    s.session.unsubscribe("news");
    const json::object unsub = s.transport.takeOne();
    QCOMPARE(str(unsub, "op"), std::string("unsubscribe"));
    QCOMPARE(str(unsub, "channel"), std::string("news"));
    s.welcome("s1");
    QVERIFY(s.transport.take().empty());
}

void TestClientSession::subscribeRefused()
{
    Scripted s;
    s.establish();
    Recorder errors;
    auto h = s.session.on("error", errors.listener());
    ClientChannel &secret = s.session.subscribe("private-x");
    const json::object sub = s.transport.takeOne();
    s.transport.feed(R"({"op":"error","code":401,"message":"unauthorized","channel":"private-x","ackId":)" + ackIdText(sub) + "}");
    QVERIFY(!secret.subscribed());
    QCOMPARE(secret.lastError(), make_error_code(Error::Unauthorized));
    QCOMPARE(errors.keys.size(), std::size_t(1));

    // No answer at all: the subscribe times out on the channel.
    ClientChannel &silent = s.session.subscribe("quiet");
    s.transport.take();
    s.timer.advance(5'000ms);
    QCOMPARE(silent.lastError(), make_error_code(Error::Timeout));
    QCOMPARE(s.session.pendingOperations(), std::size_t(0)); // subscribes are not counted
}

void TestClientSession::resubscribeWithRecovery()
{
    Scripted s;
    s.establish();
    ClientChannel &ch = s.session.subscribe("feed");
    s.transport.feed(R"({"op":"subscribed","channel":"feed","ackId":)" + ackIdText(s.transport.takeOne())
                     + R"(,"type":"public","epoch":"E","offset":10,"publications":[]})");
    Recorder rec;
    auto h = s.session.on("feed.*", rec.listener());
    s.transport.feed(message("feed", "tick", "11", 11));
    s.transport.feed(message("feed", "tick", "12", 12));
    QCOMPARE(ch.position(), (StreamPosition{12, "E"}));

    s.transport.serverClose(3001, "slow consumer");
    QVERIFY(!ch.subscribed());
    QCOMPARE(ch.position(), (StreamPosition{12, "E"})); // kept for recovery
    s.timer.advance(10'000ms);
    s.acceptAndWelcome("s2");
    const json::object sub = s.transport.takeOne();
    QCOMPARE(str(sub, "op"), std::string("subscribe"));
    const json::object recover = sub.at("recover").as_object();
    QCOMPARE(num(recover, "offset"), std::int64_t(12));
    QCOMPARE(str(recover, "epoch"), std::string("E"));

    // Missed publications come first, in order; a live duplicate of one of them is dropped.
    s.transport.feed(R"({"op":"subscribed","channel":"feed","ackId":)" + ackIdText(sub)
                     + R"(,"type":"public","epoch":"E","offset":14,"recovered":true,"publications":[)"
                       R"({"channel":"feed","event":"tick","data":13,"offset":13,"ts":1},)"
                       R"({"channel":"feed","event":"tick","data":14,"offset":14,"ts":1}]})");
    QVERIFY(ch.subscribed());
    QVERIFY(ch.recovered());
    s.transport.feed(message("feed", "tick", "14", 14));
    s.transport.feed(message("feed", "tick", "15", 15));
    QCOMPARE(rec.offsets, (std::vector<std::uint64_t>{11, 12, 13, 14, 15}));
    QCOMPARE(rec.data, (std::vector<std::string>{"11", "12", "13", "14", "15"}));
    QCOMPARE(ch.position(), (StreamPosition{15, "E"}));

    // A subscribe with recover = false never asks.
    s.session.subscribe("fresh", SubscribeOptions{{}, {}, false});
    s.transport.feed(R"({"op":"subscribed","channel":"fresh","ackId":)" + ackIdText(s.transport.takeOne())
                     + R"(,"type":"public","epoch":"F","offset":3,"publications":[]})");
    s.transport.serverClose(1006);
    s.timer.advance(10'000ms);
    s.acceptAndWelcome("s3");
    for (const json::object &f : s.transport.take()) {
        if (str(f, "channel") == "fresh")
            QVERIFY(!f.contains("recover"));
        else
            QCOMPARE(num(f.at("recover").as_object(), "offset"), std::int64_t(15));
    }
}

void TestClientSession::recoveryStrictlyFromGivenPosition()
{
    // The epoch comes with the first subscribed (offset 0: nothing published yet).
    Scripted s;
    s.establish();
    ClientChannel &ch = s.session.subscribe("feed");
    s.transport.feed(R"({"op":"subscribed","channel":"feed","ackId":)" + ackIdText(s.transport.takeOne())
                     + R"(,"type":"public","epoch":"E0","offset":0,"publications":[]})");
    QCOMPARE(ch.position(), (StreamPosition{0, "E0"}));
    Recorder rec;
    auto h = s.session.on("feed.*", rec.listener());
    s.transport.feed(message("feed", "tick", "1", 1));
    s.transport.feed(message("feed", "tick", "2", 2));
    s.transport.feed(message("feed", "tick", "3", 3));

    s.transport.serverClose(1006);
    s.timer.advance(10'000ms);
    s.acceptAndWelcome("s2");
    const json::object sub = s.transport.takeOne();
    const json::object recover = sub.at("recover").as_object();
    QCOMPARE(num(recover, "offset"), std::int64_t(3)); // exactly what was seen, never {0, ""}
    QCOMPARE(str(recover, "epoch"), std::string("E0"));

    // The stream was recreated meanwhile: not recovered, and the new stream's offsets, lower
    // than the old ones, are all delivered.
    s.transport.feed(R"({"op":"subscribed","channel":"feed","ackId":)" + ackIdText(sub)
                     + R"(,"type":"public","epoch":"E1","offset":1,"recovered":false,"publications":[]})");
    QVERIFY(ch.subscribed());
    QVERIFY(!ch.recovered());
    QCOMPARE(ch.position(), (StreamPosition{1, "E1"}));
    s.transport.feed(message("feed", "tick", "20", 2));
    s.transport.feed(message("feed", "tick", "30", 3));
    QCOMPARE(rec.offsets, (std::vector<std::uint64_t>{1, 2, 3, 2, 3}));
    QCOMPARE(ch.position(), (StreamPosition{3, "E1"}));
}

void TestClientSession::noEpochNoRecovery()
{
    // An empty epoch: the channel keeps no history. The client never asks to recover it and
    // reports every resubscribe as not recovered.
    Scripted s;
    s.establish();
    ClientChannel &ch = s.session.subscribe("live");
    s.transport.feed(R"({"op":"subscribed","channel":"live","ackId":)" + ackIdText(s.transport.takeOne())
                     + R"(,"type":"public","epoch":"","offset":0,"publications":[]})");
    Recorder rec;
    auto h = s.session.on("live.*", rec.listener());
    s.transport.feed(message("live", "tick", "1"));
    QCOMPARE(ch.position(), (StreamPosition{0, ""}));

    s.transport.serverClose(1006);
    s.timer.advance(10'000ms);
    s.acceptAndWelcome("s2");
    const json::object sub = s.transport.takeOne();
    QCOMPARE(str(sub, "op"), std::string("subscribe"));
    QVERIFY(!sub.contains("recover"));
    // Even a server that claims recovery is not believed for a subscribe that did not ask.
    s.transport.feed(R"({"op":"subscribed","channel":"live","ackId":)" + ackIdText(sub)
                     + R"(,"type":"public","epoch":"","offset":0,"recovered":true,"publications":[]})");
    QVERIFY(ch.subscribed());
    QVERIFY(!ch.recovered());
    s.transport.feed(message("live", "tick", "2"));
    QCOMPARE(rec.data, (std::vector<std::string>{"1", "2"}));
}

void TestClientSession::presenceRoster()
{
    Scripted s;
    s.establish();
    ClientChannel &room = s.session.subscribe("presence-room");
    s.transport.feed(R"({"op":"subscribed","channel":"presence-room","ackId":)" + ackIdText(s.transport.takeOne())
                     + R"(,"type":"presence","epoch":"E","offset":0,"publications":[]})");
    std::vector<std::string> changes;
    auto h = room.onPresenceChanged([&](std::string_view kind, const Member &m) {
        changes.push_back(std::string(kind) + ":" + m.userId);
    });
    Recorder rec;
    auto h2 = s.session.on("presence-room.*", rec.listener());
    s.transport.feed(R"({"op":"presence","event":"presence:subscription_succeeded","channel":"presence-room",)"
                     R"("members":[{"id":"alice","info":{"name":"Alice"}},{"id":"me","info":null}]})");
    QCOMPARE(room.members().size(), std::size_t(2));
    QCOMPARE(room.members()[0].userId, std::string("alice"));
    QCOMPARE(room.members()[0].info, std::string(R"({"name":"Alice"})"));
    s.transport.feed(R"({"op":"presence","event":"presence:member_added","channel":"presence-room","member":{"id":"bob","info":{}}})");
    QCOMPARE(room.members().size(), std::size_t(3));
    s.transport.feed(R"({"op":"presence","event":"presence:member_removed","channel":"presence-room","member":{"id":"alice","info":null}})");
    QCOMPARE(room.members().size(), std::size_t(2));
    QCOMPARE(room.members()[0].userId, std::string("me"));
    QCOMPARE(room.members()[1].userId, std::string("bob"));
    QCOMPARE(changes, (std::vector<std::string>{"subscription_succeeded:", "member_added:bob", "member_removed:alice"}));
    QCOMPARE(rec.keys, (std::vector<std::string>{"presence-room.presence:subscription_succeeded",
                                                 "presence-room.presence:member_added",
                                                 "presence-room.presence:member_removed"}));
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

void TestClientSession::pingAnswered()
{
    Scripted s;
    s.establish();
    s.transport.feed(R"({"op":"ping"})");
    QCOMPARE(str(s.transport.takeOne(), "op"), std::string("pong"));
}

void TestClientSession::heartbeat()
{
    ClientOptions options;
    options.pongTimeout = 2'000ms;
    options.backoff = BackoffOptions{100ms, 100ms, 2.0, 0.0};
    Scripted s(options);
    Recorder errors;
    auto h = s.session.on("error", errors.listener());
    s.session.connect();
    s.transport.accept();
    s.transport.take();
    s.transport.feed(R"({"op":"welcome","session":"s1","version":1,"ping":10000,"user":""})");

    s.timer.advance(9'999ms); // quiet, but not for a whole interval yet
    QVERIFY(s.transport.sent.empty());
    s.timer.advance(1ms);
    QCOMPARE(str(s.transport.takeOne(), "op"), std::string("ping"));
    s.timer.advance(1'000ms);
    s.transport.feed(R"({"op":"pong"})"); // alive
    s.timer.advance(9'999ms);
    QVERIFY(s.transport.sent.empty());
    QVERIFY(s.transport.closeRequests.empty());
    s.timer.advance(1ms); // a full interval after the pong
    QCOMPARE(str(s.transport.takeOne(), "op"), std::string("ping"));

    // No answer: the connection is dead although the transport did not say so.
    s.timer.advance(1'999ms);
    QVERIFY(s.transport.closeRequests.empty());
    s.timer.advance(1ms);
    QCOMPARE(s.transport.closeRequests, std::vector<std::uint16_t>{3002});
    s.transport.serverClose(3002, "no pong");
    QCOMPARE(s.session.state(), ClientState::Reconnecting);
    QCOMPARE(s.session.lastError(), make_error_code(Error::Timeout));
    QCOMPARE(errors.keys.size(), std::size_t(1));
    s.timer.advance(100ms);
    QCOMPARE(s.transport.opens, 2);

    // ping 0 in welcome: no heartbeat at all.
    s.transport.accept();
    s.transport.take();
    s.transport.feed(R"({"op":"welcome","session":"s2","version":1,"ping":0,"user":""})");
    s.timer.advance(600'000ms);
    QVERIFY(s.transport.sent.empty());
    QCOMPARE(s.session.state(), ClientState::Connected);
}

// ---- round trip ----

namespace {

/// What a ping() completion reported.
struct PingResult {
    auto callback()
    {
        return [this](std::error_code e, std::chrono::microseconds t) {
            ++calls;
            error = e;
            rtt = t;
        };
    }
    int calls = 0;
    std::error_code error = make_error_code(Error::BadRequest); // neither success nor a ping error
    std::chrono::microseconds rtt{-1};
};

std::string pongFor(const json::object &ping)
{
    return R"({"op":"pong","ackId":)" + ackIdText(ping) + "}";
}

} // namespace

void TestClientSession::roundTrip_data()
{
    QTest::addColumn<qint64>("delayUs");
    QTest::addColumn<bool>("ackIdAsText"); // a server may echo the ackId as a string
    QTest::newRow("same instant") << qint64(0) << false;
    QTest::newRow("sub-millisecond") << qint64(250) << false;
    QTest::newRow("across a millisecond") << qint64(1'750) << false;
    QTest::newRow("seconds") << qint64(3'000'017) << false;
    QTest::newRow("ackId echoed as text") << qint64(420) << true;
}

void TestClientSession::roundTrip()
{
    QFETCH(qint64, delayUs);
    QFETCH(bool, ackIdAsText);
    Scripted s;
    s.establish();
    s.timer.advancePrecise(123us); // start between two whole milliseconds
    const std::size_t timersBefore = s.timer.pendingCount();

    PingResult result;
    s.session.ping(result.callback());
    const json::object ping = s.transport.takeOne();
    QCOMPARE(str(ping, "op"), std::string("ping"));
    const std::int64_t id = num(ping, "ackId");
    QVERIFY(id > 0);
    QCOMPARE(s.session.pendingOperations(), std::size_t(0)); // pings are not acks or replies
    QCOMPARE(s.timer.pendingCount(), timersBefore + 1);
    QVERIFY(!s.session.lastRoundTrip());

    s.timer.advancePrecise(std::chrono::microseconds(delayUs));
    QCOMPARE(result.calls, 0);
    const std::string pong = ackIdAsText ? R"({"op":"pong","ackId":")" + std::to_string(id) + R"("})" : pongFor(ping);
    s.transport.feed(pong);
    QCOMPARE(result.calls, 1);
    QCOMPARE(result.error, std::error_code());
    QCOMPARE(result.rtt.count(), delayUs);
    QVERIFY(s.session.lastRoundTrip());
    QCOMPARE(s.session.lastRoundTrip()->count(), delayUs);
    QCOMPARE(s.timer.pendingCount(), timersBefore); // its deadline is gone

    // The same pong again, and the deadline passing, change nothing.
    s.transport.feed(pong);
    s.timer.advance(10s);
    QCOMPARE(result.calls, 1);
    QCOMPARE(s.session.lastRoundTrip()->count(), delayUs);
    QCOMPARE(s.executor.pendingCount(), std::size_t(0));
    QCOMPARE(s.session.state(), ClientState::Connected);
}

void TestClientSession::roundTripIgnoresOtherPongs()
{
    Scripted s;
    s.establish();
    bool acked = false;
    s.session.publish("news", "post", "1", [&](std::error_code, AckInfo) { acked = true; });
    const json::object publish = s.transport.takeOne();

    PingResult result;
    s.session.ping(result.callback());
    const json::object ping = s.transport.takeOne();
    const std::int64_t id = num(ping, "ackId");
    s.timer.advance(5ms);
    s.transport.feed(R"({"op":"pong"})");                                        // no ackId
    s.transport.feed(R"({"op":"pong","ackId":)" + std::to_string(id + 1) + "}");  // not issued
    s.transport.feed(R"({"op":"pong","ackId":"rtt-)" + std::to_string(id) + R"("})");
    s.transport.feed(R"({"op":"pong","ackId":)" + ackIdText(publish) + "}");      // the publish's id
    s.transport.feed(R"({"op":"ack","ackId":)" + ackIdText(ping) + "}");          // not a pong
    QCOMPARE(result.calls, 0);
    QVERIFY(!acked);
    QCOMPARE(s.session.pendingOperations(), std::size_t(1)); // the publish still waits
    QVERIFY(!s.session.lastRoundTrip());

    s.timer.advance(2ms);
    s.transport.feed(pongFor(ping));
    QCOMPARE(result.calls, 1);
    QCOMPARE(result.error, std::error_code());
    QCOMPARE(result.rtt, std::chrono::microseconds(7'000));
    QVERIFY(!acked);
}

void TestClientSession::roundTripTimeout()
{
    ClientOptions options;
    options.pongTimeout = 2'000ms;
    Scripted s(options);
    s.establish();
    const std::size_t timersBefore = s.timer.pendingCount();

    PingResult explicitTimeout;
    s.session.ping(explicitTimeout.callback(), 300ms);
    const json::object first = s.transport.takeOne();
    s.timer.advance(299ms);
    QCOMPARE(explicitTimeout.calls, 0);
    s.timer.advance(1ms);
    QCOMPARE(explicitTimeout.calls, 1);
    QCOMPARE(explicitTimeout.error, make_error_code(Error::Timeout));
    QCOMPARE(explicitTimeout.rtt, std::chrono::microseconds(0));
    QCOMPARE(s.timer.pendingCount(), timersBefore);
    s.transport.feed(pongFor(first)); // too late: ignored
    QCOMPARE(explicitTimeout.calls, 1);
    QVERIFY(!s.session.lastRoundTrip());

    PingResult defaultTimeout; // pongTimeout
    s.session.ping(defaultTimeout.callback());
    s.transport.take();
    s.timer.advance(1'999ms);
    QCOMPARE(defaultTimeout.calls, 0);
    s.timer.advance(1ms);
    QCOMPARE(defaultTimeout.calls, 1);
    QCOMPARE(defaultTimeout.error, make_error_code(Error::Timeout));
    QCOMPARE(s.timer.pendingCount(), timersBefore);
    QCOMPARE(s.session.state(), ClientState::Connected); // a lost probe is not a lost connection
}

void TestClientSession::roundTripNotConnected()
{
    ClientOptions options;
    options.failFast = true; // without it a ping waits while connecting (tst_clientwaitingcalls)
    Scripted s(options);
    PingResult idle;
    s.session.ping(idle.callback());
    QCOMPARE(idle.calls, 0); // never inside the call
    s.executor.runPending();
    QCOMPARE(idle.calls, 1);
    QCOMPARE(idle.error, make_error_code(Error::NotConnected));
    QCOMPARE(idle.rtt, std::chrono::microseconds(0));

    s.session.connect();
    s.transport.accept();
    s.transport.take();
    PingResult beforeWelcome;
    s.session.ping(beforeWelcome.callback());
    QVERIFY(s.transport.sent.empty());
    s.executor.runPending();
    QCOMPARE(beforeWelcome.calls, 1);
    QCOMPARE(beforeWelcome.error, make_error_code(Error::NotConnected));
    s.session.ping(); // no callback: nothing to run, nothing sent
    QVERIFY(s.transport.sent.empty());
    QCOMPARE(s.executor.pendingCount(), std::size_t(0));
}

void TestClientSession::roundTripConnectionLost()
{
    Scripted s;
    s.establish();
    const std::size_t timersBefore = s.timer.pendingCount();
    PingResult result;
    s.session.ping(result.callback());
    const json::object ping = s.transport.takeOne();
    s.transport.serverClose(1006, "reset");
    QCOMPARE(result.calls, 1);
    QCOMPARE(result.error, make_error_code(Error::NotConnected));
    QCOMPARE(s.timer.pendingCount(), timersBefore); // the ping's deadline and the heartbeat gone, the retry timer there

    s.timer.advance(10'000ms);
    s.acceptAndWelcome("s2");
    s.transport.feed(pongFor(ping)); // an answer meant for the old connection
    QCOMPARE(result.calls, 1);
    QVERIFY(!s.session.lastRoundTrip());
}

void TestClientSession::roundTripCancelledOnClose()
{
    {
        Scripted s;
        s.establish();
        PingResult result;
        s.session.ping(result.callback());
        const json::object ping = s.transport.takeOne();
        s.session.close();
        QCOMPARE(result.calls, 0); // never inside close()
        s.executor.runPending();
        QCOMPARE(result.calls, 1);
        QCOMPARE(result.error, make_error_code(Error::Cancelled));
        QCOMPARE(result.rtt, std::chrono::microseconds(0));
        s.transport.feed(pongFor(ping));
        QCOMPARE(result.calls, 1);
    }
    {
        // The cancellation may run after the session is gone: it only calls the user's callback.
        ScriptedTransport transport;
        ManualTimer timer;
        QueueExecutor executor;
        PingResult result;
        auto session = std::make_unique<ClientSession>(transport, executor, timer);
        session->connect();
        transport.accept();
        transport.feed(R"({"op":"welcome","session":"s1","version":1,"ping":25000,"user":""})");
        session->ping(result.callback());
        session->close();
        session.reset();
        QCOMPARE(timer.pendingCount(), std::size_t(0));
        executor.runPending();
        QCOMPARE(result.calls, 1);
        QCOMPARE(result.error, make_error_code(Error::Cancelled));
    }
}

void TestClientSession::heartbeatMeasuresRoundTrip()
{
    Scripted s;
    s.session.connect();
    s.transport.accept();
    s.transport.take();
    s.transport.feed(R"({"op":"welcome","session":"s1","version":1,"ping":10000,"user":""})");
    s.timer.advance(10'000ms);
    const json::object ping = s.transport.takeOne();
    QCOMPARE(str(ping, "op"), std::string("ping"));
    QVERIFY(num(ping, "ackId") > 0);
    QCOMPARE(s.session.pendingOperations(), std::size_t(0));
    s.timer.advancePrecise(1'500us);
    s.transport.feed(pongFor(ping));
    QVERIFY(s.session.lastRoundTrip());
    QCOMPARE(*s.session.lastRoundTrip(), std::chrono::microseconds(1'500));
    s.transport.feed(pongFor(ping)); // a duplicate is not a second measurement
    QCOMPARE(*s.session.lastRoundTrip(), std::chrono::microseconds(1'500));

    // The next heartbeat measures again; a heartbeat and ping() in flight together do not mix.
    PingResult probe;
    s.timer.advance(10'000ms);
    const json::object second = s.transport.takeOne();
    s.session.ping(probe.callback());
    const json::object third = s.transport.takeOne();
    QVERIFY(num(third, "ackId") != num(second, "ackId"));
    s.timer.advance(3ms);
    s.transport.feed(pongFor(third));
    QCOMPARE(probe.rtt, std::chrono::microseconds(3'000));
    QCOMPARE(*s.session.lastRoundTrip(), std::chrono::microseconds(3'000));
    s.timer.advance(1ms);
    s.transport.feed(pongFor(second)); // sent on the whole millisecond the heartbeat fired
    QCOMPARE(*s.session.lastRoundTrip(), std::chrono::microseconds(4'500));
    QCOMPARE(probe.calls, 1);
    QVERIFY(s.transport.closeRequests.empty());
}

void TestClientSession::manualTimerPreciseClock()
{
    ManualTimer timer;
    std::vector<std::chrono::microseconds> firedAt;
    timer.start(2ms, [&] { firedAt.push_back(timer.nowPrecise()); });
    timer.advancePrecise(1'400us);
    QCOMPARE(timer.now(), 1ms);
    QCOMPARE(timer.nowPrecise(), std::chrono::microseconds(1'400));
    QVERIFY(firedAt.empty());
    timer.advancePrecise(700us); // crosses 2 ms: the timer fires on its whole millisecond
    QCOMPARE(firedAt, std::vector<std::chrono::microseconds>{2'000us});
    QCOMPARE(timer.now(), 2ms);
    QCOMPARE(timer.nowPrecise(), std::chrono::microseconds(2'100));
    timer.advance(3ms); // whole milliseconds keep the fraction
    QCOMPARE(timer.nowPrecise(), std::chrono::microseconds(5'100));
    timer.start(0ms, [&] { firedAt.push_back(timer.nowPrecise()); });
    timer.advance(0ms); // due now: time does not go back to the whole millisecond
    QCOMPARE(firedAt.back(), std::chrono::microseconds(5'100));
}

QTEST_APPLESS_MAIN(TestClientSession)
#include "tst_clientsession.moc"
