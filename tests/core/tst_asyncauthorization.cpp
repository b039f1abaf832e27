// Asynchronous authorization: an authorizer that answers later (a database, a subscribe proxy)
// leaves the Hub serving everyone else; a join whose session leaves or unsubscribes is cancelled
// and its late answer ignored; a deadline refuses a join not answered in time (504); late and
// double answers are harmless; a throwing authorizer denies.
#include "switchboard/Hub.h"
#include "switchboard/MessageEncoding.h"

#include "HubTestSupport.h"
#include "ProtocolHarness.h"

#include <QtTest>

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

using namespace switchboard;
using namespace std::chrono_literals;
using Recording = ::RecordingSession; // the Hub-level one (HubTestSupport.h)

namespace {

/// An authorizer that keeps every request and its answer for the test to decide later.
struct HeldAuthorizer {
    struct Held {
        std::string channel;
        std::string sessionId;
        AuthAnswer answer;
    };
    std::vector<Held> held;
    AsyncAuthorizer callable()
    {
        return [this](const AuthRequest &request, AuthAnswer answer) {
            held.push_back({std::string(request.channel), std::string(request.sessionId), std::move(answer)});
        };
    }
};

/// The outcome of one Hub::join: how often `done` ran and what it said.
struct JoinOutcome {
    int calls = 0;
    JoinResult result;
    std::chrono::milliseconds at{-1}; ///< virtual time of the (last) call
};

std::function<void(JoinResult)> record(JoinOutcome &outcome, const Timer &timer)
{
    return [&outcome, &timer](JoinResult result) {
        ++outcome.calls;
        outcome.result = std::move(result);
        outcome.at = timer.now();
    };
}

AuthDecision allow()
{
    AuthDecision decision;
    decision.allowed = true;
    return decision;
}

} // namespace

class TestAsyncAuthorization : public QObject {
    Q_OBJECT
private slots:
    void othersAreServedWhileAJoinWaits();
    void slowAuthorizerDoesNotDelayOthers();
    void denyLater();
    void detachCancelsPendingJoin();
    void leaveCancelsPendingJoin();
    void presenceJoinCancelledLeavesNoMember();
    void deadlineRefusesJoin();
    void deadlineOverProtocol();
    void refusalCodeAndReasonReachTheClient();
    void doubleAnswerIsHarmless();
    void pendingAuthorizationCountsAgainstLimits();
    void throwingAuthorizerDenies();
    void answerAfterHubIsGone();
    void synchronousAuthorizerStaysSynchronous();
};

void TestAsyncAuthorization::othersAreServedWhileAJoinWaits()
{
    ManualTimer timer;
    Hub hub(timer);
    HeldAuthorizer authorizer;
    hub.setAsyncAuthorizer(authorizer.callable());
    auto waiting = std::make_shared<Recording>();
    auto other = std::make_shared<Recording>();
    const auto a = hub.attach(waiting);
    const auto b = hub.attach(other);

    JoinOutcome pending;
    hub.join(a, "private-room", {}, record(pending, timer));
    QCOMPARE(pending.calls, 0);
    QCOMPARE(authorizer.held.size(), std::size_t(1));
    QCOMPARE(authorizer.held[0].channel, std::string("private-room"));
    QCOMPARE(authorizer.held[0].sessionId, a);
    QVERIFY(!hub.isSubscribed(a, "private-room"));

    // Meanwhile the Hub serves everyone else: joins, publishes, deliveries.
    QVERIFY(!joinNow(hub, b, "news").error);
    hub.broadcast("news", "tick", "1");
    QCOMPARE(other->frames.size(), std::size_t(1));

    authorizer.held[0].answer(allow());
    QCOMPARE(pending.calls, 1);
    QVERIFY(!pending.result.error);
    QVERIFY(hub.isSubscribed(a, "private-room"));
    hub.broadcast("private-room", "hello", "2");
    QCOMPARE(waiting->frames.size(), std::size_t(1));
}

void TestAsyncAuthorization::slowAuthorizerDoesNotDelayOthers()
{
    // Seed 002 measured a 300 ms synchronous authorizer stalling the whole Hub for 302 ms. Here
    // the authorizer answers from a 300 ms timer; the other session's publish, ack and delivery
    // happen at virtual time 0, the slow join completes at 300 ms.
    testing::Harness h;
    h.hub.setAsyncAuthorizer([&h](const AuthRequest &, AuthAnswer answer) {
        h.timer.start(300ms, [answer = std::move(answer)] { answer(allow()); });
    });
    testing::Client slow = h.connect();
    testing::Client fast = h.connect();
    QVERIFY(h.subscribe(fast, "news"));

    h.send(slow, R"({"op":"subscribe","channel":"private-db","ackId":1})");
    QVERIFY(slow.session->take().empty()); // waiting for the authorizer
    h.send(fast, R"({"op":"publish","channel":"news","event":"e","data":{"n":1},"ackId":2})");
    auto frames = fast.session->take();
    QCOMPARE(frames.size(), std::size_t(2)); // its own message and the ack, both at once
    QCOMPARE(h.timer.now(), 0ms);
    bool sawAck = false, sawMessage = false;
    for (const auto &f : frames) {
        sawAck = sawAck || testing::op(f) == "ack";
        sawMessage = sawMessage || testing::op(f) == "message";
    }
    QVERIFY(sawAck && sawMessage);

    h.timer.advance(299ms);
    QVERIFY(slow.session->take().empty());
    h.timer.advance(1ms);
    frames = slow.session->take();
    QCOMPARE(frames.size(), std::size_t(1));
    QCOMPARE(testing::op(frames[0]), std::string("subscribed"));
    QCOMPARE(testing::str(frames[0], "channel"), std::string("private-db"));
}

void TestAsyncAuthorization::denyLater()
{
    ManualTimer timer;
    Hub hub(timer);
    HeldAuthorizer authorizer;
    hub.setAsyncAuthorizer(authorizer.callable());
    const auto a = hub.attach(std::make_shared<Recording>());
    JoinOutcome outcome;
    hub.join(a, "private-x", {}, record(outcome, timer));
    timer.advance(50ms);
    authorizer.held[0].answer(AuthDecision{});
    QCOMPARE(outcome.calls, 1);
    QCOMPARE(outcome.result.error, make_error_code(Error::Unauthorized));
    QCOMPARE(hub.counters().authFailures, std::uint64_t(1));
    QCOMPARE(hub.counters().channels, std::size_t(0));
    QVERIFY(!hub.isSubscribed(a, "private-x"));
    QCOMPARE(timer.pendingCount(), std::size_t(0)); // the deadline was cancelled
}

void TestAsyncAuthorization::detachCancelsPendingJoin()
{
    ManualTimer timer;
    Hub hub(timer);
    HeldAuthorizer authorizer;
    hub.setAsyncAuthorizer(authorizer.callable());
    const auto a = hub.attach(std::make_shared<Recording>());
    JoinOutcome outcome;
    hub.join(a, "private-x", {}, record(outcome, timer));
    hub.detach(a);
    QCOMPARE(outcome.calls, 1);
    QCOMPARE(outcome.result.error, make_error_code(Error::Cancelled));
    QCOMPARE(timer.pendingCount(), std::size_t(0)); // no deadline left behind

    authorizer.held[0].answer(allow()); // the answer for a session that left
    QCOMPARE(outcome.calls, 1);
    QCOMPARE(hub.counters().channels, std::size_t(0));
    QCOMPARE(hub.counters().sessions, std::size_t(0));
    QCOMPARE(hub.subscriberCount("private-x"), std::size_t(0));
}

void TestAsyncAuthorization::leaveCancelsPendingJoin()
{
    ManualTimer timer;
    Hub hub(timer);
    HeldAuthorizer authorizer;
    hub.setAsyncAuthorizer(authorizer.callable());
    const auto a = hub.attach(std::make_shared<Recording>());
    const auto b = hub.attach(std::make_shared<Recording>());
    JoinOutcome first;
    hub.join(a, "private-x", {}, record(first, timer));
    // Another session in the same channel: the cancelled join must not disturb its channel.
    JoinOutcome others;
    hub.join(b, "private-x", {}, record(others, timer));
    authorizer.held[1].answer(allow());
    QVERIFY(!others.result.error);

    QCOMPARE(hub.leave(a, "private-x"), std::error_code());
    QCOMPARE(first.calls, 1);
    QCOMPARE(first.result.error, make_error_code(Error::Cancelled));
    authorizer.held[0].answer(allow()); // late: ignored
    QCOMPARE(first.calls, 1);
    QVERIFY(!hub.isSubscribed(a, "private-x"));
    QCOMPARE(hub.subscriberCount("private-x"), std::size_t(1));

    // Joining again asks again, and this time the answer counts.
    JoinOutcome second;
    hub.join(a, "private-x", {}, record(second, timer));
    QCOMPARE(authorizer.held.size(), std::size_t(3));
    authorizer.held[2].answer(allow());
    QCOMPARE(second.calls, 1);
    QVERIFY(!second.result.error);
    QCOMPARE(hub.subscriberCount("private-x"), std::size_t(2));
    hub.leave(b, "private-x");
    hub.leave(a, "private-x");
    QCOMPARE(hub.counters().channels, std::size_t(0));
}

void TestAsyncAuthorization::presenceJoinCancelledLeavesNoMember()
{
    ManualTimer timer;
    Hub hub(timer);
    HeldAuthorizer authorizer;
    hub.setAsyncAuthorizer(authorizer.callable());
    auto watcherSession = std::make_shared<Recording>();
    const auto watcher = hub.attach(watcherSession, Principal{"w", {}, {}});
    const auto a = hub.attach(std::make_shared<Recording>(), Principal{"ada", {}, {}});
    JoinOutcome watching;
    hub.join(watcher, "presence-room", {}, record(watching, timer));
    authorizer.held[0].answer(allow());
    QVERIFY(!watching.result.error);
    watcherSession->frames.clear();

    JoinOutcome outcome;
    hub.join(a, "presence-room", {}, record(outcome, timer));
    hub.detach(a);
    authorizer.held[1].answer(allow());
    std::vector<Member> roster;
    hub.members("presence-room", [&](std::vector<Member> members) { roster = std::move(members); });
    QCOMPARE(roster.size(), std::size_t(1));
    QCOMPARE(roster[0].userId, std::string("w"));
    QVERIFY(watcherSession->presenceFrames().empty()); // nobody heard of ada
}

void TestAsyncAuthorization::deadlineRefusesJoin()
{
    ManualTimer timer;
    HubOptions options;
    options.authorizationTimeout = 1000ms;
    Hub hub(timer, options);
    HeldAuthorizer authorizer;
    hub.setAsyncAuthorizer(authorizer.callable());
    const auto a = hub.attach(std::make_shared<Recording>());
    JoinOutcome outcome;
    hub.join(a, "private-x", {}, record(outcome, timer));
    timer.advance(999ms);
    QCOMPARE(outcome.calls, 0);
    timer.advance(1ms);
    QCOMPARE(outcome.calls, 1);
    QCOMPARE(outcome.at, 1000ms);
    QCOMPARE(outcome.result.error, make_error_code(Error::AuthorizationTimeout));
    QCOMPARE(static_cast<int>(Error::AuthorizationTimeout), 504);
    QCOMPARE(errorName(Error::AuthorizationTimeout), std::string_view("authorization_timeout"));
    QCOMPARE(hub.counters().authTimeouts, std::uint64_t(1));
    QCOMPARE(hub.counters().channels, std::size_t(0));

    authorizer.held[0].answer(allow()); // after the deadline: ignored
    QCOMPARE(outcome.calls, 1);
    QVERIFY(!hub.isSubscribed(a, "private-x"));
    QCOMPARE(hub.counters().channels, std::size_t(0));

    // The refused join no longer blocks the channel: a new join is asked afresh.
    JoinOutcome retry;
    hub.join(a, "private-x", {}, record(retry, timer));
    QCOMPARE(authorizer.held.size(), std::size_t(2));
    authorizer.held[1].answer(allow());
    QVERIFY(!retry.result.error);
    QVERIFY(hub.isSubscribed(a, "private-x"));
}

void TestAsyncAuthorization::deadlineOverProtocol()
{
    HubOptions hubOptions;
    hubOptions.authorizationTimeout = 200ms;
    testing::Harness h({}, hubOptions);
    h.hub.setAsyncAuthorizer([](const AuthRequest &, AuthAnswer) {}); // never answers
    testing::Client a = h.connect();
    h.send(a, R"({"op":"subscribe","channel":"private-x","ackId":7})");
    QVERIFY(a.session->take().empty());
    h.timer.advance(200ms);
    const auto frames = a.session->take();
    QCOMPARE(frames.size(), std::size_t(1));
    QCOMPARE(testing::op(frames[0]), std::string("error"));
    QCOMPARE(testing::num(frames[0], "code"), std::int64_t(504));
    QCOMPARE(testing::num(frames[0], "ackId"), std::int64_t(7));
    QCOMPARE(testing::str(frames[0], "channel"), std::string("private-x"));
    QCOMPARE(h.hub.counters().authTimeouts, std::uint64_t(1));
}

void TestAsyncAuthorization::refusalCodeAndReasonReachTheClient()
{
    // An authorizer that asks a backend says why it refuses: 403 with the backend's message, or
    // 502 when the backend is down (not an auth failure: nobody said no).
    testing::Harness h;
    HeldAuthorizer authorizer;
    h.hub.setAsyncAuthorizer(authorizer.callable());
    testing::Client a = h.connect();
    h.send(a, R"({"op":"subscribe","channel":"private-x","ackId":1})");
    h.send(a, R"({"op":"subscribe","channel":"private-y","ackId":2})");
    QCOMPARE(authorizer.held.size(), std::size_t(2));
    AuthDecision forbidden;
    forbidden.refusal = Error::Forbidden;
    forbidden.reason = "not in this team";
    authorizer.held[0].answer(forbidden);
    AuthDecision down;
    down.refusal = Error::BadGateway;
    down.reason = "backend unreachable";
    authorizer.held[1].answer(down);
    const auto frames = a.session->take();
    QCOMPARE(frames.size(), std::size_t(2));
    QCOMPARE(testing::num(frames[0], "code"), std::int64_t(403));
    QCOMPARE(testing::str(frames[0], "message"), std::string("not in this team"));
    QCOMPARE(testing::str(frames[0], "channel"), std::string("private-x"));
    QCOMPARE(testing::num(frames[1], "code"), std::int64_t(502));
    QCOMPARE(testing::str(frames[1], "name"), std::string("bad_gateway"));
    QCOMPARE(testing::str(frames[1], "message"), std::string("backend unreachable"));
    QCOMPARE(h.hub.counters().authFailures, std::uint64_t(1));
    QCOMPARE(h.hub.counters().channels, std::size_t(0));
}

void TestAsyncAuthorization::doubleAnswerIsHarmless()
{
    ManualTimer timer;
    Hub hub(timer);
    HeldAuthorizer authorizer;
    hub.setAsyncAuthorizer(authorizer.callable());
    const auto a = hub.attach(std::make_shared<Recording>());
    JoinOutcome outcome;
    hub.join(a, "private-x", {}, record(outcome, timer));
    AuthAnswer answer = authorizer.held[0].answer;
    answer(allow());
    answer(allow());
    answer(AuthDecision{}); // a change of mind comes too late
    authorizer.held[0].answer(allow()); // a copy of the answer is the same answer
    QCOMPARE(outcome.calls, 1);
    QVERIFY(!outcome.result.error);
    QCOMPARE(hub.subscriberCount("private-x"), std::size_t(1));
    QCOMPARE(hub.counters().authFailures, std::uint64_t(0));

    // An authorizer answering twice inline is harmless too.
    hub.setAsyncAuthorizer([](const AuthRequest &, AuthAnswer answer) {
        answer(allow());
        answer(AuthDecision{});
    });
    JoinOutcome inline_;
    hub.join(a, "private-y", {}, record(inline_, timer));
    QCOMPARE(inline_.calls, 1);
    QVERIFY(!inline_.result.error);
    timer.advance(hub.options().authorizationTimeout); // no deadline was left running
    QCOMPARE(inline_.calls, 1);
    QCOMPARE(hub.counters().authTimeouts, std::uint64_t(0));
    QVERIFY(hub.isSubscribed(a, "private-y"));
}

void TestAsyncAuthorization::pendingAuthorizationCountsAgainstLimits()
{
    ManualTimer timer;
    HubOptions options;
    options.maxChannelsPerSession = 2;
    Hub hub(timer, options);
    HeldAuthorizer authorizer;
    hub.setAsyncAuthorizer(authorizer.callable());
    const auto a = hub.attach(std::make_shared<Recording>());
    JoinOutcome first, again, second, third;
    hub.join(a, "private-1", {}, record(first, timer));
    hub.join(a, "private-1", {}, record(again, timer));
    QCOMPARE(again.calls, 1);
    QCOMPARE(again.result.error, make_error_code(Error::AlreadySubscribed));
    hub.join(a, "private-2", {}, record(second, timer));
    hub.join(a, "news", {}, record(third, timer));
    QCOMPARE(third.calls, 1);
    QCOMPARE(third.result.error, make_error_code(Error::ChannelLimit));
    QCOMPARE(authorizer.held.size(), std::size_t(2));
}

void TestAsyncAuthorization::throwingAuthorizerDenies()
{
    ManualTimer timer;
    Hub hub(timer);
    const auto a = hub.attach(std::make_shared<Recording>());
    hub.setAsyncAuthorizer([](const AuthRequest &, AuthAnswer) { throw std::runtime_error("database down"); });
    JoinOutcome outcome;
    hub.join(a, "private-x", {}, record(outcome, timer));
    QCOMPARE(outcome.calls, 1);
    QCOMPARE(outcome.result.error, make_error_code(Error::Internal));
    QCOMPARE(hub.counters().authFailures, std::uint64_t(1));
    QCOMPARE(timer.pendingCount(), std::size_t(0));
    QCOMPARE(hub.counters().channels, std::size_t(0));

    hub.setAuthorizer([](const AuthRequest &) -> AuthDecision { throw std::runtime_error("bug"); });
    JoinOutcome sync;
    hub.join(a, "private-x", {}, record(sync, timer));
    QCOMPARE(sync.calls, 1);
    QCOMPARE(sync.result.error, make_error_code(Error::Internal));
    QCOMPARE(hub.counters().authFailures, std::uint64_t(2));
}

void TestAsyncAuthorization::answerAfterHubIsGone()
{
    ManualTimer timer;
    HeldAuthorizer authorizer;
    JoinOutcome outcome;
    {
        Hub hub(timer);
        hub.setAsyncAuthorizer(authorizer.callable());
        const auto a = hub.attach(std::make_shared<Recording>());
        hub.join(a, "private-x", {}, record(outcome, timer));
    }
    authorizer.held[0].answer(allow()); // no Hub any more: nothing happens
    QCOMPARE(outcome.calls, 0);
    timer.advance(60s); // nor does the deadline fire into a destroyed Hub
    QCOMPARE(outcome.calls, 0);
}

void TestAsyncAuthorization::synchronousAuthorizerStaysSynchronous()
{
    ManualTimer timer;
    Hub hub(timer);
    hub.setAuthorizer([](const AuthRequest &request) { return AuthDecision{request.auth == "ok", {}, {}}; });
    const auto a = hub.attach(std::make_shared<Recording>());
    JoinRequest request;
    request.auth = "ok";
    QVERIFY(!joinNow(hub, a, "private-x", request).error); // done ran inside join()
    request.auth = "no";
    QCOMPARE(joinNow(hub, a, "private-y", request).error, make_error_code(Error::Unauthorized));
    timer.advance(hub.options().authorizationTimeout); // no deadline for an answer given inline
    QCOMPARE(hub.counters().authTimeouts, std::uint64_t(0));
    QVERIFY(hub.isSubscribed(a, "private-x"));
}

QTEST_GUILESS_MAIN(TestAsyncAuthorization)
#include "tst_asyncauthorization.moc"
