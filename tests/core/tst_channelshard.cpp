// ChannelShard: the channel -> shard mapping every node of a sharded deployment must agree on
// (FNV-1a 64, modulo the shard count), its spread, and ShardedBroker / ShardedPresenceStore
// routing each channel to that shard.
#include "switchboard/ChannelShard.h"
#include "switchboard/MemoryBroker.h"
#include "switchboard/MemoryPresenceStore.h"
#include "switchboard/ShardedBroker.h"
#include "switchboard/ShardedPresenceStore.h"
#include "switchboard/Timer.h"

#include <QtTest>

#include <string>
#include <vector>

using namespace switchboard;

class TestChannelShard : public QObject {
    Q_OBJECT
private slots:
    void hashIsFnv1a64_data();
    void hashIsFnv1a64();
    void shardOfIsStable_data();
    void shardOfIsStable();
    void spreadsManyChannelsEvenly_data();
    void spreadsManyChannelsEvenly();
    void oneShardTakesEverything();
    void brokerRoutesEachChannelToItsShard();
    void presenceRoutesEachChannelToItsShard();
};

void TestChannelShard::hashIsFnv1a64_data()
{
    QTest::addColumn<QByteArray>("channel");
    QTest::addColumn<quint64>("hash");
    // The published FNV-1a 64 test vectors (offset basis for the empty string).
    QTest::newRow("empty") << QByteArray("") << quint64(0xcbf29ce484222325ull);
    QTest::newRow("a") << QByteArray("a") << quint64(0xaf63dc4c8601ec8cull);
    QTest::newRow("foobar") << QByteArray("foobar") << quint64(0x85944171f73967e8ull);
    // Bytes are unsigned: UTF-8 names hash the same on every platform.
    QTest::newRow("utf8") << QByteArray("caf\xc3\xa9") << quint64(0x48e8823acfa40d89ull);
}

void TestChannelShard::hashIsFnv1a64()
{
    QFETCH(QByteArray, channel);
    QFETCH(quint64, hash);
    QCOMPARE(quint64(channelHash(std::string_view(channel.constData(), std::size_t(channel.size())))), hash);
}

void TestChannelShard::shardOfIsStable_data()
{
    QTest::addColumn<QString>("channel");
    QTest::addColumn<int>("shards");
    QTest::addColumn<int>("shard");
    // Fixed forever: a deployment's nodes (and its next release) must agree on these.
    QTest::newRow("chat/lobby of 2") << "chat/lobby" << 2 << 0;
    QTest::newRow("chat/lobby of 3") << "chat/lobby" << 3 << 0;
    QTest::newRow("a of 2") << "a" << 2 << 0;
    QTest::newRow("a of 3") << "a" << 3 << 1;
    QTest::newRow("empty of 2") << "" << 2 << 1;
    QTest::newRow("empty of 3") << "" << 3 << 2;
    QTest::newRow("news/2 of 2") << "news/2" << 2 << 1;
    QTest::newRow("news/2 of 5") << "news/2" << 5 << 4;
    QTest::newRow("orders/42 of 4") << "orders/42" << 4 << 3;
}

void TestChannelShard::shardOfIsStable()
{
    QFETCH(QString, channel);
    QFETCH(int, shards);
    QFETCH(int, shard);
    const std::string name = channel.toStdString();
    QCOMPARE(int(shardOfChannel(name, std::size_t(shards))), shard);
    QCOMPARE(int(shardOfChannel(name, std::size_t(shards))), shard); // no state
}

void TestChannelShard::spreadsManyChannelsEvenly_data()
{
    QTest::addColumn<int>("shards");
    for (int n = 2; n <= 8; ++n)
        QTest::addRow("%d shards", n) << n;
    QTest::newRow("16 shards") << 16;
}

void TestChannelShard::spreadsManyChannelsEvenly()
{
    QFETCH(int, shards);
    // Names shaped like real ones (a prefix and a counter): they differ only in their last bytes.
    constexpr int names = 20000;
    std::vector<int> counts(std::size_t(shards), 0);
    for (int i = 0; i < names; ++i) {
        const std::size_t shard = shardOfChannel("chat/room-" + std::to_string(i), std::size_t(shards));
        QVERIFY(shard < std::size_t(shards));
        ++counts[shard];
    }
    const double expected = double(names) / shards;
    for (int s = 0; s < shards; ++s) {
        if (std::abs(counts[std::size_t(s)] - expected) > expected * 0.1)
            QFAIL(qPrintable(QStringLiteral("shard %1 of %2 holds %3 channels, expected about %4")
                                 .arg(s).arg(shards).arg(counts[std::size_t(s)]).arg(expected)));
    }
}

void TestChannelShard::oneShardTakesEverything()
{
    QCOMPARE(shardOfChannel("anything", 1), std::size_t(0));
    QCOMPARE(shardOfChannel("anything", 0), std::size_t(0));
}

namespace {

/// The first channel named prefix + number that lands on `shard` of `shards`.
std::string channelOnShard(std::size_t shard, std::size_t shards, const std::string &prefix = "room-")
{
    for (int i = 0;; ++i) {
        std::string name = prefix + std::to_string(i);
        if (shardOfChannel(name, shards) == shard)
            return name;
    }
}

class CountingHandler final : public BrokerHandler {
public:
    void onPublication(const Publication &publication) override { channels.push_back(publication.channel); }
    std::vector<std::string> channels;
};

} // namespace

void TestChannelShard::brokerRoutesEachChannelToItsShard()
{
    ManualTimer timer;
    MemoryBroker first(timer);
    MemoryBroker second(timer);
    ShardedBroker sharded({&first, &second});
    CountingHandler handler;
    sharded.setHandler(&handler);

    const std::string onFirst = channelOnShard(0, 2);
    const std::string onSecond = channelOnShard(1, 2);
    QCOMPARE(sharded.shardOf(onFirst), std::size_t(0));
    QCOMPARE(sharded.shardOf(onSecond), std::size_t(1));
    sharded.subscribe(onFirst);
    sharded.subscribe(onSecond);
    for (const std::string &channel : {onFirst, onSecond, onSecond}) {
        Publication p;
        p.channel = channel;
        p.data = "1";
        sharded.publish(std::move(p), [](std::error_code error, StreamPosition) { QVERIFY(!error); });
    }
    // Each stream exists on its own shard only, with its own offsets.
    QCOMPARE(first.streamCount(), std::size_t(1));
    QCOMPARE(second.streamCount(), std::size_t(1));
    std::uint64_t top = 0;
    sharded.history(onSecond, HistoryQuery{}, [&](HistoryResult r) { top = r.top.offset; });
    QCOMPARE(top, std::uint64_t(2));
    first.history(onSecond, HistoryQuery{}, [&](HistoryResult r) { top = r.top.offset; });
    QCOMPARE(top, std::uint64_t(0));
    // The handler reached through either shard hears both channels.
    QCOMPARE(handler.channels, (std::vector<std::string>{onFirst, onSecond, onSecond}));
}

void TestChannelShard::presenceRoutesEachChannelToItsShard()
{
    MemoryPresenceStore first;
    MemoryPresenceStore second;
    MemoryPresenceStore third;
    ShardedPresenceStore sharded({&first, &second, &third});
    for (std::size_t shard = 0; shard < 3; ++shard) {
        const std::string channel = channelOnShard(shard, 3, "presence-room-");
        bool firstConnection = false;
        sharded.add(channel, Member{"alice", "null", 0}, "s1", [&](bool f) { firstConnection = f; });
        QVERIFY(firstConnection);
        PresenceStore *stores[] = {&first, &second, &third};
        for (std::size_t s = 0; s < 3; ++s) {
            std::size_t members = 99;
            stores[s]->members(channel, [&](std::vector<Member> m) { members = m.size(); });
            QCOMPARE(members, std::size_t(s == shard ? 1 : 0));
        }
        bool lastConnection = false;
        sharded.remove(channel, "alice", "s1", [&](bool l) { lastConnection = l; });
        QVERIFY(lastConnection);
    }
}

QTEST_GUILESS_MAIN(TestChannelShard)
#include "tst_channelshard.moc"
