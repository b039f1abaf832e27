// The global stream limit (HistoryOptions::maxStreams): subscribing alone never pushes published
// history out, a channel with subscribers outlives unsubscribed ones, and what is lost is counted.
#include "HubTestSupport.h"

#include <QtTest>

using namespace std::chrono_literals;

namespace {

StreamPosition publish(Broker &broker, std::string_view channel)
{
    Publication publication;
    publication.channel = std::string(channel);
    publication.event = "e";
    publication.data = "1";
    StreamPosition position;
    broker.publish(std::move(publication), [&](std::error_code, StreamPosition p) { position = std::move(p); });
    return position;
}

/// What a join asks of the broker: the stream's position, created when missing.
StreamPosition joinPosition(Broker &broker, std::string_view channel)
{
    HistoryQuery query;
    query.createStream = true;
    query.positionOnly = true;
    return historyOf(broker, channel, query).top;
}

} // namespace

class TestHistoryEviction : public QObject
{
    Q_OBJECT

private slots:
    void anonymousSubscribersCannotEvictHistory();
    void subscribingLeavesNothingBehind();
    void evictionOrder();
};

void TestHistoryEviction::anonymousSubscribersCannotEvictHistory()
{
    MemoryHub f(rules({{"", 10, 0ms}}, 8));
    // A live channel (a subscriber, two publications) and an archived one (published, nobody here).
    QVERIFY(!f.join("live", std::nullopt).error);
    f.hub.broadcast("live", "e", "1");
    f.hub.broadcast("live", "e", "2");
    f.hub.broadcast("archive", "e", "1");
    const StreamPosition live = historyOf(f.broker, "live").top;
    const StreamPosition archive = historyOf(f.broker, "archive").top;
    QCOMPARE(live.offset, std::uint64_t(2));

    // 100 anonymous connections subscribe to 4 fresh channels each: 50 times the stream limit.
    for (int connection = 0; connection < 100; ++connection) {
        const std::string id = f.hub.attach(std::make_shared<RecordingSession>());
        for (int channel = 0; channel < 4; ++channel) {
            const JoinResult joined = joinNow(f.hub, id, "anon/" + std::to_string(connection) + "/" + std::to_string(channel));
            QVERIFY(!joined.error); // subscribing still works, with or without a stream
        }
    }

    QVERIFY(f.broker.streamCount() <= 8);
    QCOMPARE(historyOf(f.broker, "live").top, live);
    QCOMPARE(historyOf(f.broker, "live").publications.size(), std::size_t(2));
    QCOMPARE(historyOf(f.broker, "archive").top, archive);
    QCOMPARE(f.hub.counters().historyEvictions, std::uint64_t(0));
    QCOMPARE(f.broker.historyEvictions(), std::uint64_t(0));

    // A subscriber of `live` that saw offset 1 recovers exactly what it missed.
    const JoinResult again = f.join("live", StreamPosition{1, live.epoch});
    QVERIFY(again.recovered);
    QCOMPARE(again.missed.size(), std::size_t(1));
}

void TestHistoryEviction::subscribingLeavesNothingBehind()
{
    MemoryHub f(rules({{"", 10, 0ms}}, 100));
    for (int i = 0; i < 50; ++i) {
        const std::string id = f.hub.attach(std::make_shared<RecordingSession>());
        const JoinResult joined = joinNow(f.hub, id, "churn/" + std::to_string(i));
        QVERIFY(!joined.error);
        QVERIFY(!joined.position.epoch.empty()); // below the limit the subscriber learns an epoch
        f.hub.detach(id);
    }
    QCOMPARE(f.broker.streamCount(), std::size_t(0));

    // A published channel keeps its stream when its last subscriber leaves.
    const std::string id = f.hub.attach(std::make_shared<RecordingSession>());
    QVERIFY(!joinNow(f.hub, id, "kept").error);
    f.hub.broadcast("kept", "e", "1");
    f.hub.detach(id);
    QCOMPARE(f.broker.streamCount(), std::size_t(1));
}

void TestHistoryEviction::evictionOrder()
{
    ManualTimer timer;
    std::vector<std::string> logs;
    MemoryBrokerOptions options{rules({{"", 10, 0ms}}, 3)};
    options.log = [&](std::string_view line) { logs.emplace_back(line); };
    MemoryBroker broker(timer, options);

    broker.subscribe("c");
    const StreamPosition c = publish(broker, "c"); // the oldest, subscribed
    publish(broker, "b");                          // published, nobody subscribed
    broker.subscribe("a");
    QVERIFY(!joinPosition(broker, "a").epoch.empty()); // empty: only a subscriber's epoch
    QCOMPARE(broker.streamCount(), std::size_t(3));

    publish(broker, "d"); // the empty stream goes first, subscribed or not: nothing is lost
    QCOMPARE(broker.streamCount(), std::size_t(3));
    QCOMPARE(broker.historyEvictions(), std::uint64_t(0));
    QVERIFY(logs.empty());
    QVERIFY(historyOf(broker, "b").top.offset == 1);

    publish(broker, "e"); // then the least recently published stream nobody subscribes to: b, not c
    QCOMPARE(broker.historyEvictions(), std::uint64_t(1));
    QVERIFY(historyOf(broker, "b").top.epoch.empty());
    QCOMPARE(historyOf(broker, "c").top, c);
    QCOMPARE(logs.size(), std::size_t(1));
    QVERIFY2(logs[0].find("b") != std::string::npos, logs[0].c_str());

    // A join on a new channel may not evict published history: no stream, no epoch.
    broker.subscribe("g");
    QVERIFY(joinPosition(broker, "g").epoch.empty());
    QCOMPARE(broker.streamCount(), std::size_t(3));
    QCOMPARE(historyOf(broker, "c").top, c);

    // Only when every stream has subscribers does the least recently published one go.
    broker.subscribe("d");
    broker.subscribe("e");
    publish(broker, "f");
    QCOMPARE(broker.historyEvictions(), std::uint64_t(2));
    QVERIFY(historyOf(broker, "c").top.epoch.empty());
}

QTEST_GUILESS_MAIN(TestHistoryEviction)
#include "tst_historyeviction.moc"
