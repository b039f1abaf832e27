// ClientSession's heartbeat and round trips against a scripted server, in virtual time: pings
// answered, pings sent when quiet, ping() and its timeouts, the clock behind them.
#include "ClientTestFixtures.h"

using namespace switchboard;
using namespace switchboard::clienttest;

class TestClientHeartbeat : public QObject
{
    Q_OBJECT

private slots:
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

void TestClientHeartbeat::pingAnswered()
{
    Scripted s;
    s.establish();
    s.transport.feed(R"({"op":"ping"})");
    QCOMPARE(str(s.transport.takeOne(), "op"), std::string("pong"));
}

void TestClientHeartbeat::heartbeat()
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

void TestClientHeartbeat::roundTrip_data()
{
    QTest::addColumn<qint64>("delayUs");
    QTest::addColumn<bool>("ackIdAsText"); // a server may echo the ackId as a string
    QTest::newRow("same instant") << qint64(0) << false;
    QTest::newRow("sub-millisecond") << qint64(250) << false;
    QTest::newRow("across a millisecond") << qint64(1'750) << false;
    QTest::newRow("seconds") << qint64(3'000'017) << false;
    QTest::newRow("ackId echoed as text") << qint64(420) << true;
}

void TestClientHeartbeat::roundTrip()
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

void TestClientHeartbeat::roundTripIgnoresOtherPongs()
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

void TestClientHeartbeat::roundTripTimeout()
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

void TestClientHeartbeat::roundTripNotConnected()
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

void TestClientHeartbeat::roundTripConnectionLost()
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

void TestClientHeartbeat::roundTripCancelledOnClose()
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

void TestClientHeartbeat::heartbeatMeasuresRoundTrip()
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

void TestClientHeartbeat::manualTimerPreciseClock()
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

QTEST_APPLESS_MAIN(TestClientHeartbeat)
#include "tst_clientheartbeat.moc"
