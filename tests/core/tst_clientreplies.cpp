// Replies between clients on the client side (publishForReply, ClientEvent::replyTo, reply) and
// waitFor(), against a scripted server in virtual time.
#include "ClientTestFixtures.h"

using namespace switchboard;
using namespace switchboard::clienttest;

namespace {

/// What a publishForReply completion saw.
struct ReplyRecord {
    int calls = 0;
    std::error_code error;
    std::uint64_t offset = 0;
    std::string payload;
    std::string from;

    std::function<void(std::error_code, const PublishReply &)> callback()
    {
        return [this](std::error_code ec, const PublishReply &r) {
            ++calls;
            error = ec;
            offset = r.offset;
            payload = json::serialize(r.payload);
            from = std::string(r.from);
        };
    }
};

/// What a waitFor completion saw.
struct WaitRecord {
    int calls = 0;
    std::error_code error;
    std::string key;
    std::string data;

    std::function<void(std::error_code, const ClientEvent *)> callback()
    {
        return [this](std::error_code ec, const ClientEvent *e) {
            ++calls;
            error = ec;
            key = e ? std::string(e->key) : std::string("<none>");
            data = e ? json::serialize(e->data) : std::string();
        };
    }
};

std::string replyFrame(const json::object &publish, std::string_view topic, std::string_view payload, std::string_view from)
{
    return R"({"op":"reply","topic":")" + std::string(topic) + R"(","payload":)" + std::string(payload)
        + R"(,"ackId":)" + ackIdText(publish) + R"(,"from":")" + std::string(from) + R"("})";
}

} // namespace

class TestClientReplies : public QObject {
    Q_OBJECT

private slots:
    void publishForReplyGetsAckThenReply();
    void replyBeforeAckCompletesAtOnce();
    void timeoutCoversAckAndReply();
    void refusedPublishFailsWithTheServersCode();
    void replyOnAChannelNamedErrorIsNotAnErrorReply();
    void lostConnectionAndCloseFailTheWait();
    void publishForReplyWaitsForTheConnection();
    void messageCarriesReplyTo();
    void replySendsTheTokenAndGetsItsAck();
    void replyRefusedUpFrontFromTheExecutor();
    void replyWithoutCallbackReportsExpiry();
    void waitForTheNextMatchingEvent();
    void waitForTimesOut();
    void waitForInvalidPattern();
    void waitForLifecycleAndAcrossReconnects();
    void closeCancelsWaits();
    void finalServerCloseCancelsWaitsAfterItsEvents();
    void destroyingTheSessionDropsWaits();
    void e2eReplyThroughTheHub();
};

void TestClientReplies::publishForReplyGetsAckThenReply()
{
    Scripted s;
    s.establish();
    ReplyRecord r;
    s.session.publishForReply("chat", "question", R"({"q":"time?"})", r.callback());
    const json::object frame = s.transport.takeOne();
    QCOMPARE(str(frame, "op"), std::string("publish"));
    QCOMPARE(str(frame, "channel"), std::string("chat"));
    QVERIFY(frame.at("wantReply").as_bool());
    QVERIFY(frame.contains("ackId"));
    QCOMPARE(s.session.pendingOperations(), std::size_t(1));

    s.transport.feed(R"({"op":"ack","ackId":)" + ackIdText(frame) + R"(,"offset":5})");
    QCOMPARE(r.calls, 0); // the ack alone does not complete it
    QCOMPARE(s.session.pendingOperations(), std::size_t(1));

    s.transport.feed(replyFrame(frame, "chat", R"({"t":12})", "s2"));
    QCOMPARE(r.calls, 1);
    QVERIFY(!r.error);
    QCOMPARE(r.offset, std::uint64_t(5));
    QCOMPARE(r.payload, std::string(R"({"t":12})"));
    QCOMPARE(r.from, std::string("s2"));
    QCOMPARE(s.session.pendingOperations(), std::size_t(0));

    // A second reply for the same publish (the gateway sends only the first) changes nothing.
    s.transport.feed(replyFrame(frame, "chat", "2", "s3"));
    QCOMPARE(r.calls, 1);
}

void TestClientReplies::replyBeforeAckCompletesAtOnce()
{
    Scripted s;
    s.establish();
    Recorder errors;
    auto h = s.session.on("error", errors.listener());
    ReplyRecord r;
    s.session.publishForReply("chat", "q", "1", r.callback());
    const json::object frame = s.transport.takeOne();
    s.transport.feed(replyFrame(frame, "chat", R"("first")", "s2"));
    QCOMPARE(r.calls, 1);
    QVERIFY(!r.error);
    QCOMPARE(r.offset, std::uint64_t(0));
    QCOMPARE(r.payload, std::string(R"("first")"));
    s.transport.feed(R"({"op":"ack","ackId":)" + ackIdText(frame) + R"(,"offset":9})");
    QCOMPARE(r.calls, 1);
    QVERIFY(errors.keys.empty());
}

void TestClientReplies::timeoutCoversAckAndReply()
{
    Scripted s;
    s.establish();
    ReplyRecord r;
    PublishOptions options;
    options.timeout = 2s;
    s.session.publishForReply("chat", "q", "1", r.callback(), options);
    const json::object frame = s.transport.takeOne();
    s.timer.advance(1s);
    s.transport.feed(R"({"op":"ack","ackId":)" + ackIdText(frame) + R"(,"offset":3})");
    s.timer.advance(999ms);
    QCOMPARE(r.calls, 0);
    s.timer.advance(1ms);
    QCOMPARE(r.calls, 1);
    QCOMPARE(r.error, make_error_code(Error::Timeout));
    QCOMPARE(r.error.value(), 408);
    QCOMPARE(r.offset, std::uint64_t(3)); // the ack came
    QCOMPARE(r.payload, std::string("null"));
    s.transport.feed(replyFrame(frame, "chat", "1", "s2")); // too late
    QCOMPARE(r.calls, 1);
    QCOMPARE(s.session.pendingOperations(), std::size_t(0));

    // Without a timeout of its own, replyTimeout bounds it.
    ClientOptions o;
    o.replyTimeout = 3s;
    Scripted t(o);
    t.establish();
    ReplyRecord r2;
    t.session.publishForReply("chat", "q", "1", r2.callback());
    t.timer.advance(2999ms);
    QCOMPARE(r2.calls, 0);
    t.timer.advance(1ms);
    QCOMPARE(r2.error, make_error_code(Error::Timeout));
}

void TestClientReplies::refusedPublishFailsWithTheServersCode()
{
    Scripted s;
    s.establish();
    ReplyRecord r;
    s.session.publishForReply("chat", "q", "1", r.callback());
    const json::object frame = s.transport.takeOne();
    s.transport.feed(R"({"op":"error","code":429,"name":"rate_limited","message":"too many publications waiting for a reply","ackId":)"
                     + ackIdText(frame) + "}");
    QCOMPARE(r.calls, 1);
    QCOMPARE(r.error, make_error_code(Error::RateLimited));
    QCOMPARE(r.payload, std::string("null"));
    QCOMPARE(r.from, std::string());
}

// A reply to a request on topic "error" is an error reply; a subscriber's reply to a publish
// on a channel named "error" is not.
void TestClientReplies::replyOnAChannelNamedErrorIsNotAnErrorReply()
{
    Scripted s;
    s.establish();
    ReplyRecord r;
    s.session.publishForReply("error", "q", "1", r.callback());
    const json::object frame = s.transport.takeOne();
    s.transport.feed(replyFrame(frame, "error", R"({"status":500})", "s2"));
    QCOMPARE(r.calls, 1);
    QVERIFY(!r.error);
    QCOMPARE(r.payload, std::string(R"({"status":500})"));
}

void TestClientReplies::lostConnectionAndCloseFailTheWait()
{
    Scripted s;
    s.establish();
    ReplyRecord lost;
    s.session.publishForReply("chat", "q", "1", lost.callback());
    s.transport.take();
    s.transport.serverClose(1006, "gone");
    QCOMPARE(lost.calls, 1);
    QCOMPARE(lost.error, make_error_code(Error::NotConnected));

    QVERIFY(s.session.state() == ClientState::Reconnecting);
    s.timer.advance(20s);
    s.acceptAndWelcome("s1b");
    s.transport.take();
    ReplyRecord cancelled;
    s.session.publishForReply("chat", "q", "1", cancelled.callback());
    s.session.close();
    QCOMPARE(cancelled.calls, 0); // never inside close()
    s.executor.runPending();
    QCOMPARE(cancelled.calls, 1);
    QCOMPARE(cancelled.error, make_error_code(Error::Cancelled));

    // Closed: refused with NotConnected, from the executor.
    ReplyRecord refused;
    s.session.publishForReply("chat", "q", "1", refused.callback());
    QCOMPARE(refused.calls, 0);
    s.executor.runPending();
    QCOMPARE(refused.error, make_error_code(Error::NotConnected));
}

void TestClientReplies::publishForReplyWaitsForTheConnection()
{
    Scripted s;
    s.session.connect();
    ReplyRecord r;
    PublishOptions options;
    options.timeout = 4s;
    options.skipSelf = true;
    s.session.publishForReply("chat", "q", R"({"a":1})", r.callback(), options);
    QCOMPARE(s.session.waitingCalls(), std::size_t(1));
    s.timer.advance(3s);
    s.acceptAndWelcome("s1");
    const json::object frame = s.transport.takeOne();
    QCOMPARE(str(frame, "op"), std::string("publish"));
    QVERIFY(frame.at("wantReply").as_bool());
    QVERIFY(frame.at("skipSelf").as_bool());
    // 1 s is left of the 4 s.
    s.timer.advance(999ms);
    QCOMPARE(r.calls, 0);
    s.timer.advance(1ms);
    QCOMPARE(r.error, make_error_code(Error::Timeout));

    // Bad JSON and bad names are refused from the executor, never inside the call.
    ReplyRecord bad;
    s.session.publishForReply("chat", "q", "{not json", bad.callback());
    QCOMPARE(bad.calls, 0);
    s.executor.runPending();
    QCOMPARE(bad.error, make_error_code(Error::BadRequest));
    s.session.publishForReply("chat", "\xff", "1", bad.callback());
    s.executor.runPending();
    QCOMPARE(bad.error, make_error_code(Error::InvalidName));
    QVERIFY(s.transport.take().empty());
}

void TestClientReplies::messageCarriesReplyTo()
{
    Scripted s;
    s.session.subscribe("chat");
    s.establish();
    s.transport.take();
    std::vector<std::string> tokens;
    std::vector<bool> canReply;
    auto h = s.session.on("chat.*", [&](const ClientEvent &e) {
        tokens.emplace_back(e.replyTo);
        canReply.push_back(e.canReply());
    });
    s.transport.feed(R"({"op":"message","channel":"chat","event":"q","data":1,"offset":1,"ts":1,"sender":"s2","replyTo":"n1.abc.s2"})");
    s.transport.feed(message("chat", "plain", "2", 2));
    QCOMPARE(tokens, (std::vector<std::string>{"n1.abc.s2", ""}));
    QCOMPARE(canReply, (std::vector<bool>{true, false}));
}

void TestClientReplies::replySendsTheTokenAndGetsItsAck()
{
    Scripted s;
    s.session.subscribe("chat");
    s.establish();
    s.transport.take();
    std::vector<std::error_code> acks;
    auto h = s.session.on("chat.q", [&](const ClientEvent &e) {
        // Answer from inside the listener, as a service would.
        s.session.reply(e, R"({"answer":42})", [&](std::error_code ec) { acks.push_back(ec); });
    });
    s.transport.feed(R"({"op":"message","channel":"chat","event":"q","data":1,"offset":1,"ts":1,"replyTo":"tok-1"})");
    const json::object frame = s.transport.takeOne();
    QCOMPARE(str(frame, "op"), std::string("reply"));
    QCOMPARE(str(frame, "replyTo"), std::string("tok-1"));
    QCOMPARE(json::serialize(frame.at("payload")), std::string(R"({"answer":42})"));
    QVERIFY(frame.contains("ackId"));
    QCOMPARE(s.session.pendingOperations(), std::size_t(1));
    s.transport.feed(R"({"op":"ack","ackId":)" + ackIdText(frame) + "}");
    QCOMPARE(acks, (std::vector<std::error_code>{std::error_code{}}));

    // The gateway refuses a token it cannot parse with 400.
    s.session.reply("forged", "null", [&](std::error_code ec) { acks.push_back(ec); });
    const json::object second = s.transport.takeOne();
    s.transport.feed(R"({"op":"error","code":400,"name":"bad_request","message":"field 'replyTo' is not a reply token","ackId":)"
                     + ackIdText(second) + "}");
    QCOMPARE(acks.back(), make_error_code(Error::BadRequest));

    // Without a callback: no ackId, nothing pending.
    s.session.reply("tok-2", "true");
    const json::object third = s.transport.takeOne();
    QVERIFY(!third.contains("ackId"));
    QCOMPARE(s.session.pendingOperations(), std::size_t(0));

    // No ack within ackTimeout.
    s.session.reply("tok-3", "1", [&](std::error_code ec) { acks.push_back(ec); });
    s.transport.take();
    s.timer.advance(ClientOptions{}.ackTimeout);
    QCOMPARE(acks.back(), make_error_code(Error::Timeout));
}

void TestClientReplies::replyRefusedUpFrontFromTheExecutor()
{
    Scripted s;
    s.establish();
    std::vector<std::error_code> results;
    auto record = [&](std::error_code ec) { results.push_back(ec); };
    s.session.reply("", "1", record);                // a message without replyTo
    s.session.reply("tok", "{broken", record);      // unreadable JSON
    s.session.reply("\xc3\x28", "1", record);        // not UTF-8
    QVERIFY(results.empty());
    QVERIFY(s.transport.take().empty());
    s.executor.runPending();
    QCOMPARE(results, (std::vector<std::error_code>(3, make_error_code(Error::BadRequest))));

    // A reply made while reconnecting waits for the connection.
    s.transport.serverClose(1006, "gone");
    s.session.reply("tok", "1", record);
    QCOMPARE(s.session.waitingCalls(), std::size_t(1));
    s.timer.advance(1s);
    s.acceptAndWelcome("s1b");
    const json::object frame = s.transport.takeOne();
    QCOMPARE(str(frame, "op"), std::string("reply"));
    QCOMPARE(str(frame, "replyTo"), std::string("tok"));
}

void TestClientReplies::replyWithoutCallbackReportsExpiry()
{
    ConnectingWithErrors c(1s);
    auto &s = c.s;
    auto &errors = c.errors;
    s.session.reply("tok", "1");
    s.timer.advance(1s);
    QCOMPARE(errors.keys, std::vector<std::string>{"error"});
    QCOMPARE(num(json::parse(errors.data[0]).as_object(), "code"), std::int64_t(408));
}

void TestClientReplies::waitForTheNextMatchingEvent()
{
    Scripted s;
    s.session.subscribe("chat");
    s.establish();
    s.transport.take();
    WaitRecord w;
    s.session.waitFor("chat.*", 5s, w.callback());
    s.transport.feed(message("other", "x", "0", 1)); // not subscribed: never dispatched
    QCOMPARE(w.calls, 0);
    s.transport.feed(message("chat", "hello", R"({"n":1})", 1));
    QCOMPARE(w.calls, 1);
    QVERIFY(!w.error);
    QCOMPARE(w.key, std::string("chat.hello"));
    QCOMPARE(w.data, std::string(R"({"n":1})"));
    s.transport.feed(message("chat", "hello", "2", 2));
    QCOMPARE(w.calls, 1); // once only
    s.timer.advance(10s);
    QCOMPARE(w.calls, 1); // and its timer is gone

    // A completion may wait again; the event that completed it does not complete the new wait.
    WaitRecord second;
    s.session.waitFor("chat.hello", 5s, [&](std::error_code ec, const ClientEvent *e) {
        s.session.waitFor("chat.hello", 5s, second.callback());
        QVERIFY(!ec && e);
    });
    s.transport.feed(message("chat", "hello", "3", 3));
    QCOMPARE(second.calls, 0);
    s.transport.feed(message("chat", "hello", "4", 4));
    QCOMPARE(second.calls, 1);
    QCOMPARE(second.data, std::string("4"));
}

void TestClientReplies::waitForTimesOut()
{
    Scripted s;
    s.session.subscribe("chat");
    s.establish();
    s.transport.take();
    WaitRecord w;
    s.session.waitFor("chat.done", 2s, w.callback());
    s.timer.advance(1999ms);
    QCOMPARE(w.calls, 0);
    s.timer.advance(1ms);
    QCOMPARE(w.calls, 1);
    QCOMPARE(w.error, make_error_code(Error::Timeout));
    QCOMPARE(w.key, std::string("<none>"));
    s.transport.feed(message("chat", "done", "1", 1)); // its listener is gone
    QCOMPARE(w.calls, 1);
}

void TestClientReplies::waitForInvalidPattern()
{
    Scripted s;
    WaitRecord w;
    s.session.waitFor("a.**.b", 1s, w.callback());
    QCOMPARE(w.calls, 0);
    s.executor.runPending();
    QCOMPARE(w.calls, 1);
    QCOMPARE(w.error, make_error_code(Error::BadRequest));
}

void TestClientReplies::waitForLifecycleAndAcrossReconnects()
{
    Scripted s;
    WaitRecord started, chat;
    s.session.waitFor("session.started", 30s, started.callback());
    s.session.subscribe("chat");
    s.session.waitFor("chat.*", 30s, chat.callback());
    s.establish("s1");
    QCOMPARE(started.calls, 1);
    QCOMPARE(started.key, std::string("session.started"));
    s.transport.take();

    s.transport.serverClose(1006, "gone");
    QCOMPARE(chat.calls, 0); // a reconnect does not end a wait
    s.timer.advance(1s);
    s.acceptAndWelcome("s2");
    s.transport.take();
    s.transport.feed(message("chat", "after", "1", 1));
    QCOMPARE(chat.calls, 1);
    QCOMPARE(chat.key, std::string("chat.after"));
}

void TestClientReplies::closeCancelsWaits()
{
    Scripted s;
    s.establish();
    WaitRecord a, b;
    s.session.waitFor("chat.*", 5s, a.callback());
    s.session.waitFor("close", 5s, b.callback());
    s.session.close();
    QCOMPARE(a.calls + b.calls, 0); // never inside close()
    s.executor.runPending();
    QCOMPARE(a.error, make_error_code(Error::Cancelled));
    QCOMPARE(a.error.value(), 499);
    QCOMPARE(b.error, make_error_code(Error::Cancelled));
    s.timer.advance(10s);
    QCOMPARE(a.calls, 1);
    QCOMPARE(b.calls, 1);

    // The session can be opened again and waited on again.
    WaitRecord c;
    s.session.waitFor("session.started", 5s, c.callback());
    s.session.connect();
    s.transport.serverClose(1000, "closing handshake of the earlier close"); // then the new attempt
    s.acceptAndWelcome("s2");
    QCOMPARE(c.calls, 1);
    QVERIFY(!c.error);
}

// A close the session does not come back from (here: the server refusing the token, 3501) ends the
// waits with Cancelled, after that close's own `error` and `close` events, which a wait may
// be waiting for.
void TestClientReplies::finalServerCloseCancelsWaitsAfterItsEvents()
{
    Scripted s;
    s.establish();
    WaitRecord close, other;
    s.session.waitFor("close", 5s, close.callback());
    s.session.waitFor("chat.*", 5s, other.callback());
    s.transport.serverClose(static_cast<std::uint16_t>(DisconnectCode::InvalidToken), "bad token");
    QVERIFY(s.session.state() == ClientState::Closed);
    QCOMPARE(close.calls, 1);
    QVERIFY(!close.error);
    QCOMPARE(close.key, std::string("close"));
    QCOMPARE(other.calls, 1);
    QCOMPARE(other.error, make_error_code(Error::Cancelled));
}

void TestClientReplies::destroyingTheSessionDropsWaits()
{
    WaitRecord w;
    {
        Scripted s;
        s.establish();
        s.session.waitFor("chat.*", 5s, w.callback());
        s.session.waitFor("session.started", 5s, w.callback());
    }
    QCOMPARE(w.calls, 0);
}

// End to end with the real ServerProtocol, Hub and MemoryBroker over LoopbackTransport: the
// replier answers from its listener; the publisher gets the first reply only, with the replier's
// session id; a reply to a forged token is refused 400.
void TestClientReplies::e2eReplyThroughTheHub()
{
    Server server;
    Peer asker(server), first(server), second(server);
    QVERIFY(asker.connect());
    QVERIFY(first.connect());
    QVERIFY(second.connect());
    std::vector<std::error_code> replyAcks;
    auto answerWith = [&](Peer &peer, std::string answer) {
        return peer.session.on("jobs.offer", [&peer, &replyAcks, answer](const ClientEvent &e) {
            QVERIFY(e.canReply());
            peer.session.reply(e, answer, [&replyAcks](std::error_code ec) { replyAcks.push_back(ec); });
        });
    };
    auto h1 = answerWith(first, R"({"by":"first"})");
    auto h2 = answerWith(second, R"({"by":"second"})");
    asker.session.subscribe("jobs");
    first.session.subscribe("jobs");
    second.session.subscribe("jobs");
    server.settle();

    ReplyRecord r;
    PublishOptions options;
    options.skipSelf = true;
    asker.session.publishForReply("jobs", "offer", R"({"job":7})", r.callback(), options);
    server.settle();
    QCOMPARE(r.calls, 1);
    QVERIFY2(!r.error, r.error.message().c_str());
    QCOMPARE(r.payload, std::string(R"({"by":"first"})"));
    QCOMPARE(r.from, first.session.sessionId());
    QCOMPARE(r.offset, std::uint64_t(1));
    QCOMPARE(replyAcks, (std::vector<std::error_code>(2, std::error_code{}))); // both handed on; one delivered
    QCOMPARE(asker.session.pendingOperations(), std::size_t(0));

    std::error_code forged;
    first.session.reply("not-a-token", "1", [&](std::error_code ec) { forged = ec; });
    server.settle();
    QCOMPARE(forged, make_error_code(Error::BadRequest));

    // Nobody answers event "quiet": 408 after the publish's own timeout.
    ReplyRecord quiet;
    options.timeout = 2s;
    asker.session.publishForReply("jobs", "quiet", "1", quiet.callback(), options);
    server.settle();
    server.timer.advance(2s);
    server.settle();
    QCOMPARE(quiet.error, make_error_code(Error::Timeout));
}

QTEST_APPLESS_MAIN(TestClientReplies)
#include "tst_clientreplies.moc"
