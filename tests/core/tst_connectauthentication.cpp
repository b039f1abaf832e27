// Asynchronous connect authentication: an authenticator that answers later (a database, the
// gateway's connect proxy) leaves every other connection served; it sees the token, the client
// name, the connect `data`, the future session id and what the transport passed to open();
// frames sent while it waits are handled after welcome (bounded); refusals close 3501,
// "unavailable" and the deadline close 3008; a connection closing while it waits is forgotten
// and a late answer ignored.
#include "ProtocolHarness.h"

#include <QtTest>

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

using namespace switchboard;
using namespace switchboard::testing;
using namespace std::chrono_literals;

namespace {

/// An authenticator that keeps every request and its answer for the test to decide later.
struct HeldAuthenticator {
    struct Held {
        std::string token;
        std::string clientName;
        std::string data;
        std::string sessionId;
        ConnectionInfo connection;
        ConnectAnswer answer;
    };
    std::vector<Held> held;
    AsyncConnectAuthenticator callable()
    {
        return [this](const ConnectRequest &request, ConnectAnswer answer) {
            held.push_back({std::string(request.token), std::string(request.clientName), std::string(request.data),
                            std::string(request.sessionId), request.connection, std::move(answer)});
        };
    }
};

ConnectDecision acceptAs(std::string user, std::string info = {})
{
    ConnectDecision decision;
    decision.principal.userId = std::move(user);
    decision.principal.userInfo = std::move(info);
    return decision;
}

ConnectDecision refuse(std::string reason, bool unavailable = false)
{
    ConnectDecision decision;
    decision.accepted = false;
    decision.reason = std::move(reason);
    decision.unavailable = unavailable;
    return decision;
}

ServerProtocolOptions options(std::chrono::milliseconds authTimeout = 5000ms)
{
    ServerProtocolOptions o;
    o.limits.connectAuthTimeout = authTimeout;
    o.clientPublish = ClientPublishPolicy::Always;
    return o;
}

} // namespace

class TestConnectAuthentication : public QObject {
    Q_OBJECT
private slots:
    void othersAreServedWhileAConnectWaits();
    void requestCarriesWhatTheAuthenticatorNeeds();
    void refuseLater();
    void unavailableCloses3008();
    void deadlineCloses3008();
    void connectDeadlineEndsWithTheConnectFrame();
    void closingWhilePendingCancels();
    void framesWhileWaitingAreHandledAfterWelcome();
    void framesWhileWaitingAreDroppedOnRefusal();
    void framesWhileWaitingAreBounded();
    void secondConnectWhileWaitingIsMalformed();
    void throwingAuthenticatorRefuses();
    void doubleAnswerIsHarmless();
    void closeAllWhilePending();
    void answerAfterProtocolIsGone();
    void synchronousAuthenticatorStaysSynchronous();
};

void TestConnectAuthentication::othersAreServedWhileAConnectWaits()
{
    Harness h(options());
    Client other = h.connect(); // before the authenticator: accepted at once
    QVERIFY(h.subscribe(other, "news"));
    HeldAuthenticator auth;
    h.protocol.setAsyncConnectAuthenticator(auth.callable());

    Client waiting = h.open();
    h.send(waiting, R"({"op":"connect","version":1,"token":"t"})");
    QCOMPARE(auth.held.size(), std::size_t(1));
    QVERIFY(waiting.session->frames.empty());

    // The other session publishes and receives meanwhile.
    h.send(other, R"({"op":"publish","channel":"news","event":"e","data":{"n":1},"ackId":1})");
    const auto frames = other.session->take();
    QCOMPARE(frames.size(), std::size_t(2));
    QCOMPARE(op(frames[0]), std::string("message"));
    QCOMPARE(op(frames[1]), std::string("ack"));

    h.timer.advance(1000ms);
    auth.held[0].answer(acceptAs("alice", R"({"name":"Alice"})"));
    const auto welcome = waiting.session->take();
    QCOMPARE(welcome.size(), std::size_t(1));
    QCOMPARE(op(welcome[0]), std::string("welcome"));
    QCOMPARE(str(welcome[0], "user"), std::string("alice"));
    QCOMPARE(waiting.session->attachedUserId, std::string("alice"));
    const Principal *principal = h.hub.principal(str(welcome[0], "session"));
    QVERIFY(principal);
    QCOMPARE(principal->userInfo, std::string(R"({"name":"Alice"})"));
    QCOMPARE(h.hub.counters().sessions, std::size_t(2));
}

void TestConnectAuthentication::requestCarriesWhatTheAuthenticatorNeeds()
{
    Harness h(options());
    HeldAuthenticator auth;
    h.protocol.setAsyncConnectAuthenticator(auth.callable());
    ConnectionInfo info;
    info.transport = "websocket";
    info.remoteAddress = "192.0.2.7";
    info.headers = {{"cookie", "sid=42"}, {"origin", "https://app.example"}};
    auto session = std::make_shared<RecordingSession>();
    const auto handle = h.protocol.open(session, info);
    h.protocol.receive(handle, R"({"op":"connect","version":1,"token":"abc","name":"dash/1","data":{"room":7,"tags":["a"]}})", false);
    QCOMPARE(auth.held.size(), std::size_t(1));
    const auto &held = auth.held[0];
    QCOMPARE(held.token, std::string("abc"));
    QCOMPARE(held.clientName, std::string("dash/1"));
    QCOMPARE(held.data, std::string(R"({"room":7,"tags":["a"]})"));
    QCOMPARE(held.connection.transport, std::string("websocket"));
    QCOMPARE(held.connection.remoteAddress, std::string("192.0.2.7"));
    QCOMPARE(held.connection.headers.size(), std::size_t(2));
    QCOMPARE(held.connection.headers[0].second, std::string("sid=42"));
    QCOMPARE(held.sessionId.size(), std::size_t(32));
    auth.held[0].answer(acceptAs("bob"));
    const auto welcome = session->take();
    QCOMPARE(welcome.size(), std::size_t(1));
    // The id the authenticator was told is the session's id.
    QCOMPARE(str(welcome[0], "session"), held.sessionId);
    QCOMPARE(h.protocol.sessionId(handle), held.sessionId);

    // Without `data` (or with null) the authenticator sees none.
    Client plain = h.open();
    h.send(plain, R"({"op":"connect","version":1,"data":null})");
    QCOMPARE(auth.held.size(), std::size_t(2));
    QCOMPARE(auth.held[1].data, std::string());
    QCOMPARE(auth.held[1].token, std::string());
}

void TestConnectAuthentication::refuseLater()
{
    Harness h(options());
    HeldAuthenticator auth;
    h.protocol.setAsyncConnectAuthenticator(auth.callable());
    Client c = h.open();
    h.send(c, R"({"op":"connect","version":1,"token":"bad"})");
    auth.held[0].answer(refuse("unknown session cookie"));
    QCOMPARE(c.session->closeCode.value_or(0), std::uint16_t(3501));
    QCOMPARE(c.session->closeReason, std::string("unknown session cookie"));
    const auto frames = c.session->take();
    QCOMPARE(frames.size(), std::size_t(1));
    QCOMPARE(op(frames[0]), std::string("disconnect"));
    QCOMPARE(frames[0].at("reconnect").as_bool(), false);
    QCOMPARE(h.protocol.counters().authFailures, std::uint64_t(1));
    QCOMPARE(h.hub.counters().sessions, std::size_t(0));
}

void TestConnectAuthentication::unavailableCloses3008()
{
    Harness h(options());
    HeldAuthenticator auth;
    h.protocol.setAsyncConnectAuthenticator(auth.callable());
    Client c = h.open();
    h.send(c, R"({"op":"connect","version":1})");
    auth.held[0].answer(refuse("connect proxy unavailable", true));
    QCOMPARE(c.session->closeCode.value_or(0), std::uint16_t(3008));
    QCOMPARE(c.session->closeReason, std::string("connect proxy unavailable"));
    const auto frames = c.session->take();
    QCOMPARE(frames.size(), std::size_t(1));
    QCOMPARE(frames[0].at("reconnect").as_bool(), true); // reconnect with backoff
    QCOMPARE(h.protocol.counters().connectAuthUnavailable, std::uint64_t(1));
    QCOMPARE(h.protocol.counters().authFailures, std::uint64_t(0));
    QVERIFY(shouldReconnect(3008));
    QCOMPARE(disconnectName(DisconnectCode::AuthUnavailable), std::string_view("auth_unavailable"));
}

void TestConnectAuthentication::deadlineCloses3008()
{
    Harness h(options(2000ms));
    HeldAuthenticator auth;
    h.protocol.setAsyncConnectAuthenticator(auth.callable());
    Client c = h.open();
    h.send(c, R"({"op":"connect","version":1})");
    h.timer.advance(1999ms);
    QVERIFY(!c.session->closeCode);
    h.timer.advance(1ms);
    QCOMPARE(c.session->closeCode.value_or(0), std::uint16_t(3008));
    QCOMPARE(c.session->closeReason, std::string("authentication timed out"));
    QCOMPARE(h.protocol.counters().connectAuthTimeouts, std::uint64_t(1));
    c.session->take();
    auth.held[0].answer(acceptAs("late")); // ignored
    QVERIFY(c.session->frames.empty());
    QCOMPARE(h.hub.counters().sessions, std::size_t(0));
    QCOMPARE(c.session->closeCalls, 1);
}

void TestConnectAuthentication::connectDeadlineEndsWithTheConnectFrame()
{
    ServerProtocolOptions o = options(30'000ms);
    o.limits.connectTimeout = 10'000ms;
    Harness h(o);
    HeldAuthenticator auth;
    h.protocol.setAsyncConnectAuthenticator(auth.callable());
    Client c = h.open();
    h.timer.advance(5000ms);
    h.send(c, R"({"op":"connect","version":1})");
    h.timer.advance(20'000ms); // past the connect deadline, within the authenticator's
    QVERIFY(!c.session->closeCode);
    QCOMPARE(h.protocol.counters().connectTimeouts, std::uint64_t(0));
    auth.held[0].answer(acceptAs("slowpoke"));
    QCOMPARE(op(c.session->take().at(0)), std::string("welcome"));
}

void TestConnectAuthentication::closingWhilePendingCancels()
{
    Harness h(options());
    HeldAuthenticator auth;
    h.protocol.setAsyncConnectAuthenticator(auth.callable());
    Client c = h.open();
    h.send(c, R"({"op":"connect","version":1})");
    h.send(c, R"({"op":"subscribe","channel":"news","ackId":1})");
    h.protocol.closed(c.handle, 1001, "gone");
    auth.held[0].answer(acceptAs("alice")); // ignored: nobody to attach
    QVERIFY(c.session->frames.empty());
    QCOMPARE(h.hub.counters().sessions, std::size_t(0));
    QCOMPARE(h.hub.counters().channels, std::size_t(0));
    h.timer.advance(60'000ms); // no deadline left behind
    QVERIFY(!c.session->closeCode);
}

void TestConnectAuthentication::framesWhileWaitingAreHandledAfterWelcome()
{
    Harness h(options());
    HeldAuthenticator auth;
    h.protocol.setAsyncConnectAuthenticator(auth.callable());
    Client c = h.open();
    h.send(c, R"({"op":"connect","version":1})");
    h.send(c, R"({"op":"subscribe","channel":"news","ackId":1})");
    h.send(c, R"({"op":"publish","channel":"news","event":"e","data":{"first":true},"ackId":2})");
    h.send(c, R"({"op":"ping","ackId":3})");
    QVERIFY(c.session->frames.empty()); // nothing answered before welcome
    auth.held[0].answer(acceptAs("alice"));
    const auto frames = c.session->take();
    QCOMPARE(frames.size(), std::size_t(5));
    QCOMPARE(op(frames[0]), std::string("welcome"));
    QCOMPARE(op(frames[1]), std::string("subscribed"));
    QCOMPARE(num(frames[1], "ackId"), std::int64_t(1));
    QCOMPARE(op(frames[2]), std::string("message")); // its own publish, in order
    QCOMPARE(op(frames[3]), std::string("ack"));
    QCOMPARE(num(frames[3], "ackId"), std::int64_t(2));
    QCOMPARE(op(frames[4]), std::string("pong"));
    // Counted once, when they arrived.
    QCOMPARE(h.protocol.counters().framesIn, std::uint64_t(4));
}

void TestConnectAuthentication::framesWhileWaitingAreDroppedOnRefusal()
{
    Harness h(options());
    HeldAuthenticator auth;
    h.protocol.setAsyncConnectAuthenticator(auth.callable());
    Client c = h.open();
    h.send(c, R"({"op":"connect","version":1})");
    h.send(c, R"({"op":"subscribe","channel":"news","ackId":1})");
    auth.held[0].answer(refuse("no"));
    const auto frames = c.session->take();
    QCOMPARE(frames.size(), std::size_t(1));
    QCOMPARE(op(frames[0]), std::string("disconnect"));
    QCOMPARE(h.hub.counters().channels, std::size_t(0));
}

void TestConnectAuthentication::framesWhileWaitingAreBounded()
{
    ServerProtocolOptions o = options();
    o.limits.maxFramesWhileAuthenticating = 3;
    Harness h(o);
    HeldAuthenticator auth;
    h.protocol.setAsyncConnectAuthenticator(auth.callable());
    Client c = h.open();
    h.send(c, R"({"op":"connect","version":1})");
    for (int i = 1; i <= 5; ++i)
        h.send(c, R"({"op":"ping","ackId":)" + std::to_string(i) + "}");
    auto frames = c.session->take();
    QCOMPARE(frames.size(), std::size_t(2)); // the 4th and 5th refused at once
    QCOMPARE(op(frames[0]), std::string("error"));
    QCOMPARE(num(frames[0], "code"), std::int64_t(429));
    QCOMPARE(num(frames[0], "ackId"), std::int64_t(4));
    QCOMPARE(h.protocol.counters().earlyFramesRefused, std::uint64_t(2));
    QCOMPARE(h.protocol.counters().rateLimited, std::uint64_t(2));
    auth.held[0].answer(acceptAs("alice"));
    frames = c.session->take();
    QCOMPARE(frames.size(), std::size_t(4)); // welcome + the three kept pings
    QCOMPARE(num(frames[3], "ackId"), std::int64_t(3));

    // The byte bound too.
    ServerProtocolOptions small = options();
    small.limits.maxBytesWhileAuthenticating = 60;
    Harness h2(small);
    HeldAuthenticator auth2;
    h2.protocol.setAsyncConnectAuthenticator(auth2.callable());
    Client d = h2.open();
    h2.send(d, R"({"op":"connect","version":1})");
    h2.send(d, R"({"op":"subscribe","channel":"a-rather-long-channel-name-here","ackId":1})"); // > 60 bytes
    QCOMPARE(h2.protocol.counters().earlyFramesRefused, std::uint64_t(1));
}

void TestConnectAuthentication::secondConnectWhileWaitingIsMalformed()
{
    Harness h(options());
    HeldAuthenticator auth;
    h.protocol.setAsyncConnectAuthenticator(auth.callable());
    Client c = h.open();
    h.send(c, R"({"op":"connect","version":1})");
    h.send(c, R"({"op":"connect","version":1,"ackId":9})");
    QCOMPARE(auth.held.size(), std::size_t(1));
    const auto frames = c.session->take();
    QCOMPARE(frames.size(), std::size_t(1));
    QCOMPARE(num(frames[0], "code"), std::int64_t(400));
    auth.held[0].answer(acceptAs("alice"));
    QCOMPARE(op(c.session->take().at(0)), std::string("welcome"));
}

void TestConnectAuthentication::throwingAuthenticatorRefuses()
{
    Harness h(options());
    h.protocol.setAsyncConnectAuthenticator([](const ConnectRequest &, ConnectAnswer) {
        throw std::runtime_error("database gone");
    });
    Client c = h.open();
    h.send(c, R"({"op":"connect","version":1})");
    QCOMPARE(c.session->closeCode.value_or(0), std::uint16_t(3501));
    QCOMPARE(c.session->closeReason, std::string("authentication failed: database gone"));

    // Throwing after answering: the answer stands.
    h.protocol.setAsyncConnectAuthenticator([](const ConnectRequest &, ConnectAnswer answer) {
        answer(acceptAs("carol"));
        throw std::runtime_error("after the fact");
    });
    Client d = h.open();
    h.send(d, R"({"op":"connect","version":1})");
    QVERIFY(!d.session->closeCode);
    QCOMPARE(d.session->attachedUserId, std::string("carol"));
}

void TestConnectAuthentication::doubleAnswerIsHarmless()
{
    Harness h(options());
    HeldAuthenticator auth;
    h.protocol.setAsyncConnectAuthenticator(auth.callable());
    Client c = h.open();
    h.send(c, R"({"op":"connect","version":1})");
    ConnectAnswer copy = auth.held[0].answer;
    auth.held[0].answer(acceptAs("alice"));
    copy(refuse("second thoughts")); // copies share the answered state
    QVERIFY(!c.session->closeCode);
    QCOMPARE(c.session->take().size(), std::size_t(1));
    QCOMPARE(h.hub.counters().sessions, std::size_t(1));
}

void TestConnectAuthentication::closeAllWhilePending()
{
    Harness h(options());
    HeldAuthenticator auth;
    h.protocol.setAsyncConnectAuthenticator(auth.callable());
    Client c = h.open();
    h.send(c, R"({"op":"connect","version":1})");
    h.protocol.closeAll(DisconnectCode::Shutdown, "server shutting down");
    QCOMPARE(c.session->closeCode.value_or(0), std::uint16_t(3000));
    auth.held[0].answer(acceptAs("alice"));
    QCOMPARE(h.hub.counters().sessions, std::size_t(0));
    QCOMPARE(c.session->closeCalls, 1);
}

void TestConnectAuthentication::answerAfterProtocolIsGone()
{
    ConnectAnswer answer;
    {
        Harness h(options());
        h.protocol.setAsyncConnectAuthenticator([&answer](const ConnectRequest &, ConnectAnswer a) { answer = std::move(a); });
        Client c = h.open();
        h.send(c, R"({"op":"connect","version":1})");
        QVERIFY(answer);
    }
    answer(acceptAs("alice")); // nothing left to reach: ignored
}

void TestConnectAuthentication::synchronousAuthenticatorStaysSynchronous()
{
    Harness h(options());
    h.protocol.setConnectAuthenticator([](std::string_view token) {
        return token == "good" ? acceptAs("dave") : refuse("bad token");
    });
    Client c = h.open();
    h.send(c, R"({"op":"connect","version":1,"token":"good"})");
    const auto frames = c.session->take(); // answered inside receive()
    QCOMPARE(frames.size(), std::size_t(1));
    QCOMPARE(str(frames[0], "user"), std::string("dave"));
    Client d = h.open();
    h.send(d, R"({"op":"connect","version":1,"token":"nope"})");
    QCOMPARE(d.session->closeCode.value_or(0), std::uint16_t(3501));
    QCOMPARE(h.protocol.counters().connectAuthTimeouts, std::uint64_t(0));
}

QTEST_APPLESS_MAIN(TestConnectAuthentication)
#include "tst_connectauthentication.moc"
