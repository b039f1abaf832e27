// Idempotent publish in core: the key table, MemoryBroker deduplication, and ServerProtocol
// acking a repeated key with the original offset without delivering it again.
#include "switchboard/BinaryEncoding.h"
#include "switchboard/IdempotencyKey.h"
#include "switchboard/IdempotencyTable.h"
#include "switchboard/MemoryBroker.h"
#include "switchboard/Timer.h"

#include "ProtocolHarness.h"

#include <QtTest>

#include <string>
#include <vector>

using namespace switchboard;
using namespace switchboard::testing;
using namespace std::chrono_literals;
namespace json = boost::json;

namespace {

struct CollectingHandler final : BrokerHandler {
    void onPublication(const Publication &publication) override { received.push_back(publication); }
    std::vector<Publication> received;
};

struct PublishResult {
    std::error_code error;
    StreamPosition position;
};

PublishResult publishOn(Broker &broker, std::string channel, std::string data, std::string key)
{
    Publication publication;
    publication.channel = std::move(channel);
    publication.event = "e";
    publication.data = std::move(data);
    publication.idempotencyKey = std::move(key);
    PublishResult result;
    broker.publish(std::move(publication), [&result](std::error_code error, StreamPosition position) {
        result = {error, std::move(position)};
    });
    return result;
}

std::string binaryFrame(std::string_view jsonText)
{
    return encodeBinaryObject(json::parse(jsonText).as_object());
}

int countOp(const std::vector<json::object> &frames, std::string_view name)
{
    int n = 0;
    for (const auto &frame : frames)
        n += op(frame) == name;
    return n;
}

} // namespace

class TestIdempotentPublish : public QObject {
    Q_OBJECT
private slots:
    void keysAreShortPrintableAscii()
    {
        QVERIFY(isValidIdempotencyKey("a"));
        QVERIFY(isValidIdempotencyKey(std::string(64, 'k')));
        QVERIFY(isValidIdempotencyKey("9f86d081-884c_7d65~!"));
        QVERIFY(!isValidIdempotencyKey(""));
        QVERIFY(!isValidIdempotencyKey(std::string(65, 'k')));
        QVERIFY(!isValidIdempotencyKey("with space"));
        QVERIFY(!isValidIdempotencyKey("tab\t"));
        QVERIFY(!isValidIdempotencyKey("\xc3\xa9"));
    }

    void scopesKeepUsersAndServerApart()
    {
        QVERIFY(userIdempotencyKey("alice", "k") != userIdempotencyKey("bob", "k"));
        QVERIFY(userIdempotencyKey("", "k") != serverIdempotencyKey("k"));
        // The user id's length makes the split unambiguous.
        QVERIFY(userIdempotencyKey("ab", "c") != userIdempotencyKey("a", "bc"));
        QCOMPARE(userIdempotencyKey("alice", "k"), userIdempotencyKey("alice", "k"));
    }

    void tableForgetsKeysAfterTheWindow()
    {
        IdempotencyTable table({10s, 100});
        table.remember("news", "k", {7, "ep"}, 1000ms);
        QVERIFY(table.find("news", "k", 1000ms + 9999ms));
        QCOMPARE(*table.find("news", "k", 1000ms + 9999ms), (StreamPosition{7, "ep"}));
        QVERIFY(!table.find("sport", "k", 1000ms)); // per channel
        QVERIFY(!table.find("news", "k", 1000ms + 10s));
        QCOMPARE(table.size(), std::size_t(0)); // dropped, not only hidden
    }

    void tableEvictsTheOldestWhenFull()
    {
        IdempotencyTable table({10s, 2});
        table.remember("c", "a", {1, "e"}, 0ms);
        table.remember("c", "b", {2, "e"}, 1ms);
        table.remember("c", "c", {3, "e"}, 2ms);
        QCOMPARE(table.size(), std::size_t(2));
        QCOMPARE(table.counters().evictions, std::uint64_t(1));
        QVERIFY(!table.find("c", "a", 3ms));
        QVERIFY(table.find("c", "b", 3ms));
        QVERIFY(table.find("c", "c", 3ms));
    }

    void rememberingAHeldKeyReplacesOnlyItsPosition()
    {
        IdempotencyTable table({10s, 10});
        table.remember("c", "a", {1, "e"}, 0ms);
        table.remember("c", "a", {2, "e"}, 5s);
        QCOMPARE(table.size(), std::size_t(1));
        QCOMPARE(*table.find("c", "a", 9s), (StreamPosition{2, "e"}));
        QVERIFY(!table.find("c", "a", 10s)); // the first expiry stands
        QCOMPARE(table.size(), std::size_t(0));
    }

    void tableWithZeroWindowRemembersNothing()
    {
        IdempotencyTable table({0ms, 10});
        table.remember("c", "a", {1, "e"}, 0ms);
        QVERIFY(!table.find("c", "a", 0ms));
        QCOMPARE(table.size(), std::size_t(0));
    }

    void memoryBrokerAnswersARepeatWithTheOriginalPosition()
    {
        ManualTimer timer;
        MemoryBrokerOptions options;
        options.history.rules = {HistoryRule{"", 16, 0s}};
        options.idempotency.window = 60s;
        MemoryBroker broker(timer, options);
        CollectingHandler handler;
        broker.setHandler(&handler);
        broker.subscribe("news");

        const PublishResult first = publishOn(broker, "news", "1", "k1");
        QVERIFY(!first.error);
        QCOMPARE(first.position.offset, std::uint64_t(1));
        const PublishResult repeat = publishOn(broker, "news", "2", "k1");
        QVERIFY(!repeat.error);
        QCOMPARE(repeat.position, first.position);
        QCOMPARE(handler.received.size(), std::size_t(1));
        QCOMPARE(handler.received[0].data, std::string("1"));
        QVERIFY(handler.received[0].idempotencyKey.empty()); // never travels to subscribers
        QCOMPARE(broker.idempotency().duplicates, std::uint64_t(1));

        // Another key, or no key, is another publication.
        QCOMPARE(publishOn(broker, "news", "3", "k2").position.offset, std::uint64_t(2));
        QCOMPARE(publishOn(broker, "news", "4", "").position.offset, std::uint64_t(3));
        QCOMPARE(publishOn(broker, "news", "5", "").position.offset, std::uint64_t(4));
        // The same key on another channel is another publication.
        QCOMPARE(publishOn(broker, "other", "6", "k1").position.offset, std::uint64_t(1));
        QCOMPARE(handler.received.size(), std::size_t(4));

        HistoryResult history;
        broker.history("news", {}, [&history](HistoryResult r) { history = std::move(r); });
        QCOMPARE(history.publications.size(), std::size_t(4));

        // After the window the key is new again.
        timer.advance(60s);
        QCOMPARE(publishOn(broker, "news", "7", "k1").position.offset, std::uint64_t(5));
        QCOMPARE(broker.idempotency().duplicates, std::uint64_t(1));
    }

    void memoryBrokerDeduplicatesChannelsWithoutHistory()
    {
        ManualTimer timer;
        MemoryBrokerOptions options;
        options.history.rules = {}; // no history: offsets are 0; the default window
        MemoryBroker broker(timer, options);
        CollectingHandler handler;
        broker.setHandler(&handler);
        broker.subscribe("live");
        QCOMPARE(publishOn(broker, "live", "1", "k").position, (StreamPosition{0, ""}));
        QCOMPARE(publishOn(broker, "live", "1", "k").position, (StreamPosition{0, ""}));
        QCOMPARE(handler.received.size(), std::size_t(1));
        timer.advance(5min - 1ms);
        publishOn(broker, "live", "1", "k");
        QCOMPARE(handler.received.size(), std::size_t(1));
        timer.advance(1ms); // the default window is 5 minutes
        publishOn(broker, "live", "1", "k");
        QCOMPARE(handler.received.size(), std::size_t(2));
    }

    void memoryBrokerBoundsItsKeys()
    {
        ManualTimer timer;
        MemoryBrokerOptions options;
        options.idempotency.maxKeys = 3;
        MemoryBroker broker(timer, options);
        CollectingHandler handler;
        broker.setHandler(&handler);
        broker.subscribe("c");
        for (int i = 0; i < 5; ++i)
            publishOn(broker, "c", "1", "k" + std::to_string(i));
        QCOMPARE(broker.idempotency().evictions, std::uint64_t(2));
        publishOn(broker, "c", "1", "k0"); // forgotten: published again
        publishOn(broker, "c", "1", "k4"); // remembered
        QCOMPARE(handler.received.size(), std::size_t(6));
    }

    void protocolAcksARepeatWithTheOriginalOffsetAndDeliversOnce()
    {
        Harness h; // its Hub's own MemoryBroker keeps history: offsets from 1

        Client publisher = h.connect();
        Client subscriber = h.connect();
        QVERIFY(h.subscribe(subscriber, "news"));
        QVERIFY(h.subscribe(publisher, "news"));

        h.send(publisher, R"({"op":"publish","channel":"news","event":"e","data":1,"ackId":1,"idempotencyKey":"k-1"})");
        h.send(publisher, R"({"op":"publish","channel":"news","event":"e","data":1,"ackId":2,"idempotencyKey":"k-1"})");
        h.send(publisher, R"({"op":"publish","channel":"news","event":"e","data":2,"ackId":3,"idempotencyKey":"k-2"})");
        std::vector<json::object> acks;
        for (auto &frame : publisher.session->take())
            if (op(frame) != "message")
                acks.push_back(std::move(frame));
        QCOMPARE(acks.size(), std::size_t(3));
        QCOMPARE(op(acks[0]), std::string("ack"));
        QCOMPARE(num(acks[0], "offset"), 1);
        QCOMPARE(op(acks[1]), std::string("ack"));
        QCOMPARE(num(acks[1], "ackId"), 2);
        QCOMPARE(num(acks[1], "offset"), 1); // the original ack
        QCOMPARE(num(acks[2], "offset"), 2);
        const auto delivered = subscriber.session->take();
        QCOMPARE(countOp(delivered, "message"), 2);
        QVERIFY(!delivered[0].contains("idempotencyKey"));
        QCOMPARE(h.hub.counters().idempotentDuplicates, std::uint64_t(1));

        // The binary encoding carries the key as a literal key (its dictionary has none for it).
        ConnectionInfo binaryInfo;
        binaryInfo.transport = "test";
        binaryInfo.encoding = WireEncoding::Binary;
        Client binary = h.open(binaryInfo);
        h.sendBinary(binary, binaryFrame(R"({"op":"connect","version":1})"));
        h.sendBinary(binary, binaryFrame(R"({"op":"subscribe","channel":"news","ackId":"s"})"));
        binary.session->take();
        h.sendBinary(binary, binaryFrame(R"({"op":"publish","channel":"news","event":"e","data":1,"ackId":4,"idempotencyKey":"k-1"})"));
        const auto binaryAck = binary.session->take();
        QCOMPARE(binaryAck.size(), std::size_t(1));
        QCOMPARE(op(binaryAck[0]), std::string("ack"));
        QCOMPARE(num(binaryAck[0], "offset"), 1);
        QCOMPARE(countOp(subscriber.session->take(), "message"), 0);
        QCOMPARE(h.hub.counters().idempotentDuplicates, std::uint64_t(2));
    }

    void protocolRefusesInvalidKeys()
    {
        Harness h;
        Client publisher = h.connect();
        Client subscriber = h.connect();
        QVERIFY(h.subscribe(subscriber, "news"));
        QVERIFY(h.subscribe(publisher, "news"));
        const std::string tooLong(65, 'k');
        for (const std::string key : {std::string(R"("")"), std::string(R"("has space")"), '"' + tooLong + '"'}) {
            h.send(publisher, R"({"op":"publish","channel":"news","event":"e","data":1,"ackId":1,"idempotencyKey":)" + key + "}");
            const auto frames = publisher.session->take();
            QCOMPARE(frames.size(), std::size_t(1));
            QCOMPARE(op(frames[0]), std::string("error"));
            QCOMPARE(num(frames[0], "code"), 400);
            QVERIFY(str(frames[0], "message").find("idempotencyKey") != std::string::npos);
        }
        h.send(publisher, R"({"op":"publish","channel":"news","event":"e","data":1,"ackId":1,"idempotencyKey":5})");
        QCOMPARE(num(publisher.session->take().at(0), "code"), 400);
        QCOMPARE(h.protocol.counters().invalidIdempotencyKeys, std::uint64_t(3));
        QCOMPARE(countOp(subscriber.session->take(), "message"), 0);
    }
};

QTEST_APPLESS_MAIN(TestIdempotentPublish)
#include "tst_idempotentpublish.moc"
