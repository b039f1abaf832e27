// History: HistoryBuffer, HistoryOptions rules, MemoryBroker streams and delivery, and recovery
// through Hub::join (complete gap, epoch change, gap lost to TTL or to size eviction).
#include "switchboard/HistoryBuffer.h"
#include "switchboard/HistoryOptions.h"
#include "switchboard/Hub.h"
#include "switchboard/MemoryBroker.h"
#include "switchboard/MemoryPresenceStore.h"

#include "HubTestSupport.h"

#include <QtTest>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using namespace switchboard;

namespace {

class RecordingHandler final : public BrokerHandler {
public:
    void onPublication(const Publication &publication) override
    {
        received.push_back(publication);
        if (onReceive)
            onReceive(publication);
    }
    std::vector<Publication> received;
    std::function<void(const Publication &)> onReceive;
};

std::shared_ptr<const Publication> pub(std::uint64_t offset)
{
    auto p = std::make_shared<Publication>();
    p->offset = offset;
    p->data = std::to_string(offset);
    return p;
}

std::vector<std::uint64_t> offsets(const std::vector<Publication> &publications)
{
    std::vector<std::uint64_t> out;
    for (const auto &p : publications)
        out.push_back(p.offset);
    return out;
}

StreamPosition publishTo(Broker &broker, std::string_view channel, std::string data = "1")
{
    Publication publication;
    publication.channel = std::string(channel);
    publication.event = "e";
    publication.data = std::move(data);
    StreamPosition position;
    broker.publish(std::move(publication), [&](std::error_code, StreamPosition p) { position = std::move(p); });
    return position;
}

/// A Hub over a MemoryBroker configured by the test.
using HubFixture = MemoryHub;

} // namespace

class TestHistory : public QObject
{
    Q_OBJECT

private slots:
    void bufferEvictsOldest();
    void bufferExpires();
    void bufferCopySince_data();
    void bufferCopySince();
    void ruleLongestPrefixWins_data();
    void ruleLongestPrefixWins();
    void offsetsAndEpoch();
    void noHistoryRuleAndBinary();
    void historyWithoutPosition();
    void sinceCompleteness_data();
    void sinceCompleteness();
    void ttlExpiresGapThenStream();
    void channelsWithHistory();
    void streamEvictionChangesEpoch();
    void deliveryOnlyToSubscribedChannels();
    void handlerErrorsAreContained();
    void reentrantPublishIsQueued();
    void executorBufferDropsAndCounts();
    void recoveryThroughJoin_data();
    void recoveryThroughJoin();
    void createStreamGivesEpochBeforeFirstPublish();
    void emptyStreamLifetime();
    void epochAtFirstJoin_data();
    void epochAtFirstJoin();
    void joinedStreamRecreatedWhileAway();
};

void TestHistory::bufferEvictsOldest()
{
    HistoryBuffer buffer(3);
    QVERIFY(buffer.empty());
    QCOMPARE(buffer.oldestOffset(), std::uint64_t(0));
    QVERIFY(!buffer.push(pub(1), 0ms));
    QVERIFY(!buffer.push(pub(2), 0ms));
    QVERIFY(!buffer.push(pub(3), 0ms));
    QVERIFY(buffer.push(pub(4), 0ms));
    QVERIFY(buffer.push(pub(5), 0ms));
    QCOMPARE(buffer.size(), std::size_t(3));
    QCOMPARE(buffer.oldestOffset(), std::uint64_t(3));
    QCOMPARE(buffer.newestOffset(), std::uint64_t(5));
    QCOMPARE(buffer.at(0).publication->offset, std::uint64_t(3));
    QCOMPARE(buffer.at(2).publication->offset, std::uint64_t(5));

    HistoryBuffer none(0);
    QVERIFY(!none.push(pub(1), 0ms));
    QVERIFY(none.empty());
}

void TestHistory::bufferExpires()
{
    HistoryBuffer buffer(4);
    buffer.push(pub(1), 10ms);
    buffer.push(pub(2), 20ms);
    buffer.push(pub(3), 30ms);
    QCOMPARE(buffer.expire(15ms), std::size_t(1));
    QCOMPARE(buffer.oldestOffset(), std::uint64_t(2));
    // Growth after a wrap keeps the order.
    buffer.push(pub(4), 40ms);
    buffer.push(pub(5), 50ms);
    buffer.push(pub(6), 60ms);
    QCOMPARE(buffer.size(), std::size_t(4));
    for (std::size_t i = 0; i < 4; ++i)
        QCOMPARE(buffer.at(i).publication->offset, std::uint64_t(3 + i));
    QCOMPARE(buffer.expire(100ms), std::size_t(4));
    QVERIFY(buffer.empty());
    buffer.push(pub(7), 110ms);
    QCOMPARE(buffer.oldestOffset(), std::uint64_t(7));
}

void TestHistory::bufferCopySince_data()
{
    QTest::addColumn<std::uint64_t>("after");
    QTest::addColumn<std::size_t>("limit");
    QTest::addColumn<std::vector<std::uint64_t>>("expected");
    QTest::addColumn<std::size_t>("available");

    // The buffer holds offsets 4..8.
    QTest::newRow("from before the oldest") << std::uint64_t(0) << std::size_t(0)
                                            << std::vector<std::uint64_t>{4, 5, 6, 7, 8} << std::size_t(5);
    QTest::newRow("middle") << std::uint64_t(5) << std::size_t(0) << std::vector<std::uint64_t>{6, 7, 8} << std::size_t(3);
    QTest::newRow("limited") << std::uint64_t(5) << std::size_t(2) << std::vector<std::uint64_t>{6, 7} << std::size_t(3);
    QTest::newRow("at the top") << std::uint64_t(8) << std::size_t(0) << std::vector<std::uint64_t>{} << std::size_t(0);
    QTest::newRow("past the top") << std::uint64_t(20) << std::size_t(0) << std::vector<std::uint64_t>{} << std::size_t(0);
}

void TestHistory::bufferCopySince()
{
    QFETCH(std::uint64_t, after);
    QFETCH(std::size_t, limit);
    QFETCH(std::vector<std::uint64_t>, expected);
    QFETCH(std::size_t, available);
    HistoryBuffer buffer(5);
    for (std::uint64_t i = 1; i <= 8; ++i)
        buffer.push(pub(i), 0ms);
    std::vector<Publication> out;
    QCOMPARE(buffer.copySince(after, limit, out), available);
    QCOMPARE(offsets(out), expected);
}

void TestHistory::ruleLongestPrefixWins_data()
{
    QTest::addColumn<QByteArray>("channel");
    QTest::addColumn<std::size_t>("size");
    QTest::newRow("default") << QByteArray("news") << std::size_t(10);
    QTest::newRow("prefix") << QByteArray("chat/room") << std::size_t(50);
    QTest::newRow("longer prefix") << QByteArray("chat/vip/1") << std::size_t(500);
    QTest::newRow("no history") << QByteArray("metrics/cpu") << std::size_t(0);
}

void TestHistory::ruleLongestPrefixWins()
{
    QFETCH(QByteArray, channel);
    QFETCH(std::size_t, size);
    const HistoryOptions options = rules({{"chat/vip", 500, 0ms}, {"", 10, 0ms}, {"chat/", 50, 1s}, {"metrics/", 0, 0ms}});
    QCOMPARE(options.ruleFor(channel.toStdString()).size, size);
    QCOMPARE(rules({{"chat/", 5, 0ms}}).ruleFor("news").size, std::size_t(0)); // no rule matches
}

void TestHistory::offsetsAndEpoch()
{
    ManualTimer timer;
    MemoryBroker broker(timer);
    const auto first = publishTo(broker, "a");
    const auto second = publishTo(broker, "a");
    const auto other = publishTo(broker, "b");
    QCOMPARE(first.offset, std::uint64_t(1));
    QCOMPARE(second.offset, std::uint64_t(2));
    QCOMPARE(second.epoch, first.epoch);
    QVERIFY(!first.epoch.empty());
    QCOMPARE(other.offset, std::uint64_t(1)); // one stream per channel
    QVERIFY(other.epoch != first.epoch);

    HistoryQuery query;
    query.positionOnly = true;
    const auto top = historyOf(broker, "a", query);
    QCOMPARE(top.top, second);
    QVERIFY(top.publications.empty());
    QCOMPARE(broker.streamCount(), std::size_t(2));
}

void TestHistory::noHistoryRuleAndBinary()
{
    ManualTimer timer;
    MemoryBroker broker(timer, MemoryBrokerOptions{rules({{"", 10, 0ms}, {"live/", 0, 0ms}})});
    RecordingHandler handler;
    broker.setHandler(&handler);
    broker.subscribe("live/x");
    broker.subscribe("cam");
    const auto live = publishTo(broker, "live/x");
    QCOMPARE(live.offset, std::uint64_t(0));
    QVERIFY(live.epoch.empty());
    Publication binary;
    binary.channel = "cam";
    binary.binary = true;
    binary.data = std::string("\x00\x01", 2);
    StreamPosition binaryPosition{99, "x"};
    broker.publish(binary, [&](std::error_code, StreamPosition p) { binaryPosition = p; });
    QCOMPARE(binaryPosition.offset, std::uint64_t(0));
    QCOMPARE(broker.streamCount(), std::size_t(0));
    QCOMPARE(handler.received.size(), std::size_t(2)); // delivered all the same
    QVERIFY(historyOf(broker, "cam").publications.empty());
}

void TestHistory::historyWithoutPosition()
{
    ManualTimer timer;
    MemoryBroker broker(timer, MemoryBrokerOptions{rules({{"", 5, 0ms}})});
    for (int i = 0; i < 8; ++i)
        publishTo(broker, "a", std::to_string(i));
    QCOMPARE(offsets(historyOf(broker, "a").publications), (std::vector<std::uint64_t>{4, 5, 6, 7, 8}));
    HistoryQuery latest;
    latest.limit = 2;
    const auto result = historyOf(broker, "a", latest);
    QCOMPARE(offsets(result.publications), (std::vector<std::uint64_t>{7, 8}));
    QCOMPARE(result.publications[1].data, std::string("7"));
    QVERIFY(!result.complete); // no position given
    QVERIFY(historyOf(broker, "unknown").publications.empty());
}

void TestHistory::sinceCompleteness_data()
{
    QTest::addColumn<std::uint64_t>("offset");
    QTest::addColumn<int>("epoch"); // 0 the stream's, 1 another, 2 empty
    QTest::addColumn<bool>("complete");
    QTest::addColumn<std::vector<std::uint64_t>>("expected");

    // The stream is at offset 8 and holds 4..8 (size 5).
    QTest::newRow("gap held") << std::uint64_t(5) << 0 << true << std::vector<std::uint64_t>{6, 7, 8};
    QTest::newRow("gap starts at oldest") << std::uint64_t(3) << 0 << true << std::vector<std::uint64_t>{4, 5, 6, 7, 8};
    QTest::newRow("up to date") << std::uint64_t(8) << 0 << true << std::vector<std::uint64_t>{};
    QTest::newRow("gap evicted") << std::uint64_t(2) << 0 << false << std::vector<std::uint64_t>{4, 5, 6, 7, 8};
    // A position that is not of this stream: everything held, oldest first, complete false.
    QTest::newRow("ahead of the stream") << std::uint64_t(9) << 0 << false << std::vector<std::uint64_t>{4, 5, 6, 7, 8};
    QTest::newRow("other epoch") << std::uint64_t(5) << 1 << false << std::vector<std::uint64_t>{4, 5, 6, 7, 8};
    QTest::newRow("empty epoch at 0") << std::uint64_t(0) << 2 << false << std::vector<std::uint64_t>{4, 5, 6, 7, 8};
    QTest::newRow("empty epoch at top") << std::uint64_t(8) << 2 << false << std::vector<std::uint64_t>{4, 5, 6, 7, 8};
}

void TestHistory::sinceCompleteness()
{
    QFETCH(std::uint64_t, offset);
    QFETCH(int, epoch);
    QFETCH(bool, complete);
    QFETCH(std::vector<std::uint64_t>, expected);
    ManualTimer timer;
    MemoryBroker broker(timer, MemoryBrokerOptions{rules({{"", 5, 0ms}})});
    StreamPosition top;
    for (int i = 0; i < 8; ++i)
        top = publishTo(broker, "a");
    const std::string epochText = epoch == 0 ? top.epoch : epoch == 1 ? "not-" + top.epoch : "";
    const auto result = since(broker, "a", StreamPosition{offset, epochText});
    QCOMPARE(result.complete, complete);
    QCOMPARE(offsets(result.publications), expected);
    QCOMPARE(result.top, top);

    // Without a stream nothing can be recovered, not even from the position {0, ""}.
    MemoryBroker fresh(timer, MemoryBrokerOptions{rules({{"", 5, 0ms}})});
    QVERIFY(!since(fresh, "a", StreamPosition{0, ""}).complete);
    QVERIFY(!since(fresh, "gone", StreamPosition{3, "old"}).complete);
    QCOMPARE(fresh.streamCount(), std::size_t(0)); // reading does not create
}

void TestHistory::channelsWithHistory()
{
    // Channels whose stream holds a publication that has not expired, subscribed or not; not a
    // stream created by a join only, nor a channel whose rule keeps no history.
    ManualTimer timer;
    MemoryBroker broker(timer, MemoryBrokerOptions{rules({{"", 10, 0ms}, {"brief/", 10, 5s}, {"live/", 0, 0ms}})});
    publishTo(broker, "news");
    publishTo(broker, "brief/a");
    publishTo(broker, "live/x");
    broker.subscribe("joined");
    broker.history("joined", HistoryQuery{.createStream = true}, [](HistoryResult) {});
    QCOMPARE(broker.channelsWithHistory(), (std::vector<std::string>{"brief/a", "news"}));
    timer.advance(6s); // brief/a's only publication has expired
    QCOMPARE(broker.channelsWithHistory(), (std::vector<std::string>{"news"}));
}

void TestHistory::ttlExpiresGapThenStream()
{
    ManualTimer timer;
    MemoryBroker broker(timer, MemoryBrokerOptions{rules({{"", 100, 10s}})});
    const auto p1 = publishTo(broker, "a");
    timer.advance(4s);
    const auto p2 = publishTo(broker, "a");
    timer.advance(4s);
    const auto p3 = publishTo(broker, "a");
    QVERIFY(since(broker, "a", p1).complete);

    timer.advance(3s); // p1 is 11 s old: expired; p2 and p3 still held
    auto result = since(broker, "a", StreamPosition{0, p1.epoch});
    QVERIFY(!result.complete);
    QCOMPARE(offsets(result.publications), (std::vector<std::uint64_t>{2, 3}));
    QVERIFY(since(broker, "a", p1).complete); // the gap after p1 (2, 3) is still whole
    QCOMPARE(offsets(since(broker, "a", p1).publications), (std::vector<std::uint64_t>{2, 3}));

    timer.advance(20s); // everything expired: the stream is gone (the sweep removed it)
    QCOMPARE(broker.streamCount(), std::size_t(0));
    QVERIFY(!since(broker, "a", p3).complete);
    const auto reborn = publishTo(broker, "a");
    QCOMPARE(reborn.offset, std::uint64_t(1));
    QVERIFY(reborn.epoch != p3.epoch);
    QVERIFY(!since(broker, "a", p3).complete);
    QCOMPARE(p2.offset, std::uint64_t(2));
}

void TestHistory::streamEvictionChangesEpoch()
{
    ManualTimer timer;
    std::vector<std::string> logs;
    MemoryBrokerOptions options{rules({{"", 10, 0ms}}, 2)};
    options.log = [&](std::string_view line) { logs.emplace_back(line); };
    MemoryBroker broker(timer, options);
    const auto a = publishTo(broker, "a");
    publishTo(broker, "b");
    publishTo(broker, "a"); // a is now the most recent; b is the eviction candidate
    publishTo(broker, "c");
    QCOMPARE(broker.streamCount(), std::size_t(2));
    QVERIFY(since(broker, "a", a).complete);
    const auto b2 = publishTo(broker, "b"); // evicts a
    QCOMPARE(b2.offset, std::uint64_t(1));
    QVERIFY(!since(broker, "a", a).complete);
    const auto a2 = publishTo(broker, "a");
    QCOMPARE(a2.offset, std::uint64_t(1));
    QVERIFY(a2.epoch != a.epoch);
    QVERIFY(!logs.empty());
}

void TestHistory::deliveryOnlyToSubscribedChannels()
{
    ManualTimer timer;
    MemoryBroker broker(timer);
    RecordingHandler handler;
    broker.setHandler(&handler);
    publishTo(broker, "a");
    broker.subscribe("a");
    broker.subscribe("a"); // idempotent
    publishTo(broker, "a", "2");
    publishTo(broker, "b");
    QCOMPARE(handler.received.size(), std::size_t(1));
    QCOMPARE(handler.received[0].data, std::string("2"));
    QCOMPARE(handler.received[0].offset, std::uint64_t(2));
    broker.unsubscribe("a");
    publishTo(broker, "a");
    QCOMPARE(handler.received.size(), std::size_t(1));
}

void TestHistory::handlerErrorsAreContained()
{
    ManualTimer timer;
    std::vector<std::string> logs;
    MemoryBrokerOptions options;
    options.log = [&](std::string_view line) { logs.emplace_back(line); };
    MemoryBroker broker(timer, options);
    RecordingHandler handler;
    handler.onReceive = [](const Publication &p) {
        if (p.data == "bad")
            throw std::runtime_error("boom");
    };
    broker.setHandler(&handler);
    broker.subscribe("a");
    std::error_code error = Error::Internal;
    Publication bad;
    bad.channel = "a";
    bad.data = "bad";
    broker.publish(bad, [&](std::error_code e, StreamPosition) { error = e; });
    QVERIFY(!error); // the publisher does not see the handler's failure
    publishTo(broker, "a", "good");
    QCOMPARE(handler.received.size(), std::size_t(2));
    QCOMPARE(broker.handlerErrors(), std::uint64_t(1));
    QCOMPARE(logs.size(), std::size_t(1));
    QVERIFY(logs[0].find("boom") != std::string::npos);
    QCOMPARE(historyOf(broker, "a").publications.size(), std::size_t(2)); // stored anyway
}

void TestHistory::reentrantPublishIsQueued()
{
    ManualTimer timer;
    MemoryBroker broker(timer);
    RecordingHandler handler;
    int depth = 0;
    int maxDepth = 0;
    handler.onReceive = [&](const Publication &p) {
        ++depth;
        maxDepth = std::max(maxDepth, depth);
        if (p.data == "1") {
            publishTo(broker, "a", "2");
            publishTo(broker, "b", "3");
        }
        --depth;
    };
    broker.setHandler(&handler);
    broker.subscribe("a");
    broker.subscribe("b");
    publishTo(broker, "a", "1");
    QCOMPARE(maxDepth, 1); // never nested
    QCOMPARE(handler.received.size(), std::size_t(3));
    QCOMPARE(handler.received[1].data, std::string("2"));
    QCOMPARE(handler.received[2].data, std::string("3"));
}

void TestHistory::executorBufferDropsAndCounts()
{
    ManualTimer timer;
    QueueExecutor executor;
    std::vector<std::string> logs;
    MemoryBrokerOptions options;
    options.executor = &executor;
    options.subscriptionBuffer = 3;
    options.log = [&](std::string_view line) { logs.emplace_back(line); };
    MemoryBroker broker(timer, options);
    RecordingHandler handler;
    broker.setHandler(&handler);
    broker.subscribe("a");
    broker.subscribe("b");
    for (int i = 1; i <= 5; ++i)
        publishTo(broker, "a", std::to_string(i));
    publishTo(broker, "b");
    QVERIFY(handler.received.empty()); // delivery waits for the executor
    QCOMPARE(executor.pendingCount(), std::size_t(1));
    executor.runPending();
    QCOMPARE(handler.received.size(), std::size_t(4));
    QCOMPARE(handler.received[2].data, std::string("3"));
    QCOMPARE(broker.dropped(), std::uint64_t(2));
    QCOMPARE(broker.dropped("a"), std::uint64_t(2));
    QCOMPARE(broker.dropped("b"), std::uint64_t(0));
    QCOMPARE(logs.size(), std::size_t(2));
    QCOMPARE(historyOf(broker, "a").publications.size(), std::size_t(5)); // dropped for delivery only

    // Unsubscribing discards what was queued.
    publishTo(broker, "a");
    broker.unsubscribe("a");
    executor.runPending();
    QCOMPARE(handler.received.size(), std::size_t(4));
}

void TestHistory::recoveryThroughJoin_data()
{
    QTest::addColumn<int>("scenario");
    QTest::addColumn<bool>("recovered");
    QTest::addColumn<std::vector<std::uint64_t>>("missed");

    QTest::newRow("gap held") << 0 << true << std::vector<std::uint64_t>{3, 4, 5};
    QTest::newRow("nothing missed") << 1 << true << std::vector<std::uint64_t>{};
    // Not recovered: what history still holds is replayed all the same (docs/protocol.md).
    QTest::newRow("epoch changed (stream expired and recreated)") << 2 << false << std::vector<std::uint64_t>{1};
    QTest::newRow("gap expired (TTL)") << 3 << false << std::vector<std::uint64_t>{4, 5};
    QTest::newRow("gap evicted (size)") << 4 << false << std::vector<std::uint64_t>{5, 6, 7, 8};
    QTest::newRow("epoch changed (stream evicted)") << 5 << false << std::vector<std::uint64_t>{1};
}

void TestHistory::recoveryThroughJoin()
{
    QFETCH(int, scenario);
    QFETCH(bool, recovered);
    QFETCH(std::vector<std::uint64_t>, missed);

    HubFixture f(rules({{"", 4, 60s}}, 2));
    // A client saw offsets 1 and 2 on `feed`, then went away.
    f.hub.broadcast("feed", "e", "1");
    f.hub.broadcast("feed", "e", "2");
    const JoinResult first = f.join("feed", std::nullopt);
    const StreamPosition seen = first.position;
    QCOMPARE(seen.offset, std::uint64_t(2));
    f.hub.detach(f.lastSession);

    switch (scenario) {
    case 0: // three more while away
        for (int i = 3; i <= 5; ++i)
            f.hub.broadcast("feed", "e", std::to_string(i));
        break;
    case 1:
        break;
    case 2: // everything expires, then the channel lives again
        f.timer.advance(61s);
        f.hub.broadcast("feed", "e", "new");
        break;
    case 3: // 3 expires while 4 and 5 remain: the stream lives on, the gap is broken
        f.timer.advance(1s);
        f.hub.broadcast("feed", "e", "3");
        f.timer.advance(49s);
        f.hub.broadcast("feed", "e", "4");
        f.hub.broadcast("feed", "e", "5");
        f.timer.advance(12s);
        break;
    case 4: // more than the 4 held
        for (int i = 3; i <= 8; ++i)
            f.hub.broadcast("feed", "e", std::to_string(i));
        break;
    case 5: // two other streams push `feed` out (2 streams at most)
        f.hub.broadcast("x", "e", "1");
        f.hub.broadcast("y", "e", "1");
        f.hub.broadcast("feed", "e", "3");
        break;
    }

    const JoinResult result = f.join("feed", seen);
    QVERIFY(!result.error);
    QVERIFY(result.recoveryRequested);
    QCOMPARE(result.recovered, recovered);
    QCOMPARE(offsets(result.missed), missed);
    if (recovered) {
        QCOMPARE(result.position.epoch, seen.epoch);
        for (const auto &publication : result.missed)
            QCOMPARE(publication.data, std::to_string(publication.offset));
    }
    // The position to recover from next time is always the stream top.
    HistoryQuery query;
    query.positionOnly = true;
    QCOMPARE(result.position, historyOf(f.broker, "feed", query).top);
}

void TestHistory::createStreamGivesEpochBeforeFirstPublish()
{
    ManualTimer timer;
    MemoryBroker broker(timer, MemoryBrokerOptions{rules({{"", 10, 0ms}, {"live/", 0, 0ms}})});
    HistoryQuery create;
    create.positionOnly = true;
    create.createStream = true;
    const auto created = historyOf(broker, "a", create);
    QVERIFY(!created.error);
    QCOMPARE(created.top.offset, std::uint64_t(0));
    QVERIFY(!created.top.epoch.empty());
    QCOMPARE(broker.streamCount(), std::size_t(1));
    // Asking again finds the same stream; the first publish continues it.
    QCOMPARE(historyOf(broker, "a", create).top, created.top);
    const auto first = publishTo(broker, "a");
    QCOMPARE(first, (StreamPosition{1, created.top.epoch}));
    // Recovery from the position given at creation is exact.
    const auto gap = since(broker, "a", created.top);
    QVERIFY(gap.complete);
    QCOMPARE(offsets(gap.publications), std::vector<std::uint64_t>{1});

    // A channel that keeps no history gets no stream and no epoch, and cannot be recovered.
    const auto live = historyOf(broker, "live/x", create);
    QCOMPARE(live.top, StreamPosition{});
    QCOMPARE(broker.streamCount(), std::size_t(1));
    HistoryQuery recover;
    recover.since = StreamPosition{};
    recover.createStream = true;
    QVERIFY(!historyOf(broker, "live/x", recover).complete);
}

void TestHistory::emptyStreamLifetime()
{
    ManualTimer timer;
    MemoryBroker broker(timer, MemoryBrokerOptions{rules({{"", 10, 10s}})});
    HistoryQuery create;
    create.positionOnly = true;
    create.createStream = true;

    // Created and never published to: kept for the TTL, then expires like a stream whose
    // publications all expired.
    const auto lonely = historyOf(broker, "lonely", create).top;
    timer.advance(9s);
    QCOMPARE(historyOf(broker, "lonely", create).top, lonely);
    timer.advance(2s);
    QCOMPARE(broker.streamCount(), std::size_t(0)); // the sweep removed it
    QVERIFY(historyOf(broker, "lonely", create).top.epoch != lonely.epoch);

    // Subscribed here: the epoch stays, however long the channel is quiet, and its
    // publications still expire one by one.
    broker.subscribe("watched");
    const auto watched = historyOf(broker, "watched", create).top;
    timer.advance(60s);
    QCOMPARE(publishTo(broker, "watched"), (StreamPosition{1, watched.epoch}));
    timer.advance(60s);
    const auto after = since(broker, "watched", StreamPosition{0, watched.epoch});
    QVERIFY(!after.complete); // offset 1 expired
    QCOMPARE(after.top, (StreamPosition{1, watched.epoch}));
    QVERIFY(since(broker, "watched", StreamPosition{1, watched.epoch}).complete);
    // Unsubscribed: it expires once quiet for the TTL.
    broker.unsubscribe("watched");
    timer.advance(2s);
    QVERIFY(!since(broker, "watched", StreamPosition{1, watched.epoch}).complete);
    QCOMPARE(broker.streamCount(), std::size_t(0));
}

void TestHistory::epochAtFirstJoin_data()
{
    QTest::addColumn<QString>("channel");
    QTest::addColumn<bool>("kept");
    QTest::newRow("history kept") << "feed" << true;
    QTest::newRow("presence, history kept") << "presence-room" << true;
    QTest::newRow("no history") << "live/feed" << false;
}

void TestHistory::epochAtFirstJoin()
{
    QFETCH(QString, channel);
    QFETCH(bool, kept);
    const std::string name = channel.toStdString();
    HubFixture f(rules({{"", 10, 60s}, {"live/", 0, 0ms}}));
    f.hub.setAuthorizer([](const AuthRequest &) { return AuthDecision{true, {}, {}}; });
    const JoinResult first = f.join(name, std::nullopt);
    QVERIFY(!first.error);
    QCOMPARE(first.position.offset, std::uint64_t(0));
    QCOMPARE(first.position.epoch.empty(), !kept);
    // A second subscriber sees the same stream; the first publication continues it.
    QCOMPARE(f.join(name, std::nullopt).position, first.position);
    StreamPosition published;
    Publication publication;
    publication.channel = name;
    publication.event = "e";
    publication.data = "1";
    f.hub.publish(std::move(publication), [&](std::error_code, StreamPosition p) { published = std::move(p); });
    QCOMPARE(published, (kept ? StreamPosition{1, first.position.epoch} : StreamPosition{}));

    // Recovering from the position given at join: exact when history is kept, never otherwise.
    const JoinResult again = f.join(name, first.position);
    QVERIFY(again.recoveryRequested);
    QCOMPARE(again.recovered, kept);
    QCOMPARE(offsets(again.missed), kept ? std::vector<std::uint64_t>{1} : std::vector<std::uint64_t>{});
}

void TestHistory::joinedStreamRecreatedWhileAway()
{
    HubFixture f(rules({{"", 10, 10s}}));
    const JoinResult first = f.join("feed", std::nullopt);
    f.hub.broadcast("feed", "e", "1");
    const StreamPosition seen{1, first.position.epoch};
    // Kept while subscribed, even when quiet for longer than the TTL.
    f.timer.advance(30s);
    QCOMPARE(f.broker.streamCount(), std::size_t(1));
    f.hub.detach(f.lastSession);
    f.timer.advance(11s); // away: the stream expires entirely
    QCOMPARE(f.broker.streamCount(), std::size_t(0));
    f.hub.broadcast("feed", "e", "new"); // a new stream, offsets from 1 again

    const JoinResult back = f.join("feed", seen);
    QVERIFY(back.recoveryRequested);
    QVERIFY(!back.recovered);
    QCOMPARE(offsets(back.missed), std::vector<std::uint64_t>{1}); // the new stream, replayed
    QVERIFY(back.position.epoch != seen.epoch);
    QCOMPARE(back.position.offset, std::uint64_t(1));
}

QTEST_APPLESS_MAIN(TestHistory)
#include "tst_history.moc"
