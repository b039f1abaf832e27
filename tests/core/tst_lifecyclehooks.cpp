// Hub lifecycle hooks: session connected / disconnected (with user, client name and close code)
// and channel occupied / vacated, through the Hub and through the ServerProtocol's close paths.
#include "switchboard/Hub.h"
#include "switchboard/ServerProtocol.h"

#include "ProtocolHarness.h"

#include <QtTest>

#include <stdexcept>
#include <string>
#include <vector>

using namespace switchboard;
using namespace switchboard::testing;

namespace {

/// Every hook call as one line of text, in order: "connected <user> <client>",
/// "disconnected <user> <code> <reason>", "occupied <channel>", "vacated <channel>",
/// "presence joined|left <channel> <user>".
struct EventLog {
    std::vector<std::string> lines;
    std::vector<std::string> sessionIds; // of the connected / disconnected events, in order

    void install(Hub &hub)
    {
        LifecycleHooks hooks;
        hooks.connected = [this](const SessionConnected &e) {
            sessionIds.emplace_back(e.sessionId);
            lines.push_back("connected " + std::string(e.userId) + ' ' + std::string(e.clientName));
        };
        hooks.disconnected = [this](const SessionDisconnected &e) {
            sessionIds.emplace_back(e.sessionId);
            lines.push_back("disconnected " + std::string(e.userId) + ' ' + std::to_string(e.code) + ' '
                            + std::string(e.reason));
        };
        hooks.channelOccupied = [this](std::string_view channel) { lines.push_back("occupied " + std::string(channel)); };
        hooks.channelVacated = [this](std::string_view channel) { lines.push_back("vacated " + std::string(channel)); };
        hub.setLifecycleHooks(std::move(hooks));
        hub.setPresenceHook([this](const PresenceEvent &e) {
            lines.push_back(std::string("presence ") + (e.kind == PresenceEvent::Kind::Joined ? "joined " : "left ")
                            + e.channel + ' ' + e.member.userId);
        });
    }
    std::vector<std::string> take() { return std::exchange(lines, {}); }
};

using Lines = std::vector<std::string>;

} // namespace

class TestLifecycleHooks : public QObject
{
    Q_OBJECT

private slots:
    void connectAndDisconnectThroughProtocol();
    void occupiedOnFirstSubscriberVacatedOnLast();
    void refusedJoinFiresNothing();
    void detachReportsPresenceThenVacatedThenDisconnected();
    void serverDisconnectReportsItsCode_data();
    void serverDisconnectReportsItsCode();
    void refusedConnectFiresNothing();
    void hookMayBroadcastAndThrow();
    void clearedHooksAreNotCalled();
};

void TestLifecycleHooks::connectAndDisconnectThroughProtocol()
{
    EventLog log; // outlives the Harness: its hooks run until the protocol is gone
    Harness h;
    log.install(h.hub);
    h.protocol.setConnectAuthenticator([](std::string_view token) {
        ConnectDecision decision;
        decision.principal.userId = std::string(token);
        return decision;
    });
    Client c = h.open();
    h.send(c, R"({"op":"connect","version":1,"token":"alice","name":"dashboard"})");
    QCOMPARE(log.take(), (Lines{"connected alice dashboard"}));
    QCOMPARE(log.sessionIds.at(0), h.protocol.sessionId(c.handle));

    // The peer closed with 4000: the transport reports that code.
    h.protocol.closed(c.handle, 4000, "bye");
    QCOMPARE(log.take(), (Lines{"disconnected alice 4000 bye"}));
    QCOMPARE(log.sessionIds.at(1), log.sessionIds.at(0));

    // A transport that saw no close frame reports nothing: 1006.
    Client d = h.connect("bob");
    log.take();
    h.protocol.closed(d.handle);
    QCOMPARE(log.take(), (Lines{"disconnected bob 1006 "}));
}

void TestLifecycleHooks::occupiedOnFirstSubscriberVacatedOnLast()
{
    EventLog log; // outlives the Harness: its hooks run until the protocol is gone
    Harness h;
    log.install(h.hub);
    Client a = h.connect();
    Client b = h.connect();
    log.take();
    QVERIFY(h.subscribe(a, "news"));
    QCOMPARE(log.take(), (Lines{"occupied news"}));
    QVERIFY(h.subscribe(b, "news"));
    QVERIFY(h.subscribe(a, "news")); // idempotent: nothing changes
    QCOMPARE(log.take(), Lines{});
    h.send(a, R"({"op":"unsubscribe","channel":"news"})");
    QCOMPARE(log.take(), Lines{});
    h.send(b, R"({"op":"unsubscribe","channel":"news"})");
    QCOMPARE(log.take(), (Lines{"vacated news"}));
    b.session->take(); // the unsubscribed frame
    QVERIFY(h.subscribe(b, "news"));
    QCOMPARE(log.take(), (Lines{"occupied news"}));
}

void TestLifecycleHooks::refusedJoinFiresNothing()
{
    EventLog log; // outlives the Harness: its hooks run until the protocol is gone
    Harness h;
    log.install(h.hub);
    h.hub.setAuthorizer([](const AuthRequest &) { return AuthDecision{false}; });
    Client a = h.connect();
    log.take();
    h.send(a, R"({"op":"subscribe","channel":"private-room"})");
    QCOMPARE(log.take(), Lines{});
    QCOMPARE(h.hub.subscriberCount("private-room"), std::size_t(0));
}

void TestLifecycleHooks::detachReportsPresenceThenVacatedThenDisconnected()
{
    EventLog log; // outlives the Harness: its hooks run until the protocol is gone
    Harness h;
    log.install(h.hub);
    h.protocol.setConnectAuthenticator([](std::string_view token) {
        ConnectDecision decision;
        decision.principal.userId = std::string(token);
        return decision;
    });
    h.hub.setAuthorizer([](const AuthRequest &) { return AuthDecision{true}; });
    Client a = h.connect("alice");
    QVERIFY(h.subscribe(a, "presence-lobby"));
    QVERIFY(h.subscribe(a, "news"));
    // The presence store learns about the member before the subscriber is added.
    QCOMPARE(log.take(), (Lines{"connected alice ", "presence joined presence-lobby alice", "occupied presence-lobby",
                                "occupied news"}));
    h.protocol.closed(a.handle, 1000, {});
    const Lines lines = log.take();
    QCOMPARE(lines.size(), std::size_t(4));
    QCOMPARE(lines.back(), std::string("disconnected alice 1000 "));
    // Channels are left in reverse order of joining; within the presence channel the member
    // leaves before the channel is reported vacated.
    QCOMPARE(lines[0], std::string("vacated news"));
    QCOMPARE(lines[1], std::string("presence left presence-lobby alice"));
    QCOMPARE(lines[2], std::string("vacated presence-lobby"));
}

void TestLifecycleHooks::serverDisconnectReportsItsCode_data()
{
    QTest::addColumn<int>("code");
    QTest::newRow("shutdown") << 3000;
    QTest::newRow("insufficient state") << 3007;
}

void TestLifecycleHooks::serverDisconnectReportsItsCode()
{
    QFETCH(int, code);
    EventLog log; // outlives the Harness: its hooks run until the protocol is gone
    Harness h;
    log.install(h.hub);
    Client a = h.connect();
    log.take();
    h.protocol.closeAll(static_cast<DisconnectCode>(code), "going");
    QCOMPARE(log.take(), (Lines{"disconnected  " + std::to_string(code) + " going"}));
    // The transport's later report changes nothing.
    h.protocol.closed(a.handle, 1000, {});
    QCOMPARE(log.take(), Lines{});
}

void TestLifecycleHooks::refusedConnectFiresNothing()
{
    EventLog log; // outlives the Harness: its hooks run until the protocol is gone
    Harness h;
    log.install(h.hub);
    h.protocol.setConnectAuthenticator([](std::string_view) {
        ConnectDecision decision;
        decision.accepted = false;
        return decision;
    });
    Client c = h.open();
    h.send(c, R"({"op":"connect","version":1,"token":"x"})");
    QCOMPARE(c.session->closeCode, std::optional<std::uint16_t>(3501));
    h.protocol.closed(c.handle, 3501, {});
    QCOMPARE(log.take(), Lines{});
}

void TestLifecycleHooks::hookMayBroadcastAndThrow()
{
    Harness h;
    Client watcher = h.connect();
    QVERIFY(h.subscribe(watcher, "admin"));
    LifecycleHooks hooks;
    hooks.connected = [&h](const SessionConnected &e) {
        h.hub.broadcast("admin", "joined", "{\"session\":\"" + std::string(e.sessionId) + "\"}");
        throw std::runtime_error("a hook that throws");
    };
    hooks.channelOccupied = [](std::string_view) { throw std::runtime_error("another"); };
    h.hub.setLifecycleHooks(std::move(hooks));
    Client a = h.connect();
    QVERIFY(a.session);
    QVERIFY(h.subscribe(a, "news")); // the throwing occupied hook does not break the join
    const auto frames = watcher.session->take();
    QCOMPARE(frames.size(), std::size_t(1));
    QCOMPARE(str(frames[0], "event"), std::string("joined"));
}

void TestLifecycleHooks::clearedHooksAreNotCalled()
{
    EventLog log; // outlives the Harness: its hooks run until the protocol is gone
    Harness h;
    log.install(h.hub);
    h.hub.setLifecycleHooks({});
    Client a = h.connect();
    QVERIFY(h.subscribe(a, "news"));
    h.protocol.closed(a.handle, 1000, {});
    QCOMPARE(log.take(), Lines{});
}

QTEST_APPLESS_MAIN(TestLifecycleHooks)
#include "tst_lifecyclehooks.moc"
