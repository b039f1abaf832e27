// Server-side subscriptions (issue 11, seed 001): Hub::subscribeSession / subscribeUser and the
// unsubscribes, seen by clients through ServerProtocol, and by the core ClientSession.
#include "ClientTestFixtures.h"
#include "ProtocolHarness.h"

#include "switchboard/ContentFilter.h"

#include <QtTest>

using namespace switchboard;
using namespace switchboard::testing;

namespace {

/// Tokens "alice", "alice2" (a second token of alice), "bob": user ids with presence info.
ConnectDecision authenticate(std::string_view token)
{
    ConnectDecision decision;
    if (token == "alice" || token == "alice2")
        decision.principal = Principal{"alice", R"({"name":"Alice"})", {}};
    else if (token == "bob")
        decision.principal = Principal{"bob", R"({"name":"Bob"})", {}};
    else if (!token.empty())
        decision.accepted = false;
    return decision;
}

std::vector<boost::json::object> withOp(const std::vector<boost::json::object> &frames, std::string_view wanted)
{
    std::vector<boost::json::object> out;
    for (const auto &frame : frames) {
        if (op(frame) == wanted)
            out.push_back(frame);
    }
    return out;
}

bool flag(const boost::json::object &frame, std::string_view key)
{
    const auto *value = frame.if_contains(key);
    return value && value->is_bool() && value->get_bool();
}

} // namespace

class tst_ServerSubscriptions : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void subscribeSessionSendsServerSubscribedThenPublications()
    {
        Harness h;
        const Client client = h.connect();
        h.hub.broadcast("news", "first", "1"); // nobody listens: only history
        const std::string id = h.protocol.sessionId(client.handle);

        const ServerSubscriptionResult result = h.hub.subscribeSession(id, "news");
        QVERIFY(!result.error);
        QCOMPARE(result.sessions, std::size_t(1));
        QVERIFY(h.hub.isSubscribed(id, "news"));
        auto frames = client.session->take();
        QCOMPARE(frames.size(), std::size_t(1));
        QCOMPARE(op(frames[0]), std::string("subscribed"));
        QCOMPARE(str(frames[0], "channel"), std::string("news"));
        QVERIFY(flag(frames[0], "server"));
        QVERIFY(!frames[0].contains("ackId"));
        QCOMPARE(str(frames[0], "type"), std::string("public"));
        // The channel's current position: the one publication made before.
        QCOMPARE(num(frames[0], "offset"), std::int64_t(1));
        QVERIFY(!str(frames[0], "epoch").empty());

        h.hub.broadcast("news", "second", R"({"n":2})");
        frames = client.session->take();
        QCOMPARE(frames.size(), std::size_t(1));
        QCOMPARE(op(frames[0]), std::string("message"));
        QCOMPARE(str(frames[0], "event"), std::string("second"));
    }

    void privateChannelBypassesTheAuthorizer()
    {
        Harness h;
        int asked = 0;
        h.hub.setAuthorizer([&](const AuthRequest &) {
            ++asked;
            return AuthDecision{false, {}, {}};
        });
        const Client client = h.connect();
        const std::string id = h.protocol.sessionId(client.handle);
        // The client itself is refused...
        h.send(client, R"({"op":"subscribe","channel":"private-orders","ackId":1})");
        auto frames = client.session->take();
        QCOMPARE(frames.size(), std::size_t(1));
        QCOMPARE(op(frames[0]), std::string("error"));
        QCOMPARE(asked, 1);
        // ...the server decides without asking.
        const auto result = h.hub.subscribeSession(id, "private-orders");
        QVERIFY(!result.error);
        QCOMPARE(result.sessions, std::size_t(1));
        QCOMPARE(asked, 1);
        frames = client.session->take();
        QCOMPARE(frames.size(), std::size_t(1));
        QCOMPARE(str(frames[0], "type"), std::string("private"));
        QVERIFY(flag(frames[0], "server"));
    }

    void invalidNamesAreRefusedNotIgnored_data()
    {
        QTest::addColumn<QString>("channel");
        QTest::newRow("empty") << QString();
        QTest::newRow("wildcard") << QStringLiteral("news/*");
        QTest::newRow("bare presence prefix") << QStringLiteral("presence-");
        QTest::newRow("empty segment") << QStringLiteral("a//b");
    }
    void invalidNamesAreRefusedNotIgnored()
    {
        QFETCH(QString, channel);
        Harness h;
        h.protocol.setConnectAuthenticator(authenticate);
        const Client client = h.connect("alice");
        const std::string id = h.protocol.sessionId(client.handle);
        const std::string name = channel.toStdString();
        QCOMPARE(h.hub.subscribeSession(id, name).error, make_error_code(Error::InvalidName));
        QCOMPARE(h.hub.subscribeUser("alice", name).error, make_error_code(Error::InvalidName));
        QCOMPARE(h.hub.unsubscribeSession(id, name).error, make_error_code(Error::InvalidName));
        QCOMPARE(h.hub.unsubscribeUser("alice", name).error, make_error_code(Error::InvalidName));
        QVERIFY(client.session->take().empty());
        QCOMPARE(h.hub.counters().channels, std::size_t(0));
    }

    void presenceJoinAnnouncesTheMemberAndSendsTheRoster()
    {
        Harness h;
        h.protocol.setConnectAuthenticator(authenticate);
        h.hub.setAuthorizer([](const AuthRequest &) { return AuthDecision{true, {}, {}}; });
        const Client bob = h.connect("bob");
        QVERIFY(h.subscribe(bob, "presence-room"));
        bob.session->take();
        const Client alice = h.connect("alice");

        const auto result = h.hub.subscribeSession(h.protocol.sessionId(alice.handle), "presence-room");
        QCOMPARE(result.sessions, std::size_t(1));
        const auto frames = alice.session->take();
        QCOMPARE(frames.size(), std::size_t(3));
        QCOMPARE(op(frames[0]), std::string("subscribed"));
        QVERIFY(flag(frames[0], "server"));
        QCOMPARE(str(frames[0], "type"), std::string("presence"));
        QCOMPARE(str(frames[1], "event"), std::string("presence:subscription_succeeded"));
        QCOMPARE(frames[1].at("members").as_array().size(), std::size_t(2));
        QCOMPARE(str(frames[2], "event"), std::string("presence:member_added"));
        const auto &member = frames[2].at("member").as_object();
        QCOMPARE(str(member, "id"), std::string("alice"));
        QCOMPARE(str(member.at("info").as_object(), "name"), std::string("Alice"));
        // The others hear about the newcomer as for a client join.
        const auto others = bob.session->take();
        QCOMPARE(others.size(), std::size_t(1));
        QCOMPARE(str(others[0], "event"), std::string("presence:member_added"));
        QCOMPARE(str(others[0].at("member").as_object(), "id"), std::string("alice"));
    }

    void subscribingTwiceIsSuccessWithoutASecondFrame()
    {
        Harness h;
        const Client client = h.connect();
        const std::string id = h.protocol.sessionId(client.handle);
        QCOMPARE(h.hub.subscribeSession(id, "news").sessions, std::size_t(1));
        QCOMPARE(client.session->take().size(), std::size_t(1));
        const auto again = h.hub.subscribeSession(id, "news");
        QVERIFY(!again.error);
        QCOMPARE(again.sessions, std::size_t(1));
        QVERIFY(client.session->take().empty());
        QCOMPARE(h.hub.subscriberCount("news"), std::size_t(1));

        // A channel the client subscribed itself, with a filter: already in, left as it is.
        h.send(client, R"({"op":"subscribe","channel":"alerts","filter":"severity=high"})");
        QCOMPARE(op(client.session->take().at(0)), std::string("subscribed"));
        QCOMPARE(h.hub.subscribeSession(id, "alerts").sessions, std::size_t(1));
        QVERIFY(client.session->take().empty());
        h.hub.broadcast("alerts", "a", R"({"severity":"low"})");
        QVERIFY(client.session->take().empty());
    }

    void serverFilterAppliesToDeliveries()
    {
        Harness h;
        const Client client = h.connect();
        std::string problem;
        auto filter = ContentFilter::parse({"severity=high"}, problem);
        QVERIFY2(filter.has_value(), problem.c_str());
        ServerSubscribeOptions options;
        options.filter = std::make_shared<const ContentFilter>(std::move(*filter));
        QCOMPARE(h.hub.subscribeSession(h.protocol.sessionId(client.handle), "alerts", options).sessions, std::size_t(1));
        client.session->take();
        h.hub.broadcast("alerts", "a", R"({"severity":"low"})");
        h.hub.broadcast("alerts", "b", R"({"severity":"high"})");
        const auto frames = client.session->take();
        QCOMPARE(frames.size(), std::size_t(1));
        QCOMPARE(str(frames[0], "event"), std::string("b"));
    }

    void subscribeUserReachesEverySessionOfThatUserOnly()
    {
        Harness h;
        h.protocol.setConnectAuthenticator(authenticate);
        const Client a1 = h.connect("alice");
        const Client a2 = h.connect("alice2");
        const Client bob = h.connect("bob");
        const Client anonymous = h.connect();

        const auto result = h.hub.subscribeUser("alice", "inbox/alice");
        QVERIFY(!result.error);
        QCOMPARE(result.sessions, std::size_t(2));
        QCOMPARE(withOp(a1.session->take(), "subscribed").size(), std::size_t(1));
        QCOMPARE(withOp(a2.session->take(), "subscribed").size(), std::size_t(1));
        QVERIFY(bob.session->take().empty());
        QVERIFY(anonymous.session->take().empty());
        h.hub.broadcast("inbox/alice", "mail", "{}");
        QCOMPARE(withOp(a1.session->take(), "message").size(), std::size_t(1));
        QCOMPARE(withOp(a2.session->take(), "message").size(), std::size_t(1));
        QVERIFY(bob.session->take().empty());

        // Anonymous sessions are nobody's user: an empty user id is refused, not "everyone".
        QCOMPARE(h.hub.subscribeUser("", "inbox/alice").error, make_error_code(Error::BadRequest));
        QVERIFY(anonymous.session->take().empty());
    }

    void userWithoutSessionsIsNotRemembered()
    {
        Harness h;
        h.protocol.setConnectAuthenticator(authenticate);
        const auto result = h.hub.subscribeUser("alice", "inbox/alice");
        QVERIFY(!result.error);
        QCOMPARE(result.sessions, std::size_t(0));
        const Client later = h.connect("alice");
        QVERIFY(!h.hub.isSubscribed(h.protocol.sessionId(later.handle), "inbox/alice"));
        QCOMPARE(h.hub.counters().channels, std::size_t(0));
    }

    void unknownSessionIsNotFound()
    {
        Harness h;
        QCOMPARE(h.hub.subscribeSession("no-such-session", "news").error, make_error_code(Error::NotFound));
        QCOMPARE(h.hub.unsubscribeSession("no-such-session", "news").error, make_error_code(Error::NotFound));
        QCOMPARE(h.hub.subscribeSession("no-such-session", "news").sessions, std::size_t(0));
    }

    void closedHubRefusesSubscribeButLetsUnsubscribe()
    {
        Harness h;
        h.protocol.setConnectAuthenticator(authenticate);
        const Client alice = h.connect("alice");
        const std::string id = h.protocol.sessionId(alice.handle);
        QCOMPARE(h.hub.subscribeSession(id, "news").sessions, std::size_t(1));
        alice.session->take();
        h.hub.close();
        QCOMPARE(h.hub.subscribeSession(id, "other").error, make_error_code(Error::Closed));
        QCOMPARE(h.hub.subscribeUser("alice", "other").error, make_error_code(Error::Closed));
        QVERIFY(alice.session->take().empty());
        const auto left = h.hub.unsubscribeUser("alice", "news");
        QVERIFY(!left.error);
        QCOMPARE(left.sessions, std::size_t(1));
    }

    void channelLimitApplies()
    {
        HubOptions hubOptions;
        hubOptions.maxChannelsPerSession = 1;
        Harness h({}, hubOptions);
        h.protocol.setConnectAuthenticator(authenticate);
        const Client a1 = h.connect("alice");
        const Client a2 = h.connect("alice2");
        QVERIFY(h.subscribe(a1, "full"));
        QCOMPARE(h.hub.subscribeSession(h.protocol.sessionId(a1.handle), "more").error,
                 make_error_code(Error::ChannelLimit));
        // subscribeUser skips the full session and subscribes the other.
        const auto result = h.hub.subscribeUser("alice", "more");
        QVERIFY(!result.error);
        QCOMPARE(result.sessions, std::size_t(1));
        QVERIFY(h.hub.isSubscribed(h.protocol.sessionId(a2.handle), "more"));
    }

    void unsubscribeSendsServerUnsubscribedAndStopsDeliveries()
    {
        Harness h;
        h.protocol.setConnectAuthenticator(authenticate);
        const Client a1 = h.connect("alice");
        const Client a2 = h.connect("alice2");
        QCOMPARE(h.hub.subscribeUser("alice", "news").sessions, std::size_t(2));
        a1.session->take();
        a2.session->take();

        const auto one = h.hub.unsubscribeSession(h.protocol.sessionId(a1.handle), "news");
        QVERIFY(!one.error);
        QCOMPARE(one.sessions, std::size_t(1));
        auto frames = a1.session->take();
        QCOMPARE(frames.size(), std::size_t(1));
        QCOMPARE(op(frames[0]), std::string("unsubscribed"));
        QCOMPARE(str(frames[0], "channel"), std::string("news"));
        QVERIFY(flag(frames[0], "server"));
        QVERIFY(!frames[0].contains("ackId"));
        h.hub.broadcast("news", "n", "1");
        QVERIFY(a1.session->take().empty());
        QCOMPARE(withOp(a2.session->take(), "message").size(), std::size_t(1));

        // Idempotent: not subscribed any more is 0 sessions, no error, no frame.
        const auto again = h.hub.unsubscribeSession(h.protocol.sessionId(a1.handle), "news");
        QVERIFY(!again.error);
        QCOMPARE(again.sessions, std::size_t(0));
        QVERIFY(a1.session->take().empty());

        QCOMPARE(h.hub.unsubscribeUser("alice", "news").sessions, std::size_t(1));
        QCOMPARE(withOp(a2.session->take(), "unsubscribed").size(), std::size_t(1));
        QCOMPARE(h.hub.counters().channels, std::size_t(0));
        QCOMPARE(h.hub.unsubscribeUser("alice", "news").sessions, std::size_t(0));
    }

    void serverEndsAClientsOwnSubscription()
    {
        Harness h;
        const Client client = h.connect();
        QVERIFY(h.subscribe(client, "news"));
        QCOMPARE(h.hub.unsubscribeSession(h.protocol.sessionId(client.handle), "news").sessions, std::size_t(1));
        QCOMPARE(withOp(client.session->take(), "unsubscribed").size(), std::size_t(1));
        QCOMPARE(h.hub.subscriberCount("news"), std::size_t(0));
    }

    void clientSubscribeInProgressIsNotTakenOver()
    {
        Harness h;
        AuthAnswer held;
        h.hub.setAsyncAuthorizer([&](const AuthRequest &, AuthAnswer answer) { held = std::move(answer); });
        const Client client = h.connect();
        const std::string id = h.protocol.sessionId(client.handle);
        h.send(client, R"({"op":"subscribe","channel":"private-x","ackId":1})");
        QVERIFY(held);
        QCOMPARE(h.hub.subscribeSession(id, "private-x").error, make_error_code(Error::AlreadySubscribed));
        // The server may cancel it, though: the client's subscribe is answered 499.
        QCOMPARE(h.hub.unsubscribeSession(id, "private-x").sessions, std::size_t(1));
        const auto frames = client.session->take();
        QCOMPARE(frames.size(), std::size_t(2));
        QCOMPARE(op(frames[0]), std::string("error"));
        QCOMPARE(num(frames[0], "code"), std::int64_t(499));
        QCOMPARE(op(frames[1]), std::string("unsubscribed"));
        held(AuthDecision{true, {}, {}}); // too late: ignored
        QVERIFY(!h.hub.isSubscribed(id, "private-x"));
    }

    void detachForgetsServerSubscriptions()
    {
        Harness h;
        const Client client = h.connect();
        QCOMPARE(h.hub.subscribeSession(h.protocol.sessionId(client.handle), "news").sessions, std::size_t(1));
        h.protocol.closed(client.handle, 1000, "bye");
        QCOMPARE(h.hub.counters().channels, std::size_t(0));
    }

    /// The core client gets a `subscribed` it never asked for: no error, no crash; its own
    /// channels keep working, and a later subscribe of its own to that channel succeeds.
    void clientSessionToleratesAnUnaskedSubscribed()
    {
        using namespace switchboard::clienttest;
        Server server;
        Peer peer(server);
        std::vector<std::string> errors;
        auto onError = peer.session.on("error", [&](const ClientEvent &event) { errors.push_back(json::serialize(event.data)); });
        QVERIFY(peer.connect());
        ClientChannel &own = peer.session.subscribe("own");
        server.settle();
        QVERIFY(own.subscribed());
        Recorder recorder;
        auto listening = peer.session.on("**", recorder.listener());

        QCOMPARE(server.hub.subscribeSession(peer.session.sessionId(), "pushed").sessions, std::size_t(1));
        server.settle();
        server.hub.broadcast("pushed", "p", "1");
        server.hub.broadcast("own", "o", "2");
        server.settle();
        QCOMPARE(server.hub.unsubscribeSession(peer.session.sessionId(), "pushed").sessions, std::size_t(1));
        server.settle();
        QVERIFY2(errors.empty(), errors.empty() ? "" : errors.front().c_str());
        QCOMPARE(peer.session.state(), ClientState::Connected);
        QVERIFY(std::find(recorder.keys.begin(), recorder.keys.end(), "own.o") != recorder.keys.end());

        // A subscribe of its own to a channel the server put it in answers at once.
        QCOMPARE(server.hub.subscribeSession(peer.session.sessionId(), "later").sessions, std::size_t(1));
        server.settle();
        ClientChannel &later = peer.session.subscribe("later");
        server.settle();
        QVERIFY(later.subscribed());
        QVERIFY(errors.empty());
    }
};

QTEST_GUILESS_MAIN(tst_ServerSubscriptions)
#include "tst_serversubscriptions.moc"
