// History snapshots of MemoryBroker: round trip, TTL measured by the wall clock across the
// snapshot, the current history rules applied on load, rejected input, and recovery through
// Hub::join from a position taken before the snapshot.
#include "switchboard/Hub.h"
#include "switchboard/MemoryBroker.h"
#include "switchboard/MemoryPresenceStore.h"

#include "HubTestSupport.h"

#include <QtTest>

#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using namespace switchboard;

Q_DECLARE_METATYPE(switchboard::SnapshotError)

namespace {

StreamPosition publishTo(Broker &broker, std::string_view channel, std::string data, std::string sender = {})
{
    Publication publication;
    publication.channel = std::string(channel);
    publication.event = "e";
    publication.data = std::move(data);
    publication.timestampMs = 1'700'000'000'123;
    publication.sender = std::move(sender);
    StreamPosition position;
    broker.publish(std::move(publication), [&](std::error_code, StreamPosition p) { position = std::move(p); });
    return position;
}

StreamPosition topOf(Broker &broker, std::string_view channel)
{
    HistoryQuery query;
    query.positionOnly = true;
    return historyOf(broker, channel, query).top;
}

std::vector<std::string> dataOf(const std::vector<Publication> &publications)
{
    std::vector<std::string> out;
    for (const auto &p : publications)
        out.push_back(p.data);
    return out;
}

std::string save(MemoryBroker &broker, SnapshotStats *stats = nullptr)
{
    std::ostringstream out;
    const SnapshotStats s = broker.saveSnapshot(out);
    if (stats)
        *stats = s;
    return out.str();
}

SnapshotStats load(MemoryBroker &broker, const std::string &text, std::error_code &error)
{
    std::istringstream in(text);
    return broker.loadSnapshot(in, error);
}

/// A process: its own clock (ManualTimer wall clock = fixed base + virtual time), broker and Hub.
using Process = MemoryHub;

} // namespace

class TestHistorySnapshot : public QObject
{
    Q_OBJECT

private slots:
    void roundTrip();
    void ttlAcrossSnapshot_data();
    void ttlAcrossSnapshot();
    void currentRulesApply();
    void rejectedInput_data();
    void rejectedInput();
    void recoveryAcrossSnapshot_data();
    void recoveryAcrossSnapshot();
};

void TestHistorySnapshot::roundTrip()
{
    Process before(rules({{"", 10, 0ms}}));
    publishTo(before.broker, "chat/a", R"({"text":"one"})", "session-1");
    publishTo(before.broker, "chat/a", R"([1,2,{"x":null}])");
    publishTo(before.broker, "chat/b", R"("only")");
    before.join("chat/empty", std::nullopt); // a stream created by a join, nothing published
    Publication binary;
    binary.channel = "chat/a";
    binary.data = std::string("\0\xff", 2);
    binary.binary = true;
    before.broker.publish(std::move(binary), {}); // never stored, so never saved

    SnapshotStats saved;
    const std::string text = save(before.broker, &saved);
    QCOMPARE(saved.streams, std::size_t(3));
    QCOMPARE(saved.publications, std::size_t(3));

    Process after(rules({{"", 10, 0ms}}), 5s);
    std::error_code error;
    const SnapshotStats loaded = load(after.broker, text, error);
    QVERIFY2(!error, error.message().c_str());
    QCOMPARE(loaded.streams, std::size_t(3));
    QCOMPARE(loaded.publications, std::size_t(3));
    QCOMPARE(after.broker.streamCount(), std::size_t(3));

    for (const char *channel : {"chat/a", "chat/b", "chat/empty"}) {
        QCOMPARE(topOf(after.broker, channel), topOf(before.broker, channel));
        const auto was = historyOf(before.broker, channel).publications;
        const auto is = historyOf(after.broker, channel).publications;
        QCOMPARE(is.size(), was.size());
        for (std::size_t i = 0; i < is.size(); ++i) {
            QCOMPARE(is[i].channel, was[i].channel);
            QCOMPARE(is[i].event, was[i].event);
            QCOMPARE(is[i].data, was[i].data);
            QCOMPARE(is[i].offset, was[i].offset);
            QCOMPARE(is[i].timestampMs, was[i].timestampMs);
            QCOMPARE(is[i].sender, was[i].sender);
        }
    }
    // The streams go on where they stopped, in the same epoch.
    const StreamPosition next = publishTo(after.broker, "chat/a", "3");
    QCOMPARE(next.offset, std::uint64_t(3));
    QCOMPARE(next.epoch, topOf(before.broker, "chat/a").epoch);
    QCOMPARE(publishTo(after.broker, "chat/empty", "1").epoch, topOf(before.broker, "chat/empty").epoch);
    // Saving the restored broker gives the same streams again.
    Process third(rules({{"", 10, 0ms}}), 6s);
    QCOMPARE(load(third.broker, save(after.broker), error).streams, std::size_t(3));
    QVERIFY(!error);
    QCOMPARE(topOf(third.broker, "chat/a"), next);
}

void TestHistorySnapshot::ttlAcrossSnapshot_data()
{
    QTest::addColumn<int>("downSeconds"); // between the save and the load (wall clock)
    QTest::addColumn<std::vector<std::string>>("kept");
    QTest::addColumn<bool>("streamKept");
    // Publications at t=0s ("old") and t=40s ("new"), TTL 60 s, saved at t=40s.
    // Data is JSON text, as a snapshot only holds what a client can parse.
    QTest::newRow("nothing expired") << 10 << std::vector<std::string>{R"("old")", R"("new")"} << true;
    QTest::newRow("older expired while down") << 30 << std::vector<std::string>{R"("new")"} << true;
    QTest::newRow("all expired while down") << 70 << std::vector<std::string>{} << false;
}

void TestHistorySnapshot::ttlAcrossSnapshot()
{
    QFETCH(int, downSeconds);
    QFETCH(std::vector<std::string>, kept);
    QFETCH(bool, streamKept);

    Process before(rules({{"", 10, 60s}}));
    const StreamPosition first = publishTo(before.broker, "feed", R"("old")");
    before.timer.advance(40s);
    publishTo(before.broker, "feed", R"("new")");
    const std::string text = save(before.broker);

    Process after(rules({{"", 10, 60s}}), 40s + std::chrono::seconds(downSeconds));
    std::error_code error;
    const SnapshotStats loaded = load(after.broker, text, error);
    QVERIFY(!error);
    QCOMPARE(loaded.publications, kept.size());
    QCOMPARE(loaded.expiredPublications, 2 - kept.size());
    QCOMPARE(after.broker.streamCount(), std::size_t(streamKept ? 1 : 0));
    QCOMPARE(dataOf(historyOf(after.broker, "feed").publications), kept);
    const StreamPosition next = publishTo(after.broker, "feed", "later");
    if (streamKept) {
        QCOMPARE(next.epoch, first.epoch);
        QCOMPARE(next.offset, std::uint64_t(3));
    } else {
        // Expired entirely: the channel lives again in a new epoch, and nothing is recoverable.
        QVERIFY(next.epoch != first.epoch);
        QCOMPARE(next.offset, std::uint64_t(1));
        QVERIFY(!since(after.broker, "feed", first).complete);
    }
    // The TTL keeps running after the load: "new" (stored at t=40s) goes at t=100s.
    if (streamKept) {
        after.timer.advance(100s - (40s + std::chrono::seconds(downSeconds)));
        QCOMPARE(dataOf(historyOf(after.broker, "feed").publications), std::vector<std::string>{"later"});
    }
}

void TestHistorySnapshot::currentRulesApply()
{
    Process before(rules({{"", 10, 0ms}}));
    for (int i = 1; i <= 6; ++i)
        publishTo(before.broker, "big", std::to_string(i));
    before.timer.advance(1s);
    publishTo(before.broker, "gone/x", "1");
    before.timer.advance(1s);
    publishTo(before.broker, "recent", "1");
    const std::string text = save(before.broker);

    // Now: `big` keeps 4, `gone/` keeps no history, and two streams at most.
    Process after(rules({{"", 4, 0ms}, {"gone/", 0, 0ms}}, 2));
    std::error_code error;
    const SnapshotStats loaded = load(after.broker, text, error);
    QVERIFY(!error);
    QCOMPARE(loaded.streams, std::size_t(2));
    QCOMPARE(loaded.droppedStreams, std::size_t(1));
    QCOMPARE(loaded.publications, std::size_t(5));
    QCOMPARE(loaded.expiredPublications, std::size_t(3));
    QCOMPARE(dataOf(historyOf(after.broker, "big").publications), (std::vector<std::string>{"3", "4", "5", "6"}));
    QCOMPARE(topOf(after.broker, "gone/x"), StreamPosition{});
    // A gap of 2..6 lost its first publication to the smaller size: not recoverable.
    QVERIFY(!since(after.broker, "big", StreamPosition{1, topOf(before.broker, "big").epoch}).complete);
    QVERIFY(since(after.broker, "big", StreamPosition{2, topOf(before.broker, "big").epoch}).complete);
    // The eviction order survives: the least recently published (`big`) goes first.
    publishTo(after.broker, "third", "1");
    QCOMPARE(topOf(after.broker, "big").offset, std::uint64_t(0));
    QCOMPARE(topOf(after.broker, "recent"), topOf(before.broker, "recent"));

    // Loading twice leaves the second snapshot only.
    Process other(rules({{"", 4, 0ms}}));
    publishTo(other.broker, "other", "1");
    QCOMPARE(load(after.broker, save(other.broker), error).streams, std::size_t(1));
    QVERIFY(!error);
    QCOMPARE(after.broker.streamCount(), std::size_t(1));
    QCOMPARE(topOf(after.broker, "other"), topOf(other.broker, "other"));
}

void TestHistorySnapshot::rejectedInput_data()
{
    QTest::addColumn<std::string>("text");
    QTest::addColumn<SnapshotError>("expected");

    Process source(rules({{"", 10, 0ms}}));
    publishTo(source.broker, "a", "1");
    publishTo(source.broker, "a", "2");
    const std::string valid = save(source.broker);
    const auto doc = [](const std::string &streams) {
        return R"({"format":"switchboard-history-snapshot","version":1,"savedAtMs":0,"streams":)" + streams + "}";
    };
    const auto pub = [](int offset, const std::string &data = R"("\"x\"")") {
        return R"({"offset":)" + std::to_string(offset) + R"(,"event":"e","data":)" + data
            + R"(,"timestampMs":1,"storedAtMs":1})";
    };
    const auto stream = [](const std::string &channel, const std::string &top, const std::string &pubs) {
        return R"({"channel":)" + channel + R"(,"epoch":"ab12","top":)" + top + R"(,"lastActiveMs":1,"publications":[)"
            + pubs + "]}";
    };

    QTest::newRow("empty") << std::string() << SnapshotError::NotJson;
    QTest::newRow("truncated") << valid.substr(0, valid.size() / 2) << SnapshotError::NotJson;
    QTest::newRow("binary") << std::string("\x00\x9f\xff{", 4) << SnapshotError::NotJson;
    QTest::newRow("array") << std::string("[1,2]") << SnapshotError::Foreign;
    QTest::newRow("other format") << std::string(R"({"format":"something-else","version":1,"streams":[]})") << SnapshotError::Foreign;
    QTest::newRow("config file") << std::string(R"({"port":8080,"history":[]})") << SnapshotError::Foreign;
    QTest::newRow("newer version") << std::string(R"({"format":"switchboard-history-snapshot","version":2,"streams":[]})")
                                   << SnapshotError::Unsupported;
    QTest::newRow("version as text") << std::string(R"({"format":"switchboard-history-snapshot","version":"1","streams":[]})")
                                     << SnapshotError::Malformed;
    QTest::newRow("no streams") << std::string(R"({"format":"switchboard-history-snapshot","version":1})") << SnapshotError::Malformed;
    QTest::newRow("stream not object") << doc("[1]") << SnapshotError::Malformed;
    QTest::newRow("empty channel") << doc("[" + stream(R"("")", "1", pub(1)) + "]") << SnapshotError::Malformed;
    QTest::newRow("negative top") << doc("[" + stream(R"("a")", "-1", "") + "]") << SnapshotError::Malformed;
    QTest::newRow("offset gap") << doc("[" + stream(R"("a")", "3", pub(1) + "," + pub(3)) + "]") << SnapshotError::Malformed;
    QTest::newRow("offset beyond top") << doc("[" + stream(R"("a")", "1", pub(1) + "," + pub(2)) + "]") << SnapshotError::Malformed;
    QTest::newRow("top beyond newest") << doc("[" + stream(R"("a")", "5", pub(1)) + "]") << SnapshotError::Malformed;
    QTest::newRow("offset zero") << doc("[" + stream(R"("a")", "0", pub(0)) + "]") << SnapshotError::Malformed;
    QTest::newRow("data not text") << doc("[" + stream(R"("a")", "1", pub(1, "{}")) + "]") << SnapshotError::Malformed;
    QTest::newRow("duplicate channel") << doc("[" + stream(R"("a")", "1", pub(1)) + "," + stream(R"("a")", "1", pub(1)) + "]")
                                       << SnapshotError::Malformed;
}

void TestHistorySnapshot::rejectedInput()
{
    QFETCH(std::string, text);
    QFETCH(SnapshotError, expected);

    Process p(rules({{"", 10, 0ms}}));
    const StreamPosition old = publishTo(p.broker, "a", "held before the load");
    std::error_code error;
    const SnapshotStats loaded = load(p.broker, text, error);
    QCOMPARE(error, make_error_code(expected));
    QVERIFY(!error.message().empty());
    QCOMPARE(loaded.streams, std::size_t(0));
    // Nothing half-loaded, nothing kept: the broker is empty and works.
    QCOMPARE(p.broker.streamCount(), std::size_t(0));
    const StreamPosition next = publishTo(p.broker, "a", "after");
    QCOMPARE(next.offset, std::uint64_t(1));
    QVERIFY(next.epoch != old.epoch);
}

void TestHistorySnapshot::recoveryAcrossSnapshot_data()
{
    QTest::addColumn<bool>("sameEpoch");
    QTest::addColumn<bool>("recovered");
    QTest::addColumn<std::vector<std::string>>("missed");
    QTest::newRow("position from before the snapshot")
        << true << true << std::vector<std::string>{"3", "4", "5", "6"};
    // Another epoch: what history holds is replayed, flagged recovered false.
    QTest::newRow("position from another epoch")
        << false << false << std::vector<std::string>{"1", "2", "3", "4", "5", "6"};
}

void TestHistorySnapshot::recoveryAcrossSnapshot()
{
    QFETCH(bool, sameEpoch);
    QFETCH(bool, recovered);
    QFETCH(std::vector<std::string>, missed);

    Process before(rules({{"", 100, 300s}}));
    before.hub.broadcast("feed", "e", "1");
    before.hub.broadcast("feed", "e", "2");
    StreamPosition seen = before.join("feed", std::nullopt).position;
    QCOMPARE(seen.offset, std::uint64_t(2));
    before.hub.detach(before.lastSession);
    // Published while the client is away, before the shutdown.
    before.hub.broadcast("feed", "e", "3");
    before.hub.broadcast("feed", "e", "4");
    const std::string text = save(before.broker);

    Process after(rules({{"", 100, 300s}}), 20s);
    std::error_code error;
    load(after.broker, text, error);
    QVERIFY(!error);
    // Published after the restart, before the client is back.
    after.hub.broadcast("feed", "e", "5");
    after.hub.broadcast("feed", "e", "6");
    if (!sameEpoch)
        seen.epoch = "0123456789ab";
    const JoinResult result = after.join("feed", seen);
    QVERIFY(!result.error);
    QVERIFY(result.recoveryRequested);
    QCOMPARE(result.recovered, recovered);
    QCOMPARE(dataOf(result.missed), missed);
    QCOMPARE(result.position.offset, std::uint64_t(6));
    QCOMPARE(result.position.epoch, topOf(before.broker, "feed").epoch);
}

QTEST_APPLESS_MAIN(TestHistorySnapshot)
#include "tst_historysnapshot.moc"
