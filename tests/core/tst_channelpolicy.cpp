// Per-channel slow-consumer policies: the Outbox's drop-oldest and latest-only, and the Hub's
// resolution of a channel's policy (longest prefix) and its counters, with sessions never drained.
#include "switchboard/ChannelPolicy.h"
#include "switchboard/Hub.h"
#include "switchboard/MessageEncoding.h"
#include "switchboard/Outbox.h"

#include "HubTestSupport.h"

#include <QtTest>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

using namespace switchboard;

namespace {

SharedFrame frameOf(ChannelPolicy policy, std::string key, std::string bytes)
{
    Publication publication;
    publication.channel = "c";
    publication.data = std::move(bytes);
    return encodeMessageFrame(publication, policy, std::move(key));
}

std::string dataOf(const SharedFrame &frame)
{
    return std::string(decodeMessageFrame(frame->bytes)->data);
}

std::vector<std::string> drain(Outbox &outbox)
{
    std::vector<SharedFrame> frames;
    outbox.takeAll(frames);
    std::vector<std::string> data;
    for (const auto &frame : frames)
        data.push_back(dataOf(frame));
    return data;
}

/// A session whose outbox nobody drains (a stalled reader) unless the test does.
class StalledSession final : public Session {
public:
    explicit StalledSession(std::size_t maxFrames) : outbox(OutboxLimits{maxFrames, 1u << 20}) {}
    SendOutcome send(const SharedFrame &frame) override { return outbox.push(frame); }
    void close(DisconnectCode code, std::string_view) override { closes.push_back(code); }
    Outbox outbox;
    std::vector<DisconnectCode> closes;
};

void join(Hub &hub, const std::string &session, std::string_view channel)
{
    if (joinNow(hub, session, channel).error)
        throw std::logic_error("join failed");
}

} // namespace

class TestChannelPolicy : public QObject
{
    Q_OBJECT

private slots:
    void parseRules_data();
    void parseRules();
    void refusesUnknownPolicies_data();
    void refusesUnknownPolicies();
    void latestOnlyReplacesInPlace();
    void latestOnlyIndexEndsWithTakeAll();
    void latestOnlyWithoutRoomDrops();
    void dropOldestEvicts();
    void dropOldestByBytes();
    void dropOldestStaysBounded();
    void evictedLatestFrameLeavesTheIndex();
    void firstFrameKeptInsideStaysFirst();
    void hubResolvesLongestPrefix();
    void hubConflatesPerKeyField();
    void hubDisconnectRule();
    void globalPolicyIsTheDefault();
};

void TestChannelPolicy::parseRules_data()
{
    QTest::addColumn<QString>("text");
    QTest::addColumn<QString>("prefix");
    QTest::addColumn<int>("policy");
    QTest::addColumn<QString>("keyField");
    QTest::newRow("drop-newest") << "chat/=drop-newest" << "chat/" << int(ChannelPolicy::DropNewest) << "";
    QTest::newRow("drop-oldest") << "log/=drop-oldest" << "log/" << int(ChannelPolicy::DropOldest) << "";
    QTest::newRow("latest-only") << "tick/=latest-only" << "tick/" << int(ChannelPolicy::LatestOnly) << "";
    QTest::newRow("latest-only by field") << "sensors/=latest-only:id" << "sensors/" << int(ChannelPolicy::LatestOnly) << "id";
    QTest::newRow("disconnect, every channel") << "=disconnect" << "" << int(ChannelPolicy::Disconnect) << "";
}

void TestChannelPolicy::parseRules()
{
    QFETCH(QString, text);
    QFETCH(QString, prefix);
    QFETCH(int, policy);
    QFETCH(QString, keyField);
    const ChannelPolicyRule rule = parseChannelPolicyRule(text.toStdString());
    QCOMPARE(QString::fromStdString(rule.prefix), prefix);
    QCOMPARE(int(rule.policy), policy);
    QCOMPARE(QString::fromStdString(rule.keyField), keyField);
}

void TestChannelPolicy::refusesUnknownPolicies_data()
{
    QTest::addColumn<QString>("text");
    QTest::newRow("no =") << "chat/";
    QTest::newRow("unknown") << "chat/=drop";
    QTest::newRow("latest-only: without field") << "chat/=latest-only:";
    QTest::newRow("empty policy") << "chat/=";
}

void TestChannelPolicy::refusesUnknownPolicies()
{
    QFETCH(QString, text);
    QVERIFY_THROWS_EXCEPTION(std::invalid_argument, parseChannelPolicyRule(text.toStdString()));
}

void TestChannelPolicy::latestOnlyReplacesInPlace()
{
    Outbox outbox(OutboxLimits{10, 1000});
    QCOMPARE(outbox.push(frameOf(ChannelPolicy::LatestOnly, "a", "1")).conflated, 0u);
    QCOMPARE(outbox.push(frameOf(ChannelPolicy::DropNewest, "", "10")).conflated, 0u);
    QCOMPARE(outbox.push(frameOf(ChannelPolicy::LatestOnly, "b", "100")).conflated, 0u);
    const SendOutcome replaced = outbox.push(frameOf(ChannelPolicy::LatestOnly, "a", "2222"));
    QCOMPARE(replaced.conflated, 1u);
    QCOMPARE(replaced.result, SendResult::Ok);
    QCOMPARE(outbox.push(frameOf(ChannelPolicy::LatestOnly, "a", "3")).conflated, 1u);
    QCOMPARE(outbox.frameCount(), std::size_t(3));
    const std::size_t bytes = outbox.byteCount();
    // The newest of key a, at the place of the first; a conflation is no drop.
    QCOMPARE(outbox.droppedCount(), std::size_t(0));
    QCOMPARE(drain(outbox), (std::vector<std::string>{"3", "10", "100"}));
    QVERIFY(bytes > 0);
    QCOMPARE(outbox.byteCount(), std::size_t(0));
}

void TestChannelPolicy::latestOnlyIndexEndsWithTakeAll()
{
    Outbox outbox(OutboxLimits{10, 1000});
    outbox.push(frameOf(ChannelPolicy::LatestOnly, "a", "1"));
    QCOMPARE(drain(outbox), (std::vector<std::string>{"1"}));
    // Taken frames are the socket's: the next frame of the key is queued, not conflated.
    QCOMPARE(outbox.push(frameOf(ChannelPolicy::LatestOnly, "a", "2")).conflated, 0u);
    QCOMPARE(outbox.push(frameOf(ChannelPolicy::LatestOnly, "a", "3")).conflated, 1u);
    QCOMPARE(drain(outbox), (std::vector<std::string>{"3"}));
}

void TestChannelPolicy::latestOnlyWithoutRoomDrops()
{
    Outbox outbox(OutboxLimits{2, 1000});
    outbox.push(frameOf(ChannelPolicy::LatestOnly, "a", "1"));
    outbox.push(frameOf(ChannelPolicy::LatestOnly, "b", "1"));
    QCOMPARE(outbox.push(frameOf(ChannelPolicy::LatestOnly, "c", "1")).result, SendResult::Dropped);
    QCOMPARE(outbox.push(frameOf(ChannelPolicy::LatestOnly, "b", "2")).conflated, 1u); // full, but b is pending
    QCOMPARE(outbox.droppedCount(), std::size_t(1));
    QCOMPARE(drain(outbox), (std::vector<std::string>{"1", "2"}));

    // A newer frame that does not fit where the older one was is dropped.
    Outbox small(OutboxLimits{10, 80});
    const auto first = frameOf(ChannelPolicy::LatestOnly, "a", "1");
    small.push(first);
    QCOMPARE(small.push(frameOf(ChannelPolicy::LatestOnly, "a", std::string(80, '7'))).result, SendResult::Dropped);
    QCOMPARE(drain(small), (std::vector<std::string>{"1"}));
}

void TestChannelPolicy::dropOldestEvicts()
{
    Outbox outbox(OutboxLimits{3, 1000});
    for (int i = 0; i < 3; ++i)
        QCOMPARE(outbox.push(frameOf(ChannelPolicy::DropOldest, "", std::to_string(i))).evicted, 0u);
    for (int i = 3; i < 6; ++i) {
        const SendOutcome outcome = outbox.push(frameOf(ChannelPolicy::DropOldest, "", std::to_string(i)));
        QCOMPARE(outcome.evicted, 1u);
        QCOMPARE(outcome.result, SendResult::Backpressure);
    }
    QCOMPARE(outbox.frameCount(), std::size_t(3));
    QCOMPARE(outbox.droppedCount(), std::size_t(3));
    QCOMPARE(drain(outbox), (std::vector<std::string>{"3", "4", "5"}));
    // A drop-newest frame into a full outbox is still refused.
    for (int i = 0; i < 3; ++i)
        outbox.push(frameOf(ChannelPolicy::DropOldest, "", "x"));
    QCOMPARE(outbox.push(frameOf(ChannelPolicy::DropNewest, "", "y")).result, SendResult::Dropped);
}

void TestChannelPolicy::dropOldestByBytes()
{
    const auto small = frameOf(ChannelPolicy::DropOldest, "", "1");
    // Between two and three small frames: takes the room of all three.
    const auto large = frameOf(ChannelPolicy::DropOldest, "", std::string(small->bytes.size() + 10, '2'));
    Outbox outbox(OutboxLimits{100, small->bytes.size() * 3});
    for (int i = 0; i < 3; ++i)
        outbox.push(small);
    QVERIFY(large->bytes.size() <= small->bytes.size() * 3);
    QVERIFY(large->bytes.size() > small->bytes.size() * 2);
    const SendOutcome outcome = outbox.push(large);
    QCOMPARE(outcome.evicted, 3u); // as many of the oldest as it takes
    QCOMPARE(outbox.frameCount(), std::size_t(1));
    QCOMPARE(outbox.byteCount(), large->bytes.size());
    // Larger than the limit itself: refused, nothing evicted.
    Outbox tiny(OutboxLimits{100, small->bytes.size() * 2});
    tiny.push(small);
    QCOMPARE(tiny.push(large).result, SendResult::Dropped);
    QCOMPARE(tiny.frameCount(), std::size_t(1));
}

void TestChannelPolicy::dropOldestStaysBounded()
{
    Outbox outbox(OutboxLimits{4, 1u << 20});
    const int pushes = 100'000;
    for (int i = 0; i < pushes; ++i)
        outbox.push(frameOf(ChannelPolicy::DropOldest, "", std::to_string(i)));
    QCOMPARE(outbox.frameCount(), std::size_t(4));
    QCOMPARE(outbox.droppedCount(), std::size_t(pushes - 4));
    QCOMPARE(drain(outbox), (std::vector<std::string>{"99996", "99997", "99998", "99999"}));
}

void TestChannelPolicy::evictedLatestFrameLeavesTheIndex()
{
    Outbox outbox(OutboxLimits{2, 1000});
    outbox.push(frameOf(ChannelPolicy::LatestOnly, "a", "1"));
    outbox.push(frameOf(ChannelPolicy::DropOldest, "", "2"));
    QCOMPARE(outbox.push(frameOf(ChannelPolicy::DropOldest, "", "3")).evicted, 1u); // evicts a:1
    // a is no longer pending: its next frame needs room, as any new frame.
    QCOMPARE(outbox.push(frameOf(ChannelPolicy::LatestOnly, "a", "4")).result, SendResult::Dropped);
    for (int i = 0; i < 10; ++i) // compactions move slots; the index follows
        outbox.push(frameOf(ChannelPolicy::DropOldest, "", "d" + std::to_string(i)));
    QCOMPARE(drain(outbox), (std::vector<std::string>{"d8", "d9"}));
    Outbox mixed(OutboxLimits{3, 1000});
    mixed.push(frameOf(ChannelPolicy::DropOldest, "", "x"));
    mixed.push(frameOf(ChannelPolicy::DropOldest, "", "y"));
    mixed.push(frameOf(ChannelPolicy::LatestOnly, "k", "1"));
    mixed.push(frameOf(ChannelPolicy::DropOldest, "", "z")); // evicts x, compacts: k moves
    QCOMPARE(mixed.push(frameOf(ChannelPolicy::LatestOnly, "k", "2")).conflated, 1u);
    QCOMPARE(drain(mixed), (std::vector<std::string>{"y", "2", "z"}));
}

// An outbox keeps a lone pending frame inside itself (no block of its own); the frames queued
// after it, whatever their policy, queue behind it and policies see it as the oldest.
void TestChannelPolicy::firstFrameKeptInsideStaysFirst()
{
    auto bytesOf = [](std::initializer_list<SharedFrame> frames) {
        std::size_t n = 0;
        for (const auto &f : frames)
            n += f->bytes.size();
        return n;
    };
    {
        Outbox outbox(OutboxLimits{10, 1000});
        const auto one = frameOf(ChannelPolicy::DropNewest, "", "1");
        const auto two = frameOf(ChannelPolicy::DropNewest, "", "22");
        const auto three = frameOf(ChannelPolicy::LatestOnly, "k", "333");
        outbox.push(one);
        outbox.push(two);
        outbox.push(three);
        QCOMPARE(outbox.frameCount(), std::size_t(3));
        QCOMPARE(outbox.byteCount(), bytesOf({one, two, three}));
        QCOMPARE(drain(outbox), (std::vector<std::string>{"1", "22", "333"}));
    }
    {
        // DropOldest evicts the lone frame first.
        Outbox outbox(OutboxLimits{2, 1000});
        outbox.push(frameOf(ChannelPolicy::DropOldest, "", "a"));
        outbox.push(frameOf(ChannelPolicy::DropOldest, "", "b"));
        QCOMPARE(outbox.push(frameOf(ChannelPolicy::DropOldest, "", "c")).evicted, 1u);
        QCOMPARE(outbox.droppedCount(), std::size_t(1));
        QCOMPARE(drain(outbox), (std::vector<std::string>{"b", "c"}));
    }
    // A lone frame replaced by a newer one: evicted (room for one frame) or conflated (its key).
    auto replacedByNewer = [&](std::size_t maxFrames, ChannelPolicy policy, std::string key, unsigned evicted,
                               unsigned conflated) {
        Outbox outbox(OutboxLimits{maxFrames, 1000});
        outbox.push(frameOf(policy, key, "x"));
        const auto newer = frameOf(policy, key, "yy");
        const SendOutcome outcome = outbox.push(newer);
        QCOMPARE(outcome.evicted, evicted);
        QCOMPARE(outcome.conflated, conflated);
        QCOMPARE(outbox.frameCount(), std::size_t(1));
        QCOMPARE(outbox.byteCount(), bytesOf({newer}));
        QCOMPARE(drain(outbox), (std::vector<std::string>{"yy"}));
    };
    replacedByNewer(1, ChannelPolicy::DropOldest, "", 1, 0);
    if (QTest::currentTestFailed())
        return;
    replacedByNewer(10, ChannelPolicy::LatestOnly, "k", 0, 1);
    if (QTest::currentTestFailed())
        return;
    {
        // Refused for size: the lone frame stays, the refusal is counted.
        const auto first = frameOf(ChannelPolicy::DropNewest, "", "abcd");
        const auto second = frameOf(ChannelPolicy::DropNewest, "", "ef");
        Outbox outbox(OutboxLimits{10, bytesOf({first, second}) - 1});
        outbox.push(first);
        QCOMPARE(outbox.push(second).result, SendResult::Dropped);
        QCOMPARE(drain(outbox), (std::vector<std::string>{"abcd"}));
        QCOMPARE(outbox.droppedCount(), std::size_t(1));
    }
}

void TestChannelPolicy::hubResolvesLongestPrefix()
{
    ManualTimer timer;
    HubOptions options;
    options.channelPolicies = {parseChannelPolicyRule("=drop-oldest"), parseChannelPolicyRule("tick/=latest-only"),
                               parseChannelPolicyRule("tick/raw/=drop-newest")};
    Hub hub(timer, options);
    auto slow = std::make_shared<StalledSession>(4);
    const auto id = hub.attach(slow);
    join(hub, id, "tick/eur");
    join(hub, id, "tick/usd");
    for (int i = 0; i < 50; ++i) {
        hub.broadcast("tick/eur", "p", std::to_string(i));
        hub.broadcast("tick/usd", "p", std::to_string(1000 + i));
    }
    // One pending frame per channel, the newest; 49 + 49 conflated, nothing dropped.
    QCOMPARE(slow->outbox.frameCount(), std::size_t(2));
    QCOMPARE(hub.sessionStats(id)->conflated, std::uint64_t(98));
    QCOMPARE(hub.sessionStats(id)->dropped, std::uint64_t(0));
    QCOMPARE(hub.counters().conflated, std::uint64_t(98));
    QCOMPARE(hub.counters().drops, std::uint64_t(0));
    QCOMPARE(drain(slow->outbox), (std::vector<std::string>{"49", "1049"}));

    join(hub, id, "tick/raw/eur"); // the longer prefix: drop-newest
    for (int i = 0; i < 6; ++i)
        hub.broadcast("tick/raw/eur", "p", std::to_string(i));
    QCOMPARE(drain(slow->outbox), (std::vector<std::string>{"0", "1", "2", "3"}));
    QCOMPARE(hub.counters().drops, std::uint64_t(2));

    join(hub, id, "log"); // the "" rule: drop-oldest
    for (int i = 0; i < 6; ++i)
        hub.broadcast("log", "p", std::to_string(i));
    QCOMPARE(drain(slow->outbox), (std::vector<std::string>{"2", "3", "4", "5"}));
    QCOMPARE(hub.sessionStats(id)->dropped, std::uint64_t(4));
    QCOMPARE(hub.counters().drops, std::uint64_t(4));
    QVERIFY(slow->closes.empty());
}

void TestChannelPolicy::hubConflatesPerKeyField()
{
    ManualTimer timer;
    HubOptions options;
    options.channelPolicies = {parseChannelPolicyRule("sensors/=latest-only:id")};
    Hub hub(timer, options);
    auto slow = std::make_shared<StalledSession>(100);
    auto other = std::make_shared<StalledSession>(100);
    const auto id = hub.attach(slow);
    const auto otherId = hub.attach(other);
    join(hub, id, "sensors/hall");
    join(hub, otherId, "sensors/hall");
    hub.broadcast("sensors/hall", "t", R"({"id":"a","v":1})");
    hub.broadcast("sensors/hall", "t", R"({"id":"b","v":1})");
    hub.broadcast("sensors/hall", "t", R"({"id":7,"v":1})");
    hub.broadcast("sensors/hall", "t", R"({"v":"no id"})");
    hub.broadcast("sensors/hall", "t", R"({"id":"a","v":2})");
    hub.broadcast("sensors/hall", "t", R"({"id":7,"v":2})");
    hub.broadcast("sensors/hall", "t", R"({"v":"no id either"})");
    hub.broadcast("sensors/hall", "t", R"({"id":"b","v":2})");
    const std::vector<std::string> newest{R"({"id":"a","v":2})", R"({"id":"b","v":2})", R"({"id":7,"v":2})",
                                          R"({"v":"no id either"})"};
    // Every subscriber's outbox holds the same shared frames: one per key, the newest.
    std::vector<SharedFrame> a;
    std::vector<SharedFrame> b;
    slow->outbox.takeAll(a);
    other->outbox.takeAll(b);
    QCOMPARE(a.size(), std::size_t(4));
    for (std::size_t i = 0; i < a.size(); ++i) {
        QCOMPARE(dataOf(a[i]), newest[i]);
        QCOMPARE(a[i].get(), b[i].get());
    }
    QCOMPARE(hub.sessionStats(id)->conflated, std::uint64_t(4));
    QCOMPARE(hub.counters().conflated, std::uint64_t(8));
}

void TestChannelPolicy::hubDisconnectRule()
{
    ManualTimer timer;
    HubOptions options; // slowConsumer: DropMessage
    options.channelPolicies = {parseChannelPolicyRule("orders/=disconnect")};
    Hub hub(timer, options);
    auto slow = std::make_shared<StalledSession>(2);
    const auto id = hub.attach(slow);
    join(hub, id, "chat");
    join(hub, id, "orders/eu");
    for (int i = 0; i < 3; ++i)
        hub.broadcast("chat", "m", std::to_string(i));
    QVERIFY(slow->closes.empty()); // chat: the default, drop-newest
    QCOMPARE(hub.counters().drops, std::uint64_t(1));
    drain(slow->outbox);
    for (int i = 0; i < 3; ++i)
        hub.broadcast("orders/eu", "m", std::to_string(i));
    QCOMPARE(slow->closes, (std::vector<DisconnectCode>{DisconnectCode::SlowConsumer}));
    QCOMPARE(hub.counters().slowDisconnects, std::uint64_t(1));
}

void TestChannelPolicy::globalPolicyIsTheDefault()
{
    ManualTimer timer;
    HubOptions options;
    options.slowConsumer = SlowConsumerPolicy::DisconnectClient;
    options.channelPolicies = {parseChannelPolicyRule("tick/=latest-only")};
    Hub hub(timer, options);
    auto slow = std::make_shared<StalledSession>(1);
    const auto id = hub.attach(slow);
    join(hub, id, "tick/a");
    join(hub, id, "chat");
    for (int i = 0; i < 5; ++i)
        hub.broadcast("tick/a", "p", std::to_string(i));
    QVERIFY(slow->closes.empty());
    hub.broadcast("chat", "m", "1"); // no rule: the Hub's DisconnectClient
    QCOMPARE(slow->closes, (std::vector<DisconnectCode>{DisconnectCode::SlowConsumer}));
}

QTEST_APPLESS_MAIN(TestChannelPolicy)
#include "tst_channelpolicy.moc"
