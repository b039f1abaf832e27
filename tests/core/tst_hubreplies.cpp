// Replies between clients (publish with `wantReply`, then `reply`): ServerProtocol over a real
// Hub with its MemoryBroker, recording sessions and virtual time.
#include "ProtocolHarness.h"

#include "switchboard/MemoryPresenceStore.h"
#include "switchboard/MessageEncoding.h"

#include <QtTest>

#include <algorithm>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

using namespace switchboard;
using namespace switchboard::testing;
namespace json = boost::json;

namespace {

/// Three connected clients subscribed to `room`: a publisher and two possible repliers.
struct Room {
    explicit Room(HubOptions hubOptions = {}) : harness(ServerProtocolOptions{}, std::move(hubOptions))
    {
        for (Client *client : {&publisher, &replier, &other}) {
            *client = harness.connect();
            harness.subscribe(*client, "room");
        }
    }
    /// The publisher publishes with wantReply; returns the token the other clients received
    /// (empty when none arrived). The publisher's frames are left for the test.
    std::string publishWantingReply(std::string_view ackId = "p1")
    {
        harness.send(publisher, R"({"op":"publish","channel":"room","event":"ask","data":{"q":1},"wantReply":true,"ackId":")"
                                    + std::string(ackId) + "\"}");
        const auto frames = replier.session->take();
        other.session->take();
        if (frames.empty() || op(frames.back()) != "message")
            return {};
        return str(frames.back(), "replyTo");
    }
    void reply(const Client &from, std::string_view token, std::string_view rest = R"("payload":{"ok":true},"ackId":"r1")")
    {
        harness.send(from, R"({"op":"reply","replyTo":")" + std::string(token) + "\"," + std::string(rest) + "}");
    }
    /// The `reply` frames the publisher received (other frames are dropped).
    std::vector<json::object> publisherReplies()
    {
        std::vector<json::object> out;
        for (auto &frame : publisher.session->take()) {
            if (op(frame) == "reply")
                out.push_back(std::move(frame));
        }
        return out;
    }
    Harness harness;
    Client publisher, replier, other;
};

/// The nodes of a cluster in one process: each node's Broker delivers a publication to every
/// node that subscribed to its channel (as Redis pub/sub does), at once; no history. `refuse`
/// makes every publish fail as an unreachable engine does.
struct Cluster {
    struct NodeBroker final : Broker {
        Cluster *cluster = nullptr;
        BrokerHandler *handler = nullptr;
        std::vector<std::string> channels;
        void setHandler(BrokerHandler *h) override { handler = h; }
        void subscribe(std::string_view channel) override { channels.emplace_back(channel); }
        void unsubscribe(std::string_view channel) override { std::erase(channels, std::string(channel)); }
        void publish(Publication publication, std::function<void(std::error_code, StreamPosition)> done) override
        {
            if (cluster->refuse) {
                done(Error::NotConnected, {});
                return;
            }
            ++cluster->published;
            for (NodeBroker *node : cluster->nodes) {
                if (node->handler && std::find(node->channels.begin(), node->channels.end(), publication.channel) != node->channels.end())
                    node->handler->onPublication(publication);
            }
            done({}, {});
        }
        void history(std::string_view, const HistoryQuery &, std::function<void(HistoryResult)> done) override { done({}); }
    };
    std::vector<NodeBroker *> nodes;
    bool refuse = false;
    int published = 0;
};

struct Node {
    explicit Node(Cluster &cluster, std::string id) : hub(timer, options(std::move(id)), broker, presence)
    {
        broker.cluster = &cluster;
        cluster.nodes.push_back(&broker);
    }
    static HubOptions options(std::string id)
    {
        HubOptions o;
        o.nodeId = std::move(id);
        return o;
    }
    std::pair<std::string, std::shared_ptr<RecordingSession>> attach()
    {
        auto session = std::make_shared<RecordingSession>();
        return {hub.attach(session), session};
    }
    ManualTimer timer;
    Cluster::NodeBroker broker;
    MemoryPresenceStore presence;
    Hub hub;
};

} // namespace

class TestHubReplies : public QObject
{
    Q_OBJECT

private slots:
    void replyReachesThePublisher();
    void withoutWantReplyNoToken();
    void wantReplyNeedsAckId();
    void firstReplyWins();
    void expiredSlotDropsTheReply();
    void slotLimitRefusesWantReply();
    void forgedTokensNeverReachASession();
    void unparsableTokenIs400();
    void publisherGone();
    void historyKeepsTheToken();
    void nodeIdNamesTheNode();
    void replyRoutedToThePublishersNode();
};

void TestHubReplies::replyReachesThePublisher()
{
    Room room;
    const std::string token = room.publishWantingReply();
    QVERIFY(!token.empty());
    QVERIFY(token.starts_with(room.harness.hub.nodeId() + "."));
    // The publisher's own copy carries the same token (one encoded frame for everyone) and its
    // publish is acknowledged as usual.
    const auto own = room.publisher.session->take();
    QCOMPARE(own.size(), std::size_t(2));
    QCOMPARE(op(own[0]), std::string("message"));
    QCOMPARE(str(own[0], "replyTo"), token);
    QCOMPARE(op(own[1]), std::string("ack"));
    QCOMPARE(str(own[1], "ackId"), std::string("p1"));

    room.reply(room.replier, token);
    const auto ack = room.replier.session->take();
    QCOMPARE(ack.size(), std::size_t(1));
    QCOMPARE(op(ack[0]), std::string("ack"));
    QCOMPARE(str(ack[0], "ackId"), std::string("r1"));

    const auto replies = room.publisherReplies();
    QCOMPARE(replies.size(), std::size_t(1));
    QCOMPARE(str(replies[0], "topic"), std::string("room"));
    QCOMPARE(str(replies[0], "ackId"), std::string("p1"));
    QCOMPARE(str(replies[0], "from"), room.harness.protocol.sessionId(room.replier.handle));
    QCOMPARE(json::serialize(replies[0].at("payload")), std::string(R"({"ok":true})"));
    QVERIFY(room.other.session->take().empty());

    const HubCounters counters = room.harness.hub.counters();
    QCOMPARE(counters.replySlotsOpened, std::uint64_t(1));
    QCOMPARE(counters.repliesDelivered, std::uint64_t(1));
    QCOMPARE(counters.repliesRouted, std::uint64_t(0)); // one node: delivered directly

    // A numeric ackId comes back as a number; an absent payload as null.
    const std::string second = room.publishWantingReply();
    room.publisher.session->take();
    room.harness.send(room.publisher, R"({"op":"publish","channel":"room","event":"ask","data":1,"wantReply":true,"ackId":7})");
    const auto third = room.replier.session->take();
    QCOMPARE(third.size(), std::size_t(1));
    room.publisher.session->take();
    room.reply(room.replier, str(third[0], "replyTo"), R"("ackId":"r2")");
    const auto numbered = room.publisherReplies();
    QCOMPARE(numbered.size(), std::size_t(1));
    QVERIFY(numbered[0].at("ackId").is_int64() || numbered[0].at("ackId").is_uint64());
    QCOMPARE(num(numbered[0], "ackId"), std::int64_t(7));
    QVERIFY(numbered[0].at("payload").is_null());
    QVERIFY(second != str(third[0], "replyTo")); // one token per publication
}

void TestHubReplies::withoutWantReplyNoToken()
{
    Room room;
    room.harness.send(room.publisher, R"({"op":"publish","channel":"room","event":"e","data":1,"ackId":"p"})");
    const auto frames = room.replier.session->take();
    QCOMPARE(frames.size(), std::size_t(1));
    QVERIFY(!frames[0].contains("replyTo"));
    QCOMPARE(room.harness.hub.counters().replySlotsOpened, std::uint64_t(0));
}

void TestHubReplies::wantReplyNeedsAckId()
{
    Room room;
    room.harness.send(room.publisher, R"({"op":"publish","channel":"room","event":"e","data":1,"wantReply":true})");
    const auto frames = room.publisher.session->take();
    QCOMPARE(frames.size(), std::size_t(1));
    QCOMPARE(op(frames[0]), std::string("error"));
    QCOMPARE(num(frames[0], "code"), std::int64_t(400));
    QVERIFY(room.replier.session->take().empty()); // nothing published
    // A mistyped wantReply is refused too.
    room.harness.send(room.publisher, R"({"op":"publish","channel":"room","event":"e","data":1,"wantReply":"yes","ackId":"a"})");
    const auto mistyped = room.publisher.session->take();
    QCOMPARE(mistyped.size(), std::size_t(1));
    QCOMPARE(num(mistyped[0], "code"), std::int64_t(400));
    QCOMPARE(str(mistyped[0], "ackId"), std::string("a"));
}

void TestHubReplies::firstReplyWins()
{
    Room room;
    const std::string token = room.publishWantingReply();
    room.publisher.session->take();
    room.reply(room.replier, token, R"("payload":"first","ackId":"r1")");
    room.reply(room.other, token, R"("payload":"second","ackId":"r2")");
    room.reply(room.replier, token, R"("payload":"again","ackId":"r3")");
    const auto replies = room.publisherReplies();
    QCOMPARE(replies.size(), std::size_t(1));
    QCOMPARE(str(replies[0], "payload"), std::string("first"));
    // The later repliers are acknowledged all the same: their reply was handed on.
    const auto late = room.other.session->take();
    QCOMPARE(late.size(), std::size_t(1));
    QCOMPARE(op(late[0]), std::string("ack"));
    QCOMPARE(room.harness.hub.counters().repliesDelivered, std::uint64_t(1));
    QCOMPARE(room.harness.hub.counters().repliesDroppedAnswered, std::uint64_t(2));
}

void TestHubReplies::expiredSlotDropsTheReply()
{
    HubOptions options;
    options.replySlotLifetime = std::chrono::milliseconds(1000);
    Room room(options);
    const std::string token = room.publishWantingReply();
    room.publisher.session->take();
    room.harness.timer.advance(std::chrono::milliseconds(999));
    const std::string inTime = room.publishWantingReply("p2");
    room.publisher.session->take();
    room.harness.timer.advance(std::chrono::milliseconds(1));
    room.reply(room.replier, token);
    QVERIFY(room.publisherReplies().empty());
    QCOMPARE(room.harness.hub.counters().repliesDroppedExpired, std::uint64_t(1));
    room.reply(room.replier, inTime);
    const auto replies = room.publisherReplies();
    QCOMPARE(replies.size(), std::size_t(1));
    QCOMPARE(str(replies[0], "ackId"), std::string("p2"));
}

void TestHubReplies::slotLimitRefusesWantReply()
{
    HubOptions options;
    options.maxReplySlotsPerSession = 2;
    options.replySlotLifetime = std::chrono::milliseconds(1000);
    Room room(options);
    const std::string first = room.publishWantingReply("p1");
    QVERIFY(!room.publishWantingReply("p2").empty());
    room.publisher.session->take();
    QVERIFY(room.publishWantingReply("p3").empty()); // refused: nothing published
    const auto refused = room.publisher.session->take();
    QCOMPARE(refused.size(), std::size_t(1));
    QCOMPARE(op(refused[0]), std::string("error"));
    QCOMPARE(num(refused[0], "code"), std::int64_t(429));
    QCOMPARE(str(refused[0], "ackId"), std::string("p3"));
    QCOMPARE(room.harness.hub.counters().replySlotsRefused, std::uint64_t(1));
    // A publish without wantReply is not limited.
    room.harness.send(room.publisher, R"({"op":"publish","channel":"room","event":"e","data":1,"ackId":"plain"})");
    QCOMPARE(room.replier.session->take().size(), std::size_t(1));
    room.publisher.session->take();
    // An answered slot makes room for a new one; so does an expired one.
    room.reply(room.replier, first);
    QCOMPARE(room.publisherReplies().size(), std::size_t(1));
    QVERIFY(!room.publishWantingReply("p4").empty());
    room.publisher.session->take();
    QVERIFY(room.publishWantingReply("p5").empty());
    room.publisher.session->take();
    room.harness.timer.advance(std::chrono::milliseconds(1000));
    QVERIFY(!room.publishWantingReply("p6").empty());
    QVERIFY(!room.publishWantingReply("p7").empty());
    QCOMPARE(room.harness.hub.counters().replySlotsRefused, std::uint64_t(2));
}

void TestHubReplies::forgedTokensNeverReachASession()
{
    Room room;
    const std::string token = room.publishWantingReply();
    room.publisher.session->take();
    const auto firstDot = token.find('.');
    const auto secondDot = token.find('.', firstDot + 1);
    const std::string node = token.substr(0, firstDot);
    const std::string nonce = token.substr(firstDot + 1, secondDot - firstDot - 1);
    const std::string publisherId = token.substr(secondDot + 1);
    QCOMPARE(publisherId, room.harness.protocol.sessionId(room.publisher.handle));

    // Right node and session, a guessed nonce.
    std::string guessed = nonce;
    guessed[0] = guessed[0] == '0' ? '1' : '0';
    room.reply(room.replier, node + "." + guessed + "." + publisherId);
    // The right nonce aimed at another session (the one replying, which has no slot).
    room.reply(room.replier, node + "." + nonce + "." + room.harness.protocol.sessionId(room.replier.handle));
    QVERIFY(room.publisherReplies().empty());
    QVERIFY(room.replier.session->objects().size() == 2); // acked: dropped silently, counted
    for (const auto &frame : room.replier.session->take())
        QCOMPARE(op(frame), std::string("ack"));
    QCOMPARE(room.harness.hub.counters().repliesDroppedUnknown, std::uint64_t(2));
    QCOMPARE(room.harness.hub.counters().repliesDelivered, std::uint64_t(0));
    // The real token still works: forgeries did not use the slot up.
    room.reply(room.replier, token);
    QCOMPARE(room.publisherReplies().size(), std::size_t(1));
}

void TestHubReplies::unparsableTokenIs400()
{
    Room room;
    for (const char *bad : {"garbage", "node.nothex.session", "..", "a.0123456789abcdef0123456789abcdef.", ""}) {
        room.harness.send(room.replier, std::string(R"({"op":"reply","replyTo":")") + bad + R"(","payload":1,"ackId":"r"})");
        const auto frames = room.replier.session->take();
        QCOMPARE(frames.size(), std::size_t(1));
        QCOMPARE(op(frames[0]), std::string("error"));
        QCOMPARE(num(frames[0], "code"), std::int64_t(400));
        QCOMPARE(str(frames[0], "ackId"), std::string("r"));
    }
    room.harness.send(room.replier, R"({"op":"reply","payload":1,"ackId":"r"})"); // no replyTo
    const auto missing = room.replier.session->take();
    QCOMPARE(missing.size(), std::size_t(1));
    QCOMPARE(num(missing[0], "code"), std::int64_t(400));
    QVERIFY(room.publisher.session->take().empty());
}

void TestHubReplies::publisherGone()
{
    Room room;
    const std::string token = room.publishWantingReply();
    room.harness.protocol.closed(room.publisher.handle, 1000);
    room.publisher.session->take();
    room.reply(room.replier, token);
    QVERIFY(room.publisher.session->take().empty());
    QCOMPARE(room.harness.hub.counters().repliesDroppedGone, std::uint64_t(1));
    const auto ack = room.replier.session->take();
    QCOMPARE(ack.size(), std::size_t(1));
    QCOMPARE(op(ack[0]), std::string("ack"));
}

void TestHubReplies::historyKeepsTheToken()
{
    Room room;
    const std::string token = room.publishWantingReply();
    HistoryResult history;
    room.harness.hub.history("room", {}, [&](HistoryResult result) { history = std::move(result); });
    QCOMPARE(history.publications.size(), std::size_t(1));
    QCOMPARE(history.publications[0].replyTo, token);
    std::string object;
    appendPublicationObject(object, history.publications[0]); // recovery and the HTTP history API
    QCOMPARE(str(json::parse(object).as_object(), "replyTo"), token);
}

void TestHubReplies::nodeIdNamesTheNode()
{
    ManualTimer timer;
    HubOptions options;
    options.nodeId = "gw-1";
    Hub hub(timer, options);
    QCOMPARE(hub.nodeId(), std::string("gw-1"));
    Hub random(timer);
    QCOMPARE(random.nodeId().size(), std::size_t(16));
    QVERIFY(random.nodeId() != Hub(timer).nodeId());
    options.nodeId = "bad.node";
    QVERIFY_THROWS_EXCEPTION(std::invalid_argument, Hub(timer, options));
}

void TestHubReplies::replyRoutedToThePublishersNode()
{
    Cluster cluster;
    Node a(cluster, "node-a"), b(cluster, "node-b");
    const auto [publisherId, publisher] = a.attach();
    const auto [replierId, replier] = b.attach();
    AckId ackId;
    ackId.value = "p1";
    std::string token;
    QVERIFY(!a.hub.openReplySlot(publisherId, "room", ackId, token));
    QVERIFY(token.starts_with("node-a."));

    std::optional<std::error_code> answer;
    b.hub.reply(replierId, token, R"({"ok":1})", [&](std::error_code error) { answer = error; });
    QVERIFY(answer && !*answer);
    QCOMPARE(cluster.published, 1); // through the broker, on A's reply channel only
    QCOMPARE(b.hub.counters().repliesRouted, std::uint64_t(1));
    QCOMPARE(a.hub.counters().repliesDelivered, std::uint64_t(1));
    const auto frames = publisher->objects();
    QCOMPARE(frames.size(), std::size_t(1));
    QCOMPARE(op(frames[0]), std::string("reply"));
    QCOMPARE(str(frames[0], "topic"), std::string("room"));
    QCOMPARE(str(frames[0], "ackId"), std::string("p1"));
    QCOMPARE(str(frames[0], "from"), replierId);
    QCOMPARE(json::serialize(frames[0].at("payload")), std::string(R"({"ok":1})"));

    // Routed again (first reply wins on A); then the engine refuses: 503 to the replier.
    b.hub.reply(replierId, token, "2");
    QCOMPARE(a.hub.counters().repliesDroppedAnswered, std::uint64_t(1));
    cluster.refuse = true;
    answer.reset();
    b.hub.reply(replierId, token, "3", [&](std::error_code error) { answer = error; });
    QVERIFY(answer && *answer == make_error_code(Error::NotConnected));
    QCOMPARE(b.hub.counters().repliesDroppedUnroutable, std::uint64_t(1));
    QCOMPARE(publisher->objects().size(), std::size_t(1));
    // A token for a node nobody runs is published and heard by no one.
    cluster.refuse = false;
    b.hub.reply(replierId, "node-z.0123456789abcdef0123456789abcdef." + publisherId, "4");
    QCOMPARE(publisher->objects().size(), std::size_t(1));
}

QTEST_APPLESS_MAIN(TestHubReplies)
#include "tst_hubreplies.moc"
