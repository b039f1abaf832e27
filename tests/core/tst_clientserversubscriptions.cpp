// Subscriptions the server makes or ends (`subscribed` / `unsubscribed` with "server": true):
// the session surfaces them as channels of its own (onServerSubscription), delivers their
// messages, resubscribes them with recovery after a reconnect, and drops them when the server
// ends them. Virtual time.
#include "ClientTestFixtures.h"

using namespace switchboard;
using namespace switchboard::clienttest;

class TestClientServerSubscriptions : public QObject {
    Q_OBJECT

private slots:
    void serverSubscriptionBecomesAChannel();
    void serverUnsubscribeDropsTheChannel();
    void ownUnsubscribedAnswerChangesNothing();
};

void TestClientServerSubscriptions::serverSubscriptionBecomesAChannel()
{
    Scripted s;
    std::vector<std::pair<std::string, bool>> changes;
    bool subscribedWhenTold = false;
    auto h = s.session.onServerSubscription([&](ClientChannel &channel, bool subscribed) {
        changes.emplace_back(channel.name(), subscribed);
        subscribedWhenTold = channel.subscribed();
    });
    Recorder messages;
    auto m = s.session.on("alerts.*", messages.listener());
    s.establish();
    s.transport.feed(R"({"op":"subscribed","channel":"alerts","server":true,"offset":4,"epoch":"e1"})");
    QCOMPARE(changes, (std::vector<std::pair<std::string, bool>>{{"alerts", true}}));
    QVERIFY(subscribedWhenTold);
    ClientChannel *alerts = s.session.channel("alerts");
    QVERIFY(alerts && alerts->subscribed());
    QCOMPARE(alerts->position().offset, std::uint64_t(4));
    s.transport.feed(message("alerts", "fire", R"({"room":1})", 5));
    QCOMPARE(messages.keys, std::vector<std::string>{"alerts.fire"});
    QVERIFY(s.transport.take().empty()); // nothing asked of the server

    // A reconnect resubscribes it like the client's own, recovering after offset 5.
    s.transport.serverClose(1006, "reset");
    s.timer.advance(1s);
    s.acceptAndWelcome("s2");
    const json::object resubscribe = s.transport.takeOne();
    QCOMPARE(str(resubscribe, "op"), std::string("subscribe"));
    QCOMPARE(str(resubscribe, "channel"), std::string("alerts"));
    QCOMPARE(num(resubscribe.at("recover").as_object(), "offset"), std::int64_t(5));
    QCOMPARE(changes.size(), std::size_t(1)); // not a server subscription any more
}

void TestClientServerSubscriptions::serverUnsubscribeDropsTheChannel()
{
    Scripted s;
    std::vector<std::pair<std::string, bool>> changes;
    auto h = s.session.onServerSubscription([&](ClientChannel &channel, bool subscribed) {
        changes.emplace_back(channel.name(), subscribed);
    });
    Recorder messages;
    auto m = s.session.on("**", messages.listener());
    s.establish();
    s.transport.feed(R"({"op":"subscribed","channel":"alerts","server":true,"offset":0,"epoch":""})");
    ClientChannel &own = s.session.subscribe("news");
    s.transport.take();
    bool stateTold = false;
    auto stateHandle = s.session.channel("alerts")->onStateChanged([&] { stateTold = true; });
    s.transport.feed(R"({"op":"unsubscribed","channel":"alerts","server":true})");
    QCOMPARE(changes, (std::vector<std::pair<std::string, bool>>{{"alerts", true}, {"alerts", false}}));
    QVERIFY(stateTold);
    QVERIFY(!s.session.channel("alerts"));
    QCOMPARE(s.session.channel("news"), &own);
    s.transport.feed(message("alerts", "fire", "1", 1));
    QVERIFY(messages.keys.empty());
    // The server may end the client's own subscriptions too.
    s.transport.feed(R"({"op":"unsubscribed","channel":"news","server":true})");
    QVERIFY(!s.session.channel("news"));
    QCOMPARE(changes.back(), (std::pair<std::string, bool>{"news", false}));
    QVERIFY(s.transport.take().empty());
}

void TestClientServerSubscriptions::ownUnsubscribedAnswerChangesNothing()
{
    Scripted s;
    int changes = 0;
    auto h = s.session.onServerSubscription([&](ClientChannel &, bool) { ++changes; });
    s.establish();
    s.session.subscribe("news");
    s.transport.feed(R"({"op":"unsubscribed","channel":"news"})");
    QVERIFY(s.session.channel("news"));
    // A `subscribed` the client did not ask for, without "server": ignored as before.
    s.transport.feed(R"({"op":"subscribed","channel":"other","offset":1,"epoch":"e"})");
    QVERIFY(!s.session.channel("other"));
    QCOMPARE(changes, 0);
}

QTEST_APPLESS_MAIN(TestClientServerSubscriptions)
#include "tst_clientserversubscriptions.moc"
