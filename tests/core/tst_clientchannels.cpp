// ClientSession's channels against a scripted server, in virtual time: subscribing (queued,
// right behind connect, refused), unsubscribing, resubscribing with recovery, presence rosters.
#include "ClientTestFixtures.h"

#include <set>

using namespace switchboard;
using namespace switchboard::clienttest;

class TestClientChannels : public QObject
{
    Q_OBJECT

private slots:
    void subscribeQueuedUntilConnected();
    void subscribesFollowConnect();
    void pipelinedSubscribeRefusedAsTooManyIsSentAgain();
    void unsubscribeBeforeWelcome();
    void subscribeRefused();
    void resubscribeWithRecovery();
    void recoveryStrictlyFromGivenPosition();
    void noEpochNoRecovery();
    void presenceRoster();
};

void TestClientChannels::subscribeQueuedUntilConnected()
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

void TestClientChannels::subscribesFollowConnect()
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

void TestClientChannels::pipelinedSubscribeRefusedAsTooManyIsSentAgain()
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

void TestClientChannels::unsubscribeBeforeWelcome()
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

void TestClientChannels::subscribeRefused()
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

void TestClientChannels::resubscribeWithRecovery()
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

void TestClientChannels::recoveryStrictlyFromGivenPosition()
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

void TestClientChannels::noEpochNoRecovery()
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

void TestClientChannels::presenceRoster()
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

QTEST_APPLESS_MAIN(TestClientChannels)
#include "tst_clientchannels.moc"
