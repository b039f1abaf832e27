// ServerProtocol round trips: recording sessions, a real Hub, virtual time.
#include "ProtocolHarness.h"

#include "switchboard/ControlFrames.h"

#include <QtTest>

#include <set>

#include <algorithm>
#include <memory>
#include <stdexcept>
#include <string>

using namespace switchboard;
using namespace switchboard::testing;
namespace json = boost::json;

class TestServerProtocol : public QObject
{
    Q_OBJECT

private slots:
    void connectWelcome();
    void closedHandleNeverFindsTheNextConnection();
    void connectWithToken();
    void tokenRejected();
    void authenticatorThrows();
    void tokenExpiry();
    void tokenRefreshInPlace();
    void channelAuthorizationExpiresUnlessRefreshed();
    void unsupportedVersion_data();
    void unsupportedVersion();
    void connectTimeout();
    void opBeforeConnect();
    void subscribeAndMessage();
    void publishAckAndSkipSelf();
    void publishDataPassesThrough();
    void publishCompressMarksTheSharedFrame();
    void publishPolicy_data();
    void publishPolicy();
    void unsubscribe();
    void duplicateSubscribe();
    void privateChannelDenied();
    void presenceFrames();
    void recoveryFrames();
    void recoveryWrongEpoch();
    void latestOnSubscribe();
    void latestWithFilterAndRecover();
    void latestOnPresenceComesBeforeTheRoster();
    void requestReply();
    void requestAsyncReplyAfterClose();
    void requestUnknownTopic();
    void requestHandlerThrows();
    void requestHandlerFails();
    void requestInvalidReplyJson();
    void requestDefaultHandler();
    void requestFireAndForget();
    void responderOutlivesProtocol();
    void ping();
    void closeAll();
    void closedDetaches();
    void channelLimit();
    void controlFrameEncoding();
    void controlFramesCountAgainstTheRate();
    void sessionLearnsItsUserAndEveryRefusal();
};

void TestServerProtocol::connectWelcome()
{
    Harness h;
    Client c = h.open();
    QVERIFY(h.protocol.sessionId(c.handle).empty());
    h.send(c, R"({"op":"connect","version":1,"name":"dashboard"})");
    const auto frames = c.session->take();
    QCOMPARE(frames.size(), std::size_t(1));
    const auto &welcome = frames[0];
    QCOMPARE(op(welcome), std::string("welcome"));
    QCOMPARE(num(welcome, "version"), std::int64_t(1));
    QCOMPARE(num(welcome, "ping"), std::int64_t(25'000));
    QCOMPARE(str(welcome, "user"), std::string());
    QVERIFY(!str(welcome, "session").empty());
    QCOMPARE(str(welcome, "session"), h.protocol.sessionId(c.handle));
    QCOMPARE(h.hub.counters().sessions, std::size_t(1));
    QCOMPARE(h.protocol.counters().framesIn, std::uint64_t(1));
    QVERIFY(!c.session->closeCode);
}

void TestServerProtocol::closedHandleNeverFindsTheNextConnection()
{
    // Connections live in reused slots: a late call with a closed connection's handle (a
    // transport's stale reference) must find nothing, not the connection that took its slot.
    Harness h;
    Client first = h.connect();
    const std::string firstId = h.protocol.sessionId(first.handle);
    QVERIFY(!firstId.empty());
    h.protocol.closed(first.handle);
    QVERIFY(h.protocol.sessionId(first.handle).empty());

    Client second = h.open();
    QVERIFY(second.handle != first.handle);
    QVERIFY(second.handle != 0);
    h.send(first, R"({"op":"connect","version":1})"); // stale: nothing happens
    QVERIFY(second.session->take().empty());
    QVERIFY(first.session->take().empty());
    QVERIFY(h.protocol.sessionId(second.handle).empty()); // still waiting for its own connect
    h.send(second, R"({"op":"connect","version":1})");
    const auto frames = second.session->take();
    QCOMPARE(frames.size(), std::size_t(1));
    QCOMPARE(op(frames[0]), std::string("welcome"));
    QVERIFY(str(frames[0], "session") != firstId);
    h.protocol.closed(first.handle); // twice, and stale: the open one stays
    QCOMPARE(h.protocol.sessionId(second.handle), str(frames[0], "session"));

    // Many connections opened and closed: every handle stays distinct.
    std::set<ServerProtocol::ConnectionHandle> seen{first.handle, second.handle};
    for (int i = 0; i < 100; ++i) {
        Client c = h.open();
        QVERIFY(seen.insert(c.handle).second);
        h.protocol.closed(c.handle);
    }
}

void TestServerProtocol::connectWithToken()
{
    Harness h;
    std::string seenToken;
    h.protocol.setConnectAuthenticator([&](std::string_view token) {
        seenToken.assign(token);
        ConnectDecision decision;
        decision.principal.userId = "alice";
        return decision;
    });
    Client c = h.open();
    h.send(c, R"({"op":"connect","version":1,"token":"t0k3n"})");
    const auto frames = c.session->take();
    QCOMPARE(frames.size(), std::size_t(1));
    QCOMPARE(str(frames[0], "user"), std::string("alice"));
    QCOMPARE(seenToken, std::string("t0k3n"));
    const Principal *principal = h.hub.principal(h.protocol.sessionId(c.handle));
    QVERIFY(principal);
    QCOMPARE(principal->userId, std::string("alice"));
}

void TestServerProtocol::tokenRejected()
{
    Harness h;
    h.protocol.setConnectAuthenticator([](std::string_view) {
        ConnectDecision decision;
        decision.accepted = false;
        decision.reason = "signature mismatch";
        return decision;
    });
    Client c = h.open();
    h.send(c, R"({"op":"connect","version":1,"token":"forged"})");
    const auto frames = c.session->take();
    QCOMPARE(frames.size(), std::size_t(1));
    QCOMPARE(op(frames[0]), std::string("disconnect"));
    QCOMPARE(num(frames[0], "code"), std::int64_t(3501));
    QCOMPARE(str(frames[0], "reason"), std::string("signature mismatch"));
    QCOMPARE(frames[0].at("reconnect").as_bool(), false);
    QCOMPARE(c.session->closeCode, std::optional<std::uint16_t>(3501));
    QCOMPARE(h.protocol.counters().authFailures, std::uint64_t(1));
    QCOMPARE(h.hub.counters().sessions, std::size_t(0));
    QVERIFY(h.protocol.sessionId(c.handle).empty());

    // Frames after the close are ignored; the transport's closed() forgets the connection.
    h.send(c, R"({"op":"ping"})");
    QVERIFY(c.session->frames.empty());
    QCOMPARE(c.session->closeCalls, 1);
    h.protocol.closed(c.handle);
}

void TestServerProtocol::authenticatorThrows()
{
    Harness h;
    h.protocol.setConnectAuthenticator([](std::string_view) -> ConnectDecision {
        throw std::runtime_error("key store offline");
    });
    Client c = h.open();
    h.send(c, R"({"op":"connect","version":1,"token":"x"})");
    QCOMPARE(c.session->closeCode, std::optional<std::uint16_t>(3501));
    QCOMPARE(h.protocol.counters().authFailures, std::uint64_t(1));
}

void TestServerProtocol::tokenExpiry()
{
    Harness h;
    h.protocol.setConnectAuthenticator([&](std::string_view) {
        ConnectDecision decision;
        decision.principal.userId = "bob";
        decision.expiresAtMs = h.timer.wallClockMs() + 5'000;
        return decision;
    });
    Client c = h.connect("token");
    QVERIFY(h.subscribe(c, "news"));
    h.timer.advance(std::chrono::milliseconds(4'999));
    QVERIFY(!c.session->closeCode);
    h.timer.advance(std::chrono::milliseconds(1));
    const auto frames = c.session->take();
    // The hint at half the lifetime (shorter than ProtocolLimits::tokenRefreshHint), unanswered.
    QCOMPARE(frames.size(), std::size_t(2));
    QCOMPARE(op(frames[0]), std::string("expiring"));
    QCOMPARE(num(frames[0], "in"), std::int64_t(2'500));
    QCOMPARE(op(frames[1]), std::string("disconnect"));
    QCOMPARE(num(frames[1], "code"), std::int64_t(3004));
    QCOMPARE(frames[1].at("reconnect").as_bool(), true);
    QCOMPARE(c.session->closeCode, std::optional<std::uint16_t>(3004));
    QCOMPARE(h.protocol.counters().tokenExpirations, std::uint64_t(1));
    // Detached at once: no more deliveries, no subscriber left.
    QCOMPARE(h.hub.subscriberCount("news"), std::size_t(0));
    QCOMPARE(h.hub.counters().sessions, std::size_t(0));

    // A token that is already expired is refused the same way.
    h.protocol.setConnectAuthenticator([&](std::string_view) {
        ConnectDecision decision;
        decision.expiresAtMs = h.timer.wallClockMs() - 1;
        return decision;
    });
    Client late = h.open();
    h.send(late, R"({"op":"connect","version":1,"token":"old"})");
    QCOMPARE(late.session->closeCode, std::optional<std::uint16_t>(3004));
}

void TestServerProtocol::tokenRefreshInPlace()
{
    ServerProtocolOptions options;
    options.limits.tokenRefreshHint = std::chrono::seconds(3);
    Harness h(options);
    std::vector<std::string> refreshes; // tokens the authenticator saw in a refresh
    h.protocol.setAsyncConnectAuthenticator([&](const ConnectRequest &request, ConnectAnswer answer) {
        if (request.refresh)
            refreshes.emplace_back(request.token);
        ConnectDecision decision;
        if (request.token == "bad")
            decision = ConnectDecision{false, {}, "bad signature", 0};
        else if (request.token == "old")
            decision.accepted = false, decision.expired = true;
        else
            decision.principal.userId = request.token.starts_with("alice") ? "alice" : "bob";
        decision.expiresAtMs = h.timer.wallClockMs() + 10'000;
        answer(std::move(decision));
    });
    Client c = h.connect("bob-1"); // expires at t+10 s
    QVERIFY(h.subscribe(c, "news"));
    h.timer.advance(std::chrono::milliseconds(6'999));
    QVERIFY(c.session->take().empty());
    h.timer.advance(std::chrono::milliseconds(1)); // 3 s before the expiry
    auto frames = c.session->take();
    QCOMPARE(frames.size(), std::size_t(1));
    QCOMPARE(op(frames[0]), std::string("expiring"));
    QCOMPARE(num(frames[0], "in"), std::int64_t(3'000));
    QCOMPARE(h.protocol.counters().tokenRefreshHints, std::uint64_t(1));

    // The fresh token replaces the expiry (now t+17 s): no close at t+10 s, the session and its
    // subscription stay.
    h.send(c, R"({"op":"refresh","token":"bob-2","ackId":"r1"})");
    frames = c.session->take();
    QCOMPARE(frames.size(), std::size_t(1));
    QCOMPARE(op(frames[0]), std::string("ack"));
    QCOMPARE(str(frames[0], "ackId"), std::string("r1"));
    QCOMPARE(refreshes, std::vector<std::string>{"bob-2"});
    QCOMPARE(h.protocol.counters().tokenRefreshes, std::uint64_t(1));
    h.timer.advance(std::chrono::milliseconds(4'000)); // t+11 s
    QVERIFY(!c.session->closeCode);
    QCOMPARE(h.hub.subscriberCount("news"), std::size_t(1));
    h.timer.advance(std::chrono::milliseconds(3'000)); // t+14 s: the next hint
    frames = c.session->take();
    QCOMPARE(frames.size(), std::size_t(1));
    QCOMPARE(op(frames[0]), std::string("expiring"));

    // Refusals leave the session as it was: another user's token, a bad one, an expired one,
    // no token at all.
    h.send(c, R"({"op":"refresh","token":"alice-1","ackId":"r2"})");
    h.send(c, R"({"op":"refresh","token":"bad","ackId":"r3"})");
    h.send(c, R"({"op":"refresh","token":"old","ackId":"r4"})");
    h.send(c, R"({"op":"refresh","ackId":"r5"})");
    frames = c.session->take();
    QCOMPARE(frames.size(), std::size_t(4));
    for (const auto &f : frames)
        QCOMPARE(op(f), std::string("error"));
    QCOMPARE(num(frames[0], "code"), std::int64_t(403));
    QCOMPARE(str(frames[0], "message"), std::string("the token is for another user"));
    QCOMPARE(num(frames[1], "code"), std::int64_t(401));
    QCOMPARE(str(frames[1], "message"), std::string("bad signature"));
    QCOMPARE(num(frames[2], "code"), std::int64_t(401));
    QCOMPARE(str(frames[2], "message"), std::string("token expired"));
    QCOMPARE(num(frames[3], "code"), std::int64_t(400));
    QCOMPARE(h.protocol.counters().tokenRefreshFailures, std::uint64_t(3)); // r5 never reached the authenticator
    QVERIFY(!c.session->closeCode);

    // Unrefreshed, it still ends at the (refreshed) expiry with 3004.
    h.timer.advance(std::chrono::milliseconds(3'000)); // t+17 s
    QCOMPARE(c.session->closeCode, std::optional<std::uint16_t>(3004));
    QCOMPARE(h.protocol.counters().tokenExpirations, std::uint64_t(1));
}

void TestServerProtocol::channelAuthorizationExpiresUnlessRefreshed()
{
    HubOptions hubOptions;
    hubOptions.authorizationRefreshHint = std::chrono::seconds(2);
    Harness h({}, hubOptions);
    std::vector<std::string> asked; // the `auth` of every authorization
    h.hub.setAuthorizer([&](const AuthRequest &request) {
        asked.emplace_back(request.auth);
        AuthDecision decision;
        decision.allowed = request.auth != "revoked";
        decision.refusal = Error::Forbidden;
        decision.expiresAtMs = request.auth == "forever" ? 0 : h.timer.wallClockMs() + 10'000;
        return decision;
    });
    Client c = h.connect();
    h.send(c, R"({"op":"subscribe","channel":"private-ops","auth":"a1","ackId":"s"})");
    QCOMPARE(op(c.session->take().at(0)), std::string("subscribed"));

    h.timer.advance(std::chrono::milliseconds(8'000)); // 2 s before the expiry
    auto frames = c.session->take();
    QCOMPARE(frames.size(), std::size_t(1));
    QCOMPARE(op(frames[0]), std::string("expiring"));
    QCOMPARE(str(frames[0], "channel"), std::string("private-ops"));
    QCOMPARE(num(frames[0], "in"), std::int64_t(2'000));
    QCOMPARE(h.hub.counters().channelAuthorizationHints, std::uint64_t(1));

    // A new auth, allowed: the subscription lives past the old expiry.
    h.send(c, R"({"op":"refresh","channel":"private-ops","auth":"a2","ackId":"r1"})");
    frames = c.session->take();
    QCOMPARE(frames.size(), std::size_t(1));
    QCOMPARE(op(frames[0]), std::string("ack"));
    QCOMPARE(asked, (std::vector<std::string>{"a1", "a2"}));
    h.timer.advance(std::chrono::milliseconds(3'000)); // t+11 s
    QVERIFY(h.hub.isSubscribed(c.session->attachedSessionId, "private-ops"));

    // Refused (and a channel the session is not in): the old expiry stays.
    h.send(c, R"({"op":"refresh","channel":"private-ops","auth":"revoked","ackId":"r2"})");
    h.send(c, R"({"op":"refresh","channel":"private-other","auth":"x","ackId":"r3"})");
    frames = c.session->take();
    QCOMPARE(frames.size(), std::size_t(2));
    QCOMPARE(num(frames[0], "code"), std::int64_t(403));
    QCOMPARE(str(frames[0], "channel"), std::string("private-ops"));
    QCOMPARE(num(frames[1], "code"), std::int64_t(404));
    QCOMPARE(h.hub.counters().channelAuthorizationRefreshes, std::uint64_t(1));
    QCOMPARE(h.hub.counters().channelAuthorizationRefreshFailures, std::uint64_t(1));

    // Unrefreshed, it ends at t+18 s: error 401 for the channel, then `unsubscribed` (server).
    h.timer.advance(std::chrono::milliseconds(7'000));
    frames = c.session->take();
    QCOMPARE(frames.size(), std::size_t(3)); // the hint at t+16 s, the error, the unsubscribe
    QCOMPARE(op(frames[0]), std::string("expiring"));
    QCOMPARE(op(frames[1]), std::string("error"));
    QCOMPARE(num(frames[1], "code"), std::int64_t(401));
    QCOMPARE(str(frames[1], "message"), std::string("channel authorization expired"));
    QCOMPARE(op(frames[2]), std::string("unsubscribed"));
    QCOMPARE(frames[2].at("server").as_bool(), true);
    QVERIFY(!h.hub.isSubscribed(c.session->attachedSessionId, "private-ops"));
    QCOMPARE(h.hub.counters().channelAuthorizationExpirations, std::uint64_t(1));
    QVERIFY(!c.session->closeCode); // the session itself goes on

    // An authorization without expiry, and a leave, leave nothing scheduled behind.
    h.send(c, R"({"op":"subscribe","channel":"private-ops","auth":"forever"})");
    h.send(c, R"({"op":"subscribe","channel":"private-b","auth":"b"})");
    h.send(c, R"({"op":"unsubscribe","channel":"private-b"})");
    c.session->take();
    h.timer.advance(std::chrono::seconds(60));
    QVERIFY(c.session->take().empty());
    QVERIFY(h.hub.isSubscribed(c.session->attachedSessionId, "private-ops"));
}

void TestServerProtocol::unsupportedVersion_data()
{
    QTest::addColumn<QByteArray>("frame");
    QTest::newRow("version 2") << QByteArray(R"({"op":"connect","version":2})");
    QTest::newRow("version 0") << QByteArray(R"({"op":"connect","version":0})");
    QTest::newRow("version huge") << QByteArray(R"({"op":"connect","version":18446744073709551615})");
}

void TestServerProtocol::unsupportedVersion()
{
    QFETCH(QByteArray, frame);
    Harness h;
    Client c = h.open();
    h.send(c, frame.toStdString());
    const auto frames = c.session->take();
    QCOMPARE(frames.size(), std::size_t(1));
    QCOMPARE(num(frames[0], "code"), std::int64_t(3503));
    QCOMPARE(frames[0].at("reconnect").as_bool(), false);
    QCOMPARE(c.session->closeCode, std::optional<std::uint16_t>(3503));
    QCOMPARE(h.hub.counters().sessions, std::size_t(0));
}

void TestServerProtocol::connectTimeout()
{
    ServerProtocolOptions options;
    options.limits.connectTimeout = std::chrono::milliseconds(2'000);
    Harness h(options);
    Client silent = h.open();
    Client prompt = h.open();
    h.send(prompt, R"({"op":"connect","version":1})");
    h.timer.advance(std::chrono::milliseconds(1'999));
    QVERIFY(!silent.session->closeCode);
    h.timer.advance(std::chrono::milliseconds(1));
    QCOMPARE(silent.session->closeCode, std::optional<std::uint16_t>(3006));
    const auto frames = silent.session->take();
    QCOMPARE(frames.size(), std::size_t(1));
    QCOMPARE(num(frames[0], "code"), std::int64_t(3006));
    QCOMPARE(frames[0].at("reconnect").as_bool(), true);
    QVERIFY(!prompt.session->closeCode);
    QCOMPARE(h.protocol.counters().connectTimeouts, std::uint64_t(1));

    // closed() cancels the timer of a connection that is still waiting.
    Client gone = h.open();
    h.protocol.closed(gone.handle);
    h.timer.advance(std::chrono::milliseconds(5'000));
    QVERIFY(!gone.session->closeCode);
    QCOMPARE(h.protocol.counters().connectTimeouts, std::uint64_t(1));
}

void TestServerProtocol::opBeforeConnect()
{
    Harness h;
    Client c = h.open();
    h.send(c, R"({"op":"subscribe","channel":"news","ackId":"s1"})");
    auto frames = c.session->take();
    QCOMPARE(frames.size(), std::size_t(1));
    QCOMPARE(op(frames[0]), std::string("error"));
    QCOMPARE(num(frames[0], "code"), std::int64_t(400));
    QCOMPARE(str(frames[0], "ackId"), std::string("s1"));
    QCOMPARE(h.hub.subscriberCount("news"), std::size_t(0));
    h.send(c, R"({"op":"connect","version":1})");
    frames = c.session->take();
    QCOMPARE(frames.size(), std::size_t(1));
    QCOMPARE(op(frames[0]), std::string("welcome"));
}

void TestServerProtocol::subscribeAndMessage()
{
    Harness h;
    Client a = h.connect();
    Client b = h.connect();
    h.send(a, R"({"op":"subscribe","channel":"news","ackId":"sub-1"})");
    auto frames = a.session->take();
    QCOMPARE(frames.size(), std::size_t(1));
    QCOMPARE(op(frames[0]), std::string("subscribed"));
    QCOMPARE(str(frames[0], "channel"), std::string("news"));
    QCOMPARE(str(frames[0], "ackId"), std::string("sub-1"));
    QCOMPARE(str(frames[0], "type"), std::string("public"));
    QVERIFY(frames[0].contains("epoch"));
    QCOMPARE(num(frames[0], "offset"), std::int64_t(0));
    QVERIFY(!frames[0].contains("recovered")); // only when recovery was asked for
    QVERIFY(frames[0].at("publications").as_array().empty());
    QVERIFY(h.subscribe(b, "news"));
    QCOMPARE(h.hub.subscriberCount("news"), std::size_t(2));

    h.hub.broadcast("news", "headline", R"({"title":"hello"})");
    for (Client *c : {&a, &b}) {
        frames = c->session->take();
        QCOMPARE(frames.size(), std::size_t(1));
        QCOMPARE(op(frames[0]), std::string("message"));
        QCOMPARE(str(frames[0], "channel"), std::string("news"));
        QCOMPARE(str(frames[0], "event"), std::string("headline"));
        QCOMPARE(str(frames[0].at("data").as_object(), "title"), std::string("hello"));
        QCOMPARE(num(frames[0], "offset"), std::int64_t(1));
        QVERIFY(!frames[0].contains("sender")); // server publish
    }
}

void TestServerProtocol::publishAckAndSkipSelf()
{
    Harness h;
    Client a = h.connect();
    Client b = h.connect();
    QVERIFY(h.subscribe(a, "chat"));
    QVERIFY(h.subscribe(b, "chat"));

    h.send(a, R"({"op":"publish","channel":"chat","event":"say","data":"hi","ackId":7})");
    auto fromA = a.session->take();
    QCOMPARE(fromA.size(), std::size_t(2)); // own message and the ack, in either order
    const auto ackIt = std::find_if(fromA.begin(), fromA.end(), [](auto &f) { return op(f) == "ack"; });
    QVERIFY(ackIt != fromA.end());
    QCOMPARE(num(*ackIt, "ackId"), std::int64_t(7)); // numeric ackIds come back as numbers
    QCOMPARE(num(*ackIt, "offset"), std::int64_t(1));
    auto toB = b.session->take();
    QCOMPARE(toB.size(), std::size_t(1));
    QCOMPARE(op(toB[0]), std::string("message"));
    QCOMPARE(str(toB[0], "data"), std::string("hi"));
    QCOMPARE(str(toB[0], "sender"), h.protocol.sessionId(a.handle));

    // skipSelf: everyone but the publisher.
    h.send(a, R"({"op":"publish","channel":"chat","event":"say","data":2,"ackId":"p2","skipSelf":true})");
    fromA = a.session->take();
    QCOMPARE(fromA.size(), std::size_t(1));
    QCOMPARE(op(fromA[0]), std::string("ack"));
    QCOMPARE(str(fromA[0], "ackId"), std::string("p2"));
    QCOMPARE(num(fromA[0], "offset"), std::int64_t(2));
    toB = b.session->take();
    QCOMPARE(toB.size(), std::size_t(1));
    QCOMPARE(num(toB[0], "data"), std::int64_t(2));

    // No ackId: no ack frame.
    h.send(b, R"({"op":"publish","channel":"chat","event":"say","data":null,"skipSelf":true})");
    QVERIFY(b.session->take().empty());
    QCOMPARE(a.session->take().size(), std::size_t(1));
}

/// `compress` reaches the one frame every subscriber shares; the transport decides what to do
/// with it (permessage-deflate). Unmarked publications give unmarked frames.
void TestServerProtocol::publishCompressMarksTheSharedFrame()
{
    Harness h;
    Client a = h.connect();
    Client b = h.connect();
    QVERIFY(h.subscribe(a, "board"));
    QVERIFY(h.subscribe(b, "board"));
    h.send(a, R"({"op":"publish","channel":"board","event":"rows","data":{"n":1},"compress":true})");
    const auto toA = a.session->frames;
    const auto toB = b.session->frames;
    QVERIFY(!toA.empty() && !toB.empty());
    QVERIFY(toB.back()->compress);
    QCOMPARE(toA.back().get(), toB.back().get()); // one frame, shared
    h.send(a, R"({"op":"publish","channel":"board","event":"rows","data":{"n":2},"compress":false})");
    QVERIFY(!b.session->frames.back()->compress);
    h.send(a, R"({"op":"publish","channel":"board","event":"rows","data":{"n":3}})");
    QVERIFY(!b.session->frames.back()->compress);
}

void TestServerProtocol::publishDataPassesThrough()
{
    Harness h;
    Client a = h.connect();
    Client b = h.connect();
    QVERIFY(h.subscribe(a, "data"));
    QVERIFY(h.subscribe(b, "data"));
    // Unicode, escapes, nesting and numbers survive the single serialization.
    const std::string data = R"({"text":"caf\u00e9 \u2603 \ud83d\ude00","n":[1,2.5,-3,true,null],"q":"a\"b"})";
    h.send(a, R"({"op":"publish","channel":"data","event":"e","data":)" + data + R"(,"skipSelf":true})");
    const auto frames = b.session->take();
    QCOMPARE(frames.size(), std::size_t(1));
    QCOMPARE(json::value(frames[0].at("data")), json::parse(data));
    // The same frame object went to every recipient except the skipped sender.
    QVERIFY(a.session->frames.empty());
}

void TestServerProtocol::publishPolicy_data()
{
    QTest::addColumn<int>("policy");
    QTest::addColumn<QByteArray>("channel");
    QTest::addColumn<bool>("subscribed");
    QTest::addColumn<int>("expectedError"); // 0: accepted

    const int never = int(ClientPublishPolicy::Never);
    const int subscribedOnly = int(ClientPublishPolicy::SubscribedOnly);
    const int always = int(ClientPublishPolicy::Always);
    QTest::newRow("never, subscribed") << never << QByteArray("news") << true << 403;
    QTest::newRow("subscribedOnly, subscribed") << subscribedOnly << QByteArray("news") << true << 0;
    QTest::newRow("subscribedOnly, not subscribed") << subscribedOnly << QByteArray("news") << false << 403;
    QTest::newRow("always, not subscribed") << always << QByteArray("news") << false << 0;
    QTest::newRow("always, private not subscribed") << always << QByteArray("private-x") << false << 403;
    QTest::newRow("always, bad channel") << always << QByteArray("a//b") << false << 422;
}

void TestServerProtocol::publishPolicy()
{
    QFETCH(int, policy);
    QFETCH(QByteArray, channel);
    QFETCH(bool, subscribed);
    QFETCH(int, expectedError);

    ServerProtocolOptions options;
    options.clientPublish = static_cast<ClientPublishPolicy>(policy);
    Harness h(options);
    Client a = h.connect();
    if (subscribed)
        QVERIFY(h.subscribe(a, channel.toStdString()));
    h.send(a, R"({"op":"publish","channel":")" + channel.toStdString()
                  + R"(","event":"e","data":1,"ackId":"x","skipSelf":true})");
    const auto frames = a.session->take();
    QCOMPARE(frames.size(), std::size_t(1));
    if (expectedError == 0) {
        QCOMPARE(op(frames[0]), std::string("ack"));
        QCOMPARE(h.protocol.counters().protocolErrors, std::uint64_t(0));
    } else {
        QCOMPARE(op(frames[0]), std::string("error"));
        QCOMPARE(num(frames[0], "code"), std::int64_t(expectedError));
        QCOMPARE(str(frames[0], "ackId"), std::string("x"));
        QCOMPARE(str(frames[0], "channel"), channel.toStdString());
        QCOMPARE(h.protocol.counters().protocolErrors, std::uint64_t(1));
        QCOMPARE(h.hub.counters().publications, std::uint64_t(0));
    }
}

void TestServerProtocol::unsubscribe()
{
    Harness h;
    Client a = h.connect();
    QVERIFY(h.subscribe(a, "news"));
    h.send(a, R"({"op":"unsubscribe","channel":"news","ackId":"u1"})");
    auto frames = a.session->take();
    QCOMPARE(frames.size(), std::size_t(1));
    QCOMPARE(op(frames[0]), std::string("unsubscribed"));
    QCOMPARE(str(frames[0], "channel"), std::string("news"));
    QCOMPARE(str(frames[0], "ackId"), std::string("u1"));
    h.hub.broadcast("news", "e", "1");
    QVERIFY(a.session->frames.empty());

    // Unsubscribing again is not an error: the channel is left either way.
    h.send(a, R"({"op":"unsubscribe","channel":"news","ackId":"u2"})");
    frames = a.session->take();
    QCOMPARE(frames.size(), std::size_t(1));
    QCOMPARE(op(frames[0]), std::string("unsubscribed"));
    QCOMPARE(str(frames[0], "ackId"), std::string("u2"));
    QCOMPARE(h.protocol.counters().protocolErrors, std::uint64_t(0));
}

void TestServerProtocol::duplicateSubscribe()
{
    Harness h;
    Client a = h.connect();
    QVERIFY(h.subscribe(a, "news"));
    h.hub.broadcast("news", "e", "1");
    h.hub.broadcast("news", "e", "2");
    a.session->take();
    // Subscribing again answers success with the current position; still one subscription.
    h.send(a, R"({"op":"subscribe","channel":"news","ackId":"again"})");
    auto frames = a.session->take();
    QCOMPARE(frames.size(), std::size_t(1));
    QCOMPARE(op(frames[0]), std::string("subscribed"));
    QCOMPARE(str(frames[0], "ackId"), std::string("again"));
    QCOMPARE(num(frames[0], "offset"), std::int64_t(2));
    QVERIFY(!str(frames[0], "epoch").empty());
    QCOMPARE(frames[0].at("publications").as_array().size(), std::size_t(0));
    QCOMPARE(h.hub.subscriberCount("news"), std::size_t(1));
    h.hub.broadcast("news", "e", "3");
    QCOMPARE(a.session->take().size(), std::size_t(1)); // delivered once

    // With a different filter it is refused (409): the subscription keeps its own.
    h.send(a, R"({"op":"subscribe","channel":"news","filter":"kind=x","ackId":"f"})");
    frames = a.session->take();
    QCOMPARE(frames.size(), std::size_t(1));
    QCOMPARE(num(frames[0], "code"), std::int64_t(409));
    QCOMPARE(str(frames[0], "ackId"), std::string("f"));
    QCOMPARE(str(frames[0], "channel"), std::string("news"));
}

void TestServerProtocol::privateChannelDenied()
{
    Harness h; // no authorizer: private and presence joins are denied
    Client a = h.connect();
    h.send(a, R"({"op":"subscribe","channel":"private-room","auth":"sig","ackId":"s"})");
    const auto frames = a.session->take();
    QCOMPARE(frames.size(), std::size_t(1));
    QCOMPARE(op(frames[0]), std::string("error"));
    const auto code = num(frames[0], "code");
    QVERIFY2(code == 401 || code == 403, std::to_string(code).c_str());
    QCOMPARE(h.protocol.counters().authFailures, std::uint64_t(1));
    QCOMPARE(h.hub.subscriberCount("private-room"), std::size_t(0));
}

void TestServerProtocol::presenceFrames()
{
    Harness h;
    h.hub.setAuthorizer([](const AuthRequest &) { return AuthDecision{true, {}, {}}; });
    Client a = h.connect();
    Client b = h.connect();

    // channelData as an object.
    h.send(a, R"({"op":"subscribe","channel":"presence-room","channelData":{"user_id":"ann","user_info":{"name":"Ann"}}})");
    auto frames = a.session->take();
    QCOMPARE(frames.size(), std::size_t(3));
    QCOMPARE(op(frames[0]), std::string("subscribed"));
    QCOMPARE(str(frames[0], "type"), std::string("presence"));
    QCOMPARE(op(frames[1]), std::string("presence"));
    QCOMPARE(str(frames[1], "event"), std::string("presence:subscription_succeeded"));
    QCOMPARE(str(frames[1], "channel"), std::string("presence-room"));
    auto members = frames[1].at("members").as_array();
    QCOMPARE(members.size(), std::size_t(1));
    QCOMPARE(str(members[0].as_object(), "id"), std::string("ann"));
    QCOMPARE(str(members[0].as_object().at("info").as_object(), "name"), std::string("Ann"));
    // The newcomer also hears its own member_added, after the roster.
    QCOMPARE(str(frames[2], "event"), std::string("presence:member_added"));
    QCOMPARE(str(frames[2], "channel"), std::string("presence-room"));
    QCOMPARE(str(frames[2].at("member").as_object(), "id"), std::string("ann"));
    QCOMPARE(str(frames[2].at("member").as_object().at("info").as_object(), "name"), std::string("Ann"));

    // channelData as a string holding JSON (Pusher style).
    h.send(b, R"({"op":"subscribe","channel":"presence-room","channelData":"{\"user_id\":\"bo\",\"user_info\":null}"})");
    frames = b.session->take();
    QCOMPARE(frames.size(), std::size_t(3));
    members = frames[1].at("members").as_array();
    QCOMPARE(members.size(), std::size_t(2));
    QCOMPARE(str(frames[2], "event"), std::string("presence:member_added"));
    QCOMPARE(str(frames[2].at("member").as_object(), "id"), std::string("bo"));
    frames = a.session->take();
    QCOMPARE(frames.size(), std::size_t(1));
    QCOMPARE(str(frames[0], "event"), std::string("presence:member_added"));
    QCOMPARE(str(frames[0].at("member").as_object(), "id"), std::string("bo"));

    // A second connection of a user already present adds no member: nobody, itself included,
    // hears member_added; it gets the roster.
    Client c = h.connect();
    h.send(c, R"({"op":"subscribe","channel":"presence-room","channelData":{"user_id":"bo"}})");
    frames = c.session->take();
    QCOMPARE(frames.size(), std::size_t(2));
    QCOMPARE(str(frames[1], "event"), std::string("presence:subscription_succeeded"));
    QVERIFY(a.session->take().empty());
    QVERIFY(b.session->take().empty());
    h.protocol.closed(c.handle);
    QVERIFY(a.session->take().empty()); // bo is still there through b

    // The transport reports b gone: a hears member_removed.
    h.protocol.closed(b.handle);
    frames = a.session->take();
    QCOMPARE(frames.size(), std::size_t(1));
    QCOMPARE(str(frames[0], "event"), std::string("presence:member_removed"));
    QCOMPARE(str(frames[0].at("member").as_object(), "id"), std::string("bo"));
}

void TestServerProtocol::recoveryFrames()
{
    Harness h;
    Client a = h.connect();
    h.send(a, R"({"op":"subscribe","channel":"feed"})");
    auto frames = a.session->take();
    QCOMPARE(frames.size(), std::size_t(1));
    for (int i = 1; i <= 3; ++i)
        h.hub.broadcast("feed", "tick", std::to_string(i));
    QCOMPARE(a.session->take().size(), std::size_t(3));

    // A second connection that saw offset 1 resumes from there.
    h.send(a, R"({"op":"unsubscribe","channel":"feed"})");
    a.session->take();
    Client b = h.connect();
    h.send(b, R"({"op":"subscribe","channel":"feed"})");
    frames = b.session->take();
    const std::string streamEpoch = str(frames[0], "epoch");
    QCOMPARE(num(frames[0], "offset"), std::int64_t(3));
    h.send(b, R"({"op":"unsubscribe","channel":"feed"})");
    b.session->take();

    h.send(b, R"({"op":"subscribe","channel":"feed","ackId":"r","recover":{"offset":1,"epoch":")" + streamEpoch + R"("}})");
    frames = b.session->take();
    QCOMPARE(frames.size(), std::size_t(1));
    const auto &subscribed = frames[0];
    QCOMPARE(op(subscribed), std::string("subscribed"));
    QCOMPARE(subscribed.at("recovered").as_bool(), true);
    QCOMPARE(num(subscribed, "offset"), std::int64_t(3));
    QCOMPARE(str(subscribed, "epoch"), streamEpoch);
    const auto &publications = subscribed.at("publications").as_array();
    QCOMPARE(publications.size(), std::size_t(2));
    QCOMPARE(num(publications[0].as_object(), "offset"), std::int64_t(2));
    QCOMPARE(num(publications[1].as_object(), "offset"), std::int64_t(3));
    QCOMPARE(num(publications[1].as_object(), "data"), std::int64_t(3));
    QCOMPARE(str(publications[1].as_object(), "event"), std::string("tick"));
    QCOMPARE(str(publications[1].as_object(), "channel"), std::string("feed"));
    QVERIFY(!publications[0].as_object().contains("op"));
}

void TestServerProtocol::recoveryWrongEpoch()
{
    Harness h;
    Client a = h.connect();
    QVERIFY(h.subscribe(a, "feed"));
    h.hub.broadcast("feed", "tick", "1");
    h.send(a, R"({"op":"unsubscribe","channel":"feed"})");
    a.session->take();
    h.send(a, R"({"op":"subscribe","channel":"feed","recover":{"offset":0,"epoch":"not-the-epoch"}})");
    const auto frames = a.session->take();
    QCOMPARE(frames.size(), std::size_t(1));
    QCOMPARE(frames[0].at("recovered").as_bool(), false);
    QCOMPARE(num(frames[0], "offset"), std::int64_t(1));
    QVERIFY(!str(frames[0], "epoch").empty());
}

void TestServerProtocol::latestOnSubscribe()
{
    Harness h;
    Client a = h.connect();
    // Nothing published yet: `subscribed` alone.
    h.send(a, R"({"op":"subscribe","channel":"gauge","latest":true,"ackId":"g0"})");
    auto frames = a.session->take();
    QCOMPARE(frames.size(), std::size_t(1));
    QCOMPARE(op(frames[0]), std::string("subscribed"));
    QCOMPARE(h.hub.counters().latestDelivered, std::uint64_t(0));

    for (int i = 1; i <= 3; ++i)
        h.hub.broadcast("gauge", "reading", R"({"v":)" + std::to_string(i) + "}");
    a.session->take();

    Client b = h.connect();
    h.send(b, R"({"op":"subscribe","channel":"gauge","latest":true,"ackId":"g1"})");
    frames = b.session->take();
    QCOMPARE(frames.size(), std::size_t(2));
    QCOMPARE(op(frames[0]), std::string("subscribed"));
    QCOMPARE(num(frames[0], "offset"), std::int64_t(3));
    QVERIFY(frames[0].at("publications").as_array().empty()); // not a recovery
    const auto &latest = frames[1];
    QCOMPARE(op(latest), std::string("message"));
    QCOMPARE(str(latest, "channel"), std::string("gauge"));
    QCOMPARE(str(latest, "event"), std::string("reading"));
    QCOMPARE(num(latest.at("data").as_object(), "v"), std::int64_t(3));
    QCOMPARE(num(latest, "offset"), std::int64_t(3));
    QCOMPARE(str(latest, "epoch"), str(frames[0], "epoch"));
    QCOMPARE(latest.at("latest").as_bool(), true);
    QCOMPARE(h.hub.counters().latestDelivered, std::uint64_t(1));

    // Live publications after it are ordinary messages.
    h.hub.broadcast("gauge", "reading", R"({"v":4})");
    frames = b.session->take();
    QCOMPARE(frames.size(), std::size_t(1));
    QCOMPARE(num(frames[0], "offset"), std::int64_t(4));
    QVERIFY(!frames[0].contains("latest"));

    // Without `latest`: no message after `subscribed`.
    Client c = h.connect();
    h.send(c, R"({"op":"subscribe","channel":"gauge"})");
    QCOMPARE(c.session->take().size(), std::size_t(1));

    // `latest` must be a boolean.
    h.send(c, R"({"op":"subscribe","channel":"other","latest":"yes","ackId":"bad"})");
    frames = c.session->take();
    QCOMPARE(frames.size(), std::size_t(1));
    QCOMPARE(op(frames[0]), std::string("error"));
    QCOMPARE(num(frames[0], "code"), std::int64_t(400));
    QVERIFY(str(frames[0], "message").find("latest") != std::string::npos);
    QCOMPARE(h.hub.subscriberCount("other"), std::size_t(0));
}

void TestServerProtocol::latestWithFilterAndRecover()
{
    Harness h;
    h.hub.broadcast("gauge", "reading", R"({"sensor":"a","v":1})");
    h.hub.broadcast("gauge", "reading", R"({"sensor":"b","v":2})");

    // The newest publication does not match the filter: nothing (the filter is not widened to
    // older publications).
    Client a = h.connect();
    h.send(a, R"({"op":"subscribe","channel":"gauge","latest":true,"filter":{"sensor":"a"}})");
    auto frames = a.session->take();
    QCOMPARE(frames.size(), std::size_t(1));
    QCOMPARE(op(frames[0]), std::string("subscribed"));
    Client b = h.connect();
    h.send(b, R"({"op":"subscribe","channel":"gauge","latest":true,"filter":{"sensor":"b"}})");
    frames = b.session->take();
    QCOMPARE(frames.size(), std::size_t(2));
    QCOMPARE(num(frames[1], "offset"), std::int64_t(2));

    // With `recover`, the recovery replays up to the newest publication: no extra message.
    const std::string epoch = str(frames[0], "epoch");
    Client c = h.connect();
    h.send(c, R"({"op":"subscribe","channel":"gauge","latest":true,"recover":{"offset":1,"epoch":")" + epoch + R"("}})");
    frames = c.session->take();
    QCOMPARE(frames.size(), std::size_t(1));
    QCOMPARE(frames[0].at("recovered").as_bool(), true);
    QCOMPARE(frames[0].at("publications").as_array().size(), std::size_t(1));
    QCOMPARE(h.hub.counters().latestDelivered, std::uint64_t(1));
}

void TestServerProtocol::latestOnPresenceComesBeforeTheRoster()
{
    Harness h;
    h.hub.setAuthorizer([](const AuthRequest &) { return AuthDecision{true, {}, {}}; });
    h.hub.broadcast("presence-room", "status", R"("open")");
    Client a = h.connect();
    h.send(a, R"({"op":"subscribe","channel":"presence-room","latest":true,"channelData":{"user_id":"ann"}})");
    const auto frames = a.session->take();
    QVERIFY(frames.size() >= 3);
    QCOMPARE(op(frames[0]), std::string("subscribed"));
    QCOMPARE(op(frames[1]), std::string("message"));
    QCOMPARE(frames[1].at("data").as_string(), json::string("open"));
    QCOMPARE(op(frames[2]), std::string("presence"));
}

void TestServerProtocol::requestReply()
{
    Harness h;
    std::string seenSession, seenTopic, seenPayload;
    h.protocol.setRequestHandler("app::echo", [&](const RequestContext &context, std::shared_ptr<Responder> responder) {
        seenSession.assign(context.sessionId);
        seenTopic.assign(context.topic);
        seenPayload.assign(context.payload);
        responder->reply(R"({"foo":"bar"})");
        responder->reply(R"({"second":"ignored"})");
    });
    Client a = h.connect();
    h.send(a, R"({"op":"request","topic":"app::echo","payload":{"x":[1,2]},"ackId":"12345"})");
    const auto frames = a.session->take();
    QCOMPARE(frames.size(), std::size_t(2));
    QCOMPARE(op(frames[0]), std::string("ack"));
    QCOMPARE(str(frames[0], "ackId"), std::string("12345"));
    QVERIFY(!frames[0].contains("offset"));
    QCOMPARE(op(frames[1]), std::string("reply"));
    QCOMPARE(str(frames[1], "topic"), std::string("app::echo"));
    QCOMPARE(str(frames[1], "ackId"), std::string("12345"));
    QCOMPARE(str(frames[1].at("payload").as_object(), "foo"), std::string("bar"));
    QCOMPARE(seenSession, h.protocol.sessionId(a.handle));
    QCOMPARE(seenTopic, std::string("app::echo"));
    QCOMPARE(json::parse(seenPayload), json::parse(R"({"x":[1,2]})"));
    QCOMPARE(h.protocol.counters().requests, std::uint64_t(1));

    // No payload: the handler sees null.
    h.send(a, R"({"op":"request","topic":"app::echo","ackId":"n"})");
    QCOMPARE(seenPayload, std::string("null"));
}

void TestServerProtocol::requestAsyncReplyAfterClose()
{
    Harness h;
    std::vector<std::shared_ptr<Responder>> pending;
    h.protocol.setRequestHandler("slow", [&](const RequestContext &, std::shared_ptr<Responder> responder) {
        pending.push_back(std::move(responder));
    });
    Client a = h.connect();
    Client b = h.connect();
    h.send(a, R"({"op":"request","topic":"slow","payload":1,"ackId":"a"})");
    h.send(b, R"({"op":"request","topic":"slow","payload":2,"ackId":"b"})");
    QCOMPARE(pending.size(), std::size_t(2));
    QCOMPARE(a.session->take().size(), std::size_t(1)); // the gateway ack only
    b.session->take();

    h.timer.start(std::chrono::milliseconds(100), [&] { pending[0]->reply("\"late\""); });
    h.timer.advance(std::chrono::milliseconds(100));
    auto frames = a.session->take();
    QCOMPARE(frames.size(), std::size_t(1));
    QCOMPARE(str(frames[0], "payload"), std::string("late"));

    h.protocol.closed(b.handle);
    pending[1]->reply("\"nobody listens\""); // dropped, no crash
    QVERIFY(b.session->frames.empty());
}

void TestServerProtocol::requestUnknownTopic()
{
    Harness h;
    Client a = h.connect();
    h.send(a, R"({"op":"request","topic":"app::missing","payload":{},"ackId":"q"})");
    const auto frames = a.session->take();
    QCOMPARE(frames.size(), std::size_t(2));
    QCOMPARE(op(frames[0]), std::string("ack"));
    QCOMPARE(op(frames[1]), std::string("reply"));
    QCOMPARE(str(frames[1], "topic"), std::string("error"));
    QCOMPARE(str(frames[1], "ackId"), std::string("q"));
    const auto &payload = frames[1].at("payload").as_object();
    QCOMPARE(num(payload, "status"), std::int64_t(404));
    QVERIFY(str(payload, "message").find("app::missing") != std::string::npos);
    QVERIFY(payload.contains("trace"));
}

void TestServerProtocol::requestHandlerThrows()
{
    Harness h;
    h.protocol.setRequestHandler("boom", [](const RequestContext &, std::shared_ptr<Responder>) {
        throw std::runtime_error("division by zero");
    });
    h.protocol.setRequestHandler("boom2", [](const RequestContext &, std::shared_ptr<Responder>) { throw 42; });
    Client a = h.connect();
    h.send(a, R"({"op":"request","topic":"boom","payload":null,"ackId":"b1"})");
    h.send(a, R"({"op":"request","topic":"boom2","payload":null,"ackId":"b2"})");
    const auto frames = a.session->take();
    QCOMPARE(frames.size(), std::size_t(4));
    QCOMPARE(str(frames[1], "topic"), std::string("error"));
    QCOMPARE(num(frames[1].at("payload").as_object(), "status"), std::int64_t(500));
    QVERIFY(str(frames[1].at("payload").as_object(), "message").find("division by zero") != std::string::npos);
    QCOMPARE(str(frames[3], "topic"), std::string("error"));
    QCOMPARE(str(frames[3], "ackId"), std::string("b2"));
    QCOMPARE(num(frames[3].at("payload").as_object(), "status"), std::int64_t(500));
    QVERIFY(!a.session->closeCode);
    // The connection keeps working.
    h.send(a, R"({"op":"ping"})");
    QCOMPARE(op(a.session->take().at(0)), std::string("pong"));
}

void TestServerProtocol::requestHandlerFails()
{
    Harness h;
    h.protocol.setRequestHandler("validate", [](const RequestContext &, std::shared_ptr<Responder> responder) {
        responder->fail("name is required", 422, "validate.cpp:12");
        responder->reply("{}"); // after fail: ignored
    });
    Client a = h.connect();
    h.send(a, R"({"op":"request","topic":"validate","payload":{},"ackId":"v"})");
    const auto frames = a.session->take();
    QCOMPARE(frames.size(), std::size_t(2));
    const auto &payload = frames[1].at("payload").as_object();
    QCOMPARE(str(frames[1], "topic"), std::string("error"));
    QCOMPARE(str(payload, "message"), std::string("name is required"));
    QCOMPARE(num(payload, "status"), std::int64_t(422));
    QCOMPARE(str(payload, "trace"), std::string("validate.cpp:12"));

    h.protocol.removeRequestHandler("validate");
    h.send(a, R"({"op":"request","topic":"validate","payload":{},"ackId":"v2"})");
    const auto after = a.session->take();
    QCOMPARE(num(after.at(1).at("payload").as_object(), "status"), std::int64_t(404));
}

void TestServerProtocol::requestInvalidReplyJson()
{
    Harness h;
    h.protocol.setRequestHandler("bad", [](const RequestContext &, std::shared_ptr<Responder> responder) {
        responder->reply("{not json");
    });
    Client a = h.connect();
    h.send(a, R"({"op":"request","topic":"bad","ackId":"x"})");
    const auto frames = a.session->take();
    QCOMPARE(frames.size(), std::size_t(2));
    QCOMPARE(str(frames[1], "topic"), std::string("error"));
    QCOMPARE(num(frames[1].at("payload").as_object(), "status"), std::int64_t(500));
}

void TestServerProtocol::responderOutlivesProtocol()
{
    std::shared_ptr<Responder> kept;
    std::shared_ptr<RecordingSession> session;
    {
        Harness h;
        h.protocol.setRequestHandler("keep", [&](const RequestContext &, std::shared_ptr<Responder> responder) {
            kept = std::move(responder);
        });
        Client a = h.connect();
        session = a.session;
        h.send(a, R"({"op":"request","topic":"keep","ackId":"k"})");
        session->take();
    }
    QVERIFY(kept);
    kept->reply("1");
    kept->fail("late");
    QVERIFY(session->frames.empty());
}

void TestServerProtocol::ping()
{
    Harness h;
    Client a = h.connect();
    h.send(a, R"({"op":"ping","ackId":"p"})");
    h.send(a, R"({"op":"ping"})");
    h.send(a, R"({"op":"pong"})");
    const auto frames = a.session->take();
    QCOMPARE(frames.size(), std::size_t(2));
    QCOMPARE(op(frames[0]), std::string("pong"));
    QCOMPARE(str(frames[0], "ackId"), std::string("p"));
    QCOMPARE(op(frames[1]), std::string("pong"));
    QVERIFY(!frames[1].contains("ackId"));
}

void TestServerProtocol::requestDefaultHandler()
{
    Harness h;
    std::vector<std::string> defaultTopics;
    h.protocol.setRequestHandler("named", [](const RequestContext &, std::shared_ptr<Responder> responder) {
        responder->reply(R"("named")");
    });
    h.protocol.setDefaultRequestHandler([&](const RequestContext &context, std::shared_ptr<Responder> responder) {
        defaultTopics.emplace_back(context.topic);
        QVERIFY(context.expectsReply);
        QVERIFY(context.clientName.empty()); // the harness's connect frame has no name
        responder->reply(R"("default")");
    });
    Client a = h.connect();
    h.send(a, R"({"op":"request","topic":"named","ackId":"1"})");
    h.send(a, R"({"op":"request","topic":"anything.else","ackId":"2"})");
    auto frames = a.session->take();
    QCOMPARE(frames.size(), std::size_t(4));
    QCOMPARE(str(frames[1], "payload"), std::string("named"));
    QCOMPARE(str(frames[3], "payload"), std::string("default"));
    QCOMPARE(str(frames[3], "topic"), std::string("anything.else"));
    QCOMPARE(defaultTopics, std::vector<std::string>{"anything.else"});

    // Removing the default handler brings the 404 back.
    h.protocol.setDefaultRequestHandler({});
    h.send(a, R"({"op":"request","topic":"anything.else","ackId":"3"})");
    frames = a.session->take();
    QCOMPARE(frames.size(), std::size_t(2));
    QCOMPARE(str(frames[1], "topic"), std::string("error"));
    QCOMPARE(num(frames[1].at("payload").as_object(), "status"), std::int64_t(404));
}

void TestServerProtocol::requestFireAndForget()
{
    Harness h;
    std::vector<std::string> payloads;
    std::vector<bool> expectsReply;
    std::shared_ptr<Responder> kept;
    h.protocol.setRequestHandler("log", [&](const RequestContext &context, std::shared_ptr<Responder> responder) {
        payloads.emplace_back(context.payload);
        expectsReply.push_back(context.expectsReply);
        responder->reply(R"({"ignored":true})");
    });
    h.protocol.setRequestHandler("later", [&](const RequestContext &, std::shared_ptr<Responder> responder) {
        kept = std::move(responder);
    });
    h.protocol.setRequestHandler("fails", [](const RequestContext &, std::shared_ptr<Responder>) {
        throw std::runtime_error("nobody hears this");
    });
    Client a = h.connect();
    h.send(a, R"({"op":"request","topic":"log","payload":{"n":1}})");
    h.send(a, R"({"op":"request","topic":"later","payload":null})");
    h.send(a, R"({"op":"request","topic":"fails"})");
    h.send(a, R"({"op":"request","topic":"no.such.topic"})");
    kept->fail("late failure", 500);
    // The handlers ran, the client heard nothing: no ack, no reply, no error reply.
    QVERIFY(a.session->take().empty());
    QCOMPARE(payloads, std::vector<std::string>{R"({"n":1})"});
    QCOMPARE(expectsReply, std::vector<bool>{false});
    QCOMPARE(h.protocol.counters().requests, std::uint64_t(4));
    QVERIFY(!a.session->closeCode);

    // The same topic with an ackId is answered as usual.
    h.send(a, R"({"op":"request","topic":"log","payload":{"n":2},"ackId":"r"})");
    const auto frames = a.session->take();
    QCOMPARE(frames.size(), std::size_t(2));
    QCOMPARE(op(frames[1]), std::string("reply"));
    QCOMPARE(expectsReply.back(), true);
}

void TestServerProtocol::closeAll()
{
    Harness h;
    Client a = h.connect();
    Client waiting = h.open();
    QVERIFY(h.subscribe(a, "news"));
    h.protocol.closeAll(DisconnectCode::Shutdown, "maintenance");
    for (Client *c : {&a, &waiting}) {
        const auto frames = c->session->take();
        QCOMPARE(frames.size(), std::size_t(1));
        QCOMPARE(op(frames[0]), std::string("disconnect"));
        QCOMPARE(num(frames[0], "code"), std::int64_t(3000));
        QCOMPARE(str(frames[0], "reason"), std::string("maintenance"));
        QCOMPARE(frames[0].at("reconnect").as_bool(), true);
        QCOMPARE(c->session->closeCode, std::optional<std::uint16_t>(3000));
    }
    QCOMPARE(h.hub.counters().sessions, std::size_t(0));
    h.protocol.closed(a.handle);
    h.protocol.closed(waiting.handle);

    // closeAll closed the Hub: a connection that arrives afterwards (the transport still
    // accepting during a drain) is refused at once with 3000; its `connect` is never welcomed.
    QVERIFY(h.hub.isClosed());
    Client late = h.open();
    QCOMPARE(late.session->closeCode, std::optional<std::uint16_t>(3000));
    h.send(late, R"({"op":"connect","version":1})");
    const auto frames = late.session->take();
    QCOMPARE(frames.size(), std::size_t(1));
    QCOMPARE(op(frames[0]), std::string("disconnect"));
    QCOMPARE(num(frames[0], "code"), std::int64_t(3000));
    QCOMPARE(str(frames[0], "reason"), std::string("server shutting down"));
    QCOMPARE(late.session->closeCode, std::optional<std::uint16_t>(3000));
    QVERIFY(late.session->attachedSessionId.empty());
    QCOMPARE(h.hub.counters().sessions, std::size_t(0));
    QCOMPARE(h.protocol.counters().shutdownRefusals, std::uint64_t(1));
    h.protocol.closed(late.handle);

    // Reopened (a gateway listening again), connects are welcome again.
    h.hub.reopen();
    Client again = h.open();
    h.send(again, R"({"op":"connect","version":1})");
    const auto welcome = again.session->take();
    QCOMPARE(welcome.size(), std::size_t(1));
    QCOMPARE(op(welcome[0]), std::string("welcome"));
}

void TestServerProtocol::closedDetaches()
{
    Harness h;
    Client a = h.connect();
    QVERIFY(h.subscribe(a, "news"));
    QCOMPARE(h.hub.counters().sessions, std::size_t(1));
    h.protocol.closed(a.handle);
    QCOMPARE(h.hub.counters().sessions, std::size_t(0));
    QCOMPARE(h.hub.subscriberCount("news"), std::size_t(0));
    QVERIFY(h.protocol.sessionId(a.handle).empty());
    h.send(a, R"({"op":"ping"})"); // unknown handle: ignored
    QVERIFY(a.session->frames.empty());
    h.protocol.closed(a.handle);   // twice: no-op
}

void TestServerProtocol::channelLimit()
{
    HubOptions hubOptions;
    hubOptions.maxChannelsPerSession = 2;
    Harness h({}, hubOptions);
    Client a = h.connect();
    QVERIFY(h.subscribe(a, "c1"));
    QVERIFY(h.subscribe(a, "c2"));
    h.send(a, R"({"op":"subscribe","channel":"c3","ackId":"3"})");
    const auto frames = a.session->take();
    QCOMPARE(frames.size(), std::size_t(1));
    QCOMPARE(num(frames[0], "code"), std::int64_t(431));
    QCOMPARE(str(frames[0], "ackId"), std::string("3"));
    QCOMPARE(h.protocol.counters().protocolErrors, std::uint64_t(1));
}

void TestServerProtocol::controlFrameEncoding()
{
    // Encoders escape strings and always produce valid JSON.
    const AckId ackId{"q\"1\\", false};
    const SharedFrame frames[] = {
        encodeWelcomeFrame("s\n1", std::chrono::milliseconds(1000), "\xe2\x98\x83"),
        encodeUnsubscribedFrame("c", ackId),
        encodeAckFrame(AckId{"17", true}, 5),
        encodeAckFrame({}),
        encodeReplyFrame("t", "", ackId),
        encodeErrorReplyFrame("m\"", 500, "line\t1", ackId),
        encodeErrorFrame(Error::RateLimited, "slow down", ackId, "news"),
        encodePingFrame(),
        encodePongFrame(),
        encodeDisconnectFrame(DisconnectCode::BadProtocol, "bye"),
    };
    for (const SharedFrame &frame : frames) {
        json::error_code ec;
        const json::value value = json::parse(frame->bytes, ec);
        QVERIFY2(!ec && value.is_object(), frame->bytes.c_str());
    }
    QCOMPARE(json::parse(frames[0]->bytes).at("session").as_string(), json::string("s\n1"));
    QCOMPARE(json::parse(frames[2]->bytes).at("ackId").as_int64(), std::int64_t(17));
    QVERIFY(json::parse(frames[3]->bytes).as_object().size() == 1);
    QVERIFY(json::parse(frames[4]->bytes).at("payload").is_null());
    QCOMPARE(json::parse(frames[5]->bytes).at("ackId").as_string(), json::string("q\"1\\"));
    QCOMPARE(json::parse(frames[6]->bytes).at("name").as_string(), json::string("rate_limited"));
    QCOMPARE(json::parse(frames[9]->bytes).at("reconnect").as_bool(), false);
}

void TestServerProtocol::controlFramesCountAgainstTheRate()
{
    ServerProtocolOptions options;
    options.limits.opsPerSecond = 10;
    options.limits.opsBurst = 5;
    options.limits.rateViolationsBeforeClose = 3;
    Harness h(options);
    Client flooder = h.open(); // before `connect`: control frames are limited all the same
    for (int i = 0; i < 5; ++i)
        QVERIFY(h.protocol.receiveControl(flooder.handle));
    QVERIFY(!h.protocol.receiveControl(flooder.handle));
    QVERIFY(!h.protocol.receiveControl(flooder.handle));
    QVERIFY(!flooder.session->closeCode);
    QVERIFY(flooder.session->frames.empty()); // refused pings get no error frames
    QVERIFY(!h.protocol.receiveControl(flooder.handle));
    QCOMPARE(flooder.session->closeCode, std::optional<std::uint16_t>(3005));
    QCOMPARE(h.protocol.counters().controlFramesIn, std::uint64_t(8));
    QCOMPARE(h.protocol.counters().controlRateLimited, std::uint64_t(3));
    QCOMPARE(h.protocol.counters().floodDisconnects, std::uint64_t(1));
    QVERIFY(!h.protocol.receiveControl(flooder.handle)); // closing: nothing more is answered

    // Pings and messages share one bucket; tokens come back with time.
    Client client = h.connect();
    for (int i = 0; i < 4; ++i)
        QVERIFY(h.protocol.receiveControl(client.handle));
    QVERIFY(!h.protocol.receiveControl(client.handle));
    h.timer.advance(std::chrono::milliseconds(200)); // two tokens at 10/s
    QVERIFY(h.protocol.receiveControl(client.handle));
    QVERIFY(h.protocol.receiveControl(client.handle));
    QVERIFY(!h.protocol.receiveControl(client.handle));
    QVERIFY(!client.session->closeCode);
    QVERIFY(!h.protocol.receiveControl(ServerProtocol::ConnectionHandle(9999)));
}

// Transports log refusals with the peer and the user: the Hub tells a session who it is once
// attached, and the protocol tells it of every operation it refused with an error frame.
void TestServerProtocol::sessionLearnsItsUserAndEveryRefusal()
{
    Harness h;
    h.protocol.setConnectAuthenticator([](std::string_view) {
        ConnectDecision decision;
        decision.principal.userId = "alice";
        return decision;
    });
    Client c = h.open();
    h.send(c, R"({"op":"subscribe","channel":"news"})"); // before connect
    QCOMPARE(c.session->refusals.size(), std::size_t(1));
    QCOMPARE(c.session->refusals[0].code, 400);
    QCOMPARE(c.session->refusals[0].reason, std::string("send 'connect' first"));
    QVERIFY(c.session->attachedUserId.empty());

    h.send(c, R"({"op":"connect","version":1,"token":"t"})");
    QCOMPARE(c.session->attachedUserId, std::string("alice"));
    QCOMPARE(c.session->attachedSessionId, h.protocol.sessionId(c.handle));
    c.session->take();

    h.send(c, R"({"op":"publish","channel":"news","data":{"v":1e400}})");       // number out of range
    h.send(c, R"({"op":"subscribe","channel":"news","filter":[]})");            // invalid filter
    h.send(c, R"({"op":"subscribe","channel":"private-room","auth":"x"})");    // join denied
    h.send(c, R"({"op":"publish","channel":"elsewhere","event":"e","data":1})"); // not subscribed
    const auto &refusals = c.session->refusals;
    QCOMPARE(refusals.size(), std::size_t(5));
    QCOMPARE(refusals[1].code, 400);
    QVERIFY2(refusals[1].reason.find("number") != std::string::npos, refusals[1].reason.c_str());
    QCOMPARE(refusals[2].code, 400);
    QVERIFY2(refusals[2].reason.find("invalid filter") != std::string::npos, refusals[2].reason.c_str());
    QVERIFY(refusals[3].code == 401 || refusals[3].code == 403);
    QCOMPARE(refusals[4].code, 403);
    // Every error frame sent was announced, no more.
    std::size_t errors = 0;
    for (const auto &frame : c.session->take())
        errors += op(frame) == "error";
    QCOMPARE(errors, std::size_t(4));
}

QTEST_APPLESS_MAIN(TestServerProtocol)
#include "tst_serverprotocol.moc"
