// Calls made while the session is connecting or reconnecting (publish, request, ping) wait for the
// connection, bounded by their own timeout and by ClientOptions::waitQueueLimit; with
// ClientOptions::failFast they fail at once with NotConnected as before. Virtual time.
#include "ClientTestFixtures.h"

using namespace switchboard;
using namespace switchboard::clienttest;

class TestClientWaitingCalls : public QObject {
    Q_OBJECT

private slots:
    void callsMadeWhileConnectingAreSentOnWelcome();
    void waitingCountsAgainstTheCallsOwnTimeout();
    void waitingPublishWithoutAckIsReportedWhenItExpires();
    void callsWaitThroughAReconnect();
    void queueLimit();
    void closeCancelsWaitingCalls();
    void finalCloseFailsWaitingCalls();
    void notOpenedOrClosedFailsFast();
    void failFastOption();
};

void TestClientWaitingCalls::callsMadeWhileConnectingAreSentOnWelcome()
{
    Scripted s;
    s.session.subscribe("chat");
    s.session.connect(); // right after open(), as in the docs' examples
    std::error_code ackError = make_error_code(Error::Timeout);
    AckInfo ack;
    bool acked = false;
    s.session.publish("chat", "m", R"({"n":1})", [&](std::error_code ec, AckInfo info) {
        ackError = ec;
        ack = info;
        acked = true;
    });
    json::value reply;
    bool replied = false;
    s.session.request("time", "null", [&](std::error_code ec, const json::value &r) {
        QVERIFY(!ec);
        reply = r;
        replied = true;
    });
    bool ponged = false;
    s.session.ping([&](std::error_code ec, std::chrono::microseconds) { ponged = !ec; });
    QCOMPARE(s.executor.runPending(), std::size_t(0)); // nothing failed
    QCOMPARE(s.session.waitingCalls(), std::size_t(3));
    s.transport.accept();
    // connect and the channel's subscribe, which does not wait for welcome; the calls do.
    const auto opening = s.transport.take();
    QCOMPARE(opening.size(), std::size_t(2));
    QCOMPARE(str(opening[0], "op"), std::string("connect"));
    QCOMPARE(str(opening[1], "op"), std::string("subscribe"));
    s.timer.advance(2s);
    s.welcome("s1");

    // In order, after the subscribe.
    auto frames = s.transport.take();
    frames.insert(frames.begin(), opening[1]);
    QCOMPARE(frames.size(), std::size_t(4));
    QCOMPARE(str(frames[0], "op"), std::string("subscribe"));
    QCOMPARE(str(frames[1], "op"), std::string("publish"));
    QCOMPARE(str(frames[1], "channel"), std::string("chat"));
    QCOMPARE(str(frames[2], "op"), std::string("request"));
    QCOMPARE(str(frames[3], "op"), std::string("ping"));
    QCOMPARE(s.session.waitingCalls(), std::size_t(0));
    s.transport.feed(R"({"op":"ack","ackId":)" + ackIdText(frames[1]) + R"(,"offset":7})");
    s.transport.feed(R"({"op":"reply","ackId":)" + ackIdText(frames[2]) + R"(,"payload":{"t":1}})");
    s.transport.feed(R"({"op":"pong","ackId":)" + ackIdText(frames[3]) + "}");
    QVERIFY(acked && !ackError);
    QCOMPARE(ack.offset, std::uint64_t(7));
    QVERIFY(replied);
    QCOMPARE(json::serialize(reply), std::string(R"({"t":1})"));
    QVERIFY(ponged);
}

void TestClientWaitingCalls::waitingCountsAgainstTheCallsOwnTimeout()
{
    ClientOptions options;
    options.ackTimeout = 5s;
    Scripted s(options);
    s.session.connect();
    std::vector<std::error_code> acks;
    s.session.publish("chat", "m", "1", [&](std::error_code ec, AckInfo) { acks.push_back(ec); });
    std::vector<std::error_code> replies;
    s.session.request("slow", "1", [&](std::error_code ec, const json::value &) { replies.push_back(ec); }, 2s);

    // The request's 2 s pass before any connection: it fails with Timeout and is never sent.
    s.timer.advance(2s);
    QCOMPARE(replies, (std::vector<std::error_code>{make_error_code(Error::Timeout)}));
    QCOMPARE(s.session.waitingCalls(), std::size_t(1));

    // Connected at 3 s: the publish goes out with the 2 s it has left.
    s.timer.advance(1s);
    s.acceptAndWelcome("s1");
    const auto frames = s.transport.take();
    QCOMPARE(frames.size(), std::size_t(1));
    QCOMPARE(str(frames[0], "op"), std::string("publish"));
    s.timer.advance(1999ms);
    QVERIFY(acks.empty());
    s.timer.advance(1ms);
    QCOMPARE(acks, (std::vector<std::error_code>{make_error_code(Error::Timeout)}));
    QCOMPARE(replies.size(), std::size_t(1)); // never twice
    QCOMPARE(s.session.pendingOperations(), std::size_t(0));
}

// A publish nobody waits an ack for must not vanish silently when it expires unsent: the
// session reports an `error` event naming the channel.
void TestClientWaitingCalls::waitingPublishWithoutAckIsReportedWhenItExpires()
{
    ConnectingWithErrors c(1s);
    auto &s = c.s;
    auto &errors = c.errors;
    s.session.publish("chat", "m", "1");
    s.timer.advance(1s);
    QCOMPARE(errors.keys, std::vector<std::string>{"error"});
    const json::object data = json::parse(errors.data[0]).as_object();
    QCOMPARE(num(data, "code"), std::int64_t(static_cast<int>(Error::Timeout)));
    QCOMPARE(str(data, "channel"), std::string("chat"));
    s.acceptAndWelcome("s1");
    QVERIFY(s.transport.take().empty()); // expired: never sent
}

void TestClientWaitingCalls::callsWaitThroughAReconnect()
{
    Scripted s;
    s.establish();
    s.transport.serverClose(1006, "reset");
    QCOMPARE(s.session.state(), ClientState::Reconnecting);
    std::error_code ackError = make_error_code(Error::Timeout);
    s.session.publish("chat", "m", "1", [&](std::error_code ec, AckInfo) { ackError = ec; });
    s.executor.runPending();
    QCOMPARE(s.session.waitingCalls(), std::size_t(1));
    s.timer.advance(1s); // the backoff (at most 250 ms the first time)
    s.acceptAndWelcome("s2");
    const json::object publish = s.transport.takeOne();
    QCOMPARE(str(publish, "op"), std::string("publish"));
    s.transport.feed(R"({"op":"ack","ackId":)" + ackIdText(publish) + R"(,"offset":1})");
    QVERIFY(!ackError);
}

void TestClientWaitingCalls::queueLimit()
{
    ClientOptions options;
    options.waitQueueLimit = 2;
    Scripted s(options);
    s.session.connect();
    std::vector<std::error_code> results;
    for (int i = 0; i < 3; ++i)
        s.session.publish("chat", "m", "1", [&](std::error_code ec, AckInfo) { results.push_back(ec); });
    QVERIFY(results.empty()); // never inside the call
    s.executor.runPending();
    QCOMPARE(results, (std::vector<std::error_code>{make_error_code(Error::NotConnected)}));
    QCOMPARE(s.session.waitingCalls(), std::size_t(2));
}

void TestClientWaitingCalls::closeCancelsWaitingCalls()
{
    Scripted s;
    s.session.connect();
    std::error_code ackError, replyError, pingError;
    s.session.publish("chat", "m", "1", [&](std::error_code ec, AckInfo) { ackError = ec; });
    s.session.request("t", "1", [&](std::error_code ec, const json::value &) { replyError = ec; });
    s.session.ping([&](std::error_code ec, std::chrono::microseconds) { pingError = ec; });
    s.session.close();
    QVERIFY(!ackError && !replyError && !pingError); // never inside the caller's close()
    s.executor.runPending();
    QCOMPARE(ackError, make_error_code(Error::Cancelled));
    QCOMPARE(replyError, make_error_code(Error::Cancelled));
    QCOMPARE(pingError, make_error_code(Error::Cancelled));
    QCOMPARE(s.session.waitingCalls(), std::size_t(0));
    const std::size_t timers = s.timer.pendingCount();
    QCOMPARE(timers, std::size_t(0)); // no deadline left behind
}

void TestClientWaitingCalls::finalCloseFailsWaitingCalls()
{
    Scripted s;
    s.session.connect();
    s.transport.accept();
    s.transport.take();
    std::error_code ackError;
    s.session.publish("chat", "m", "1", [&](std::error_code ec, AckInfo) { ackError = ec; });
    // A token the gateway refuses: no reconnect, so nothing will ever carry the call.
    s.transport.serverClose(static_cast<std::uint16_t>(DisconnectCode::InvalidToken), "bad token");
    QCOMPARE(s.session.state(), ClientState::Closed);
    s.executor.runPending();
    QCOMPARE(ackError, make_error_code(Error::NotConnected));
    QCOMPARE(s.session.waitingCalls(), std::size_t(0));
}

void TestClientWaitingCalls::notOpenedOrClosedFailsFast()
{
    Scripted s;
    std::error_code ackError;
    s.session.publish("chat", "m", "1", [&](std::error_code ec, AckInfo) { ackError = ec; });
    QVERIFY(!ackError);
    s.executor.runPending();
    QCOMPARE(ackError, make_error_code(Error::NotConnected)); // never opened: nothing to wait for
    s.establish();
    s.session.close();
    ackError = {};
    s.session.publish("chat", "m", "1", [&](std::error_code ec, AckInfo) { ackError = ec; });
    s.executor.runPending();
    QCOMPARE(ackError, make_error_code(Error::NotConnected));
    QCOMPARE(s.session.waitingCalls(), std::size_t(0));
}

void TestClientWaitingCalls::failFastOption()
{
    ClientOptions options;
    options.failFast = true;
    Scripted s(options);
    s.session.connect();
    std::error_code ackError, replyError, pingError;
    s.session.publish("chat", "m", "1", [&](std::error_code ec, AckInfo) { ackError = ec; });
    s.session.request("t", "1", [&](std::error_code ec, const json::value &) { replyError = ec; });
    s.session.ping([&](std::error_code ec, std::chrono::microseconds) { pingError = ec; });
    QCOMPARE(s.session.waitingCalls(), std::size_t(0));
    s.executor.runPending();
    QCOMPARE(ackError, make_error_code(Error::NotConnected));
    QCOMPARE(replyError, make_error_code(Error::NotConnected));
    QCOMPARE(pingError, make_error_code(Error::NotConnected));
    s.acceptAndWelcome("s1");
    QVERIFY(s.transport.take().empty());
}

QTEST_APPLESS_MAIN(TestClientWaitingCalls)
#include "tst_clientwaitingcalls.moc"
