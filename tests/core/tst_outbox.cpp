// Outbox limits and the Hub's slow-consumer policies with a session that is never drained.
#include "switchboard/Hub.h"
#include "switchboard/Outbox.h"

#include "HubTestSupport.h"
#include "../support/LiveHeapBytes.h"

#include <QtTest>

#include <memory>
#include <string>
#include <vector>

using namespace switchboard;

Q_DECLARE_METATYPE(switchboard::SendResult)

namespace {

/// A session whose Outbox nobody drains (a stalled consumer) unless the test calls drain().
/// `onClose` lets a test look at the world at the moment the Hub closes it.
class StalledSession final : public Session {
public:
    explicit StalledSession(OutboxLimits limits) : outbox(limits) {}
    SendOutcome send(const SharedFrame &frame) override
    {
        ++sends;
        return outbox.push(frame);
    }
    void close(DisconnectCode code, std::string_view) override
    {
        closes.push_back(code);
        if (onClose)
            onClose();
    }
    std::vector<SharedFrame> drain()
    {
        std::vector<SharedFrame> out;
        outbox.takeAll(out);
        return out;
    }

    Outbox outbox;
    int sends = 0;
    std::vector<DisconnectCode> closes;
    std::function<void()> onClose;
};

OutboxLimits frames(std::size_t maxFrames)
{
    OutboxLimits limits;
    limits.maxFrames = maxFrames;
    return limits;
}

/// Joins through joinNow(); a refused join is a broken test setup.
void join(Hub &hub, const std::string &session, std::string_view channel)
{
    if (joinNow(hub, session, channel).error)
        throw std::logic_error("join failed");
}

/// A Hub on its own ManualTimer whose slow consumers get `policy`.
struct PolicyHub {
    explicit PolicyHub(SlowConsumerPolicy policy) : hub(timer, optionsFor(policy)) {}
    static HubOptions optionsFor(SlowConsumerPolicy policy)
    {
        HubOptions options;
        options.slowConsumer = policy;
        return options;
    }
    ManualTimer timer;
    Hub hub;
};

} // namespace

class TestOutbox : public QObject
{
    Q_OBJECT

private slots:
    void limits_data();
    void limits();
    void limitsPast32BitsAreClamped();
    void outboxIsSmall();
    void externalBytesCount();
    void takeAllEmpties();
    void drainedAfterABurstKeepsNoBurstSizedBuffer();
    void quietOutboxGivesBackItsStorage();
    void firstRoundKeepsNoStorage();
    void onePendingFrameNeedsNoBlock();
    void dropMessagePolicy();
    void disconnectClientPolicy();
    void disconnectAppliedAfterFanOut();
    void closingSessionIsNotADrop_data();
    void closingSessionIsNotADrop();
    void sendToAppliesPolicy_data();
    void sendToAppliesPolicy();
};

void TestOutbox::limits_data()
{
    QTest::addColumn<std::size_t>("maxFrames");
    QTest::addColumn<std::size_t>("maxBytes");
    QTest::addColumn<std::size_t>("frameSize");
    QTest::addColumn<int>("pushes");
    QTest::addColumn<int>("accepted");
    QTest::addColumn<SendResult>("lastAccepted");

    QTest::newRow("under both limits") << std::size_t(10) << std::size_t(1000) << std::size_t(10) << 4 << 4 << SendResult::Ok;
    QTest::newRow("frame limit") << std::size_t(4) << std::size_t(1000) << std::size_t(10) << 6 << 4 << SendResult::Backpressure;
    QTest::newRow("byte limit") << std::size_t(100) << std::size_t(35) << std::size_t(10) << 6 << 3 << SendResult::Backpressure;
    QTest::newRow("half of frames is backpressure") << std::size_t(4) << std::size_t(1000) << std::size_t(1) << 3 << 3
                                                    << SendResult::Backpressure;
    QTest::newRow("frame larger than limit") << std::size_t(10) << std::size_t(5) << std::size_t(6) << 2 << 0 << SendResult::Ok;
}

void TestOutbox::limits()
{
    QFETCH(std::size_t, maxFrames);
    QFETCH(std::size_t, maxBytes);
    QFETCH(std::size_t, frameSize);
    QFETCH(int, pushes);
    QFETCH(int, accepted);
    QFETCH(SendResult, lastAccepted);

    Outbox outbox(OutboxLimits{maxFrames, maxBytes});
    const auto frame = makeTextFrame(std::string(frameSize, 'x'));
    int ok = 0;
    SendResult last = SendResult::Ok;
    for (int i = 0; i < pushes; ++i) {
        const SendResult result = outbox.push(frame);
        if (result != SendResult::Dropped) {
            ++ok;
            last = result;
        }
    }
    QCOMPARE(ok, accepted);
    QCOMPARE(outbox.frameCount(), std::size_t(accepted));
    QCOMPARE(outbox.byteCount(), std::size_t(accepted) * frameSize);
    QCOMPARE(outbox.droppedCount(), std::size_t(pushes - accepted));
    if (accepted > 0)
        QCOMPARE(last, lastAccepted);
}

void TestOutbox::limitsPast32BitsAreClamped()
{
    // Limits are kept in 32 bits (every session embeds an outbox); larger ones mean "at most
    // 2^32 - 1", never a wrapped small limit.
    const std::size_t huge = std::size_t(1) << 40;
    Outbox outbox(OutboxLimits{huge, huge});
    QCOMPARE(outbox.limits().maxFrames, std::size_t(UINT32_MAX));
    QCOMPARE(outbox.limits().maxBytes, std::size_t(UINT32_MAX));
    const auto frame = makeTextFrame(std::string(1000, 'x'));
    QCOMPARE(outbox.push(frame), SendResult::Ok);
    QCOMPARE(outbox.push(frame), SendResult::Ok);
    QCOMPARE(outbox.byteCount(), std::size_t(2000));
}

void TestOutbox::outboxIsSmall()
{
    // Every connection of both gateways embeds one (docs/benchmarks.md, "Where an idle
    // connection's memory goes"): its vector, its lone frame, the conflation index pointer, the
    // drop count, and four 32-bit fields (limits, head, bytes).
    QCOMPARE_LE(sizeof(Outbox), std::size_t(72));
}

void TestOutbox::externalBytesCount()
{
    Outbox outbox(OutboxLimits{100, 100});
    const auto frame = makeTextFrame(std::string(10, 'x'));
    QCOMPARE(outbox.push(frame, 85).result, SendResult::Backpressure);
    QCOMPARE(outbox.push(frame, 85).result, SendResult::Dropped); // 10 queued + 85 on the socket + 10 > 100
    QCOMPARE(outbox.push(frame, 0).result, SendResult::Ok);
}

void TestOutbox::takeAllEmpties()
{
    Outbox outbox(OutboxLimits{3, 1000});
    const auto a = makeTextFrame("a");
    const auto b = makeTextFrame("b");
    outbox.push(a);
    outbox.push(b);
    std::vector<SharedFrame> out{makeTextFrame("before")};
    outbox.takeAll(out);
    QCOMPARE(out.size(), std::size_t(3));
    QCOMPARE(out[1].get(), a.get()); // references, in order
    QCOMPARE(out[2].get(), b.get());
    QVERIFY(outbox.empty());
    QCOMPARE(outbox.byteCount(), std::size_t(0));
    // Room again after draining.
    for (int i = 0; i < 3; ++i)
        QVERIFY(outbox.push(a) != SendResult::Dropped);
    QCOMPARE(outbox.push(a).result, SendResult::Dropped);
}

void TestOutbox::drainedAfterABurstKeepsNoBurstSizedBuffer()
{
    // A transport drains every session's outbox into one batch vector per thread, with room
    // for large batches. After a burst, the outbox of a session that then idles must not keep a
    // burst-sized buffer (4 096 frames queued: 64 KiB of frame references).
    const auto a = makeTextFrame("a");
    std::vector<SharedFrame> batch;
    batch.reserve(8192);
    const long long before = testing::liveHeapBytes();
    {
        Outbox outbox(OutboxLimits{4096, 100000000});
        for (int i = 0; i < 4096; ++i)
            QVERIFY(outbox.push(a) != SendResult::Dropped);
        outbox.takeAll(batch);
        QCOMPARE(batch.size(), std::size_t(4096));
        batch.clear();
        // What the outbox holds now, besides the batch vector's storage (wherever it went):
        // at most the retained capacity, not the burst's.
        const long long held = testing::liveHeapBytes() - before;
        QVERIFY2(held <= static_cast<long long>(Outbox::kRetainedCapacity * sizeof(SharedFrame) + 256),
                 qPrintable(QString("%1 bytes held after the drain").arg(held)));
        // Queued again, drained again: frames in order, nothing lost.
        outbox.push(a);
        outbox.takeAll(batch);
        QCOMPARE(batch.size(), std::size_t(1));
        QCOMPARE(batch.front().get(), a.get());
    }
}

// A transport drains a session's outbox into its thread's batch vector by swapping storage, so
// that rounds of many frames allocate nothing: the outbox keeps the batch's former storage, up
// to kRetainedCapacity frames. A session that goes quiet after a burst gives it back.
void TestOutbox::quietOutboxGivesBackItsStorage()
{
    const auto a = makeTextFrame("a");
    Outbox outbox;
    std::vector<SharedFrame> batch;
    batch.reserve(64);
    for (int i = 0; i < 48; ++i)
        QVERIFY(outbox.push(a) != SendResult::Dropped);
    outbox.takeAll(batch); // swapped: the outbox now holds the batch's storage for 64 frames
    QCOMPARE(batch.size(), std::size_t(48));
    batch.clear();

    // Something pending: nothing is given back, nothing is lost.
    outbox.push(a);
    outbox.push(a);
    const long long pending = testing::liveHeapBytes();
    QVERIFY(!outbox.releaseStorage());
    QCOMPARE(testing::liveHeapBytes(), pending);
    QCOMPARE(outbox.frameCount(), std::size_t(2));
    outbox.takeAll(batch); // swapped again: the outbox holds storage for 64 frames
    QCOMPARE(batch.size(), std::size_t(2));
    batch.clear();

    // Drained: the storage goes back to the allocator.
    const long long held = testing::liveHeapBytes();
    QVERIFY(outbox.releaseStorage());
    QVERIFY2(held - testing::liveHeapBytes() >= static_cast<long long>(48 * sizeof(SharedFrame)),
             qPrintable(QString("%1 bytes given back").arg(held - testing::liveHeapBytes())));
    QVERIFY(!outbox.releaseStorage()); // nothing more
    // Still an outbox: frames in order.
    outbox.push(a);
    outbox.takeAll(batch);
    QCOMPARE(batch.size(), std::size_t(1));
}

// A session's first round is its connect exchange (`welcome`, often `subscribed` behind it).
// Every gateway drains it like any round, but an idle connection must not keep that round's
// storage for its whole life (or until its first ping): only later rounds keep theirs.
void TestOutbox::firstRoundKeepsNoStorage()
{
    const auto welcome = makeTextFrame("welcome");
    const auto subscribed = makeTextFrame("subscribed");
    Outbox outbox;
    std::vector<SharedFrame> batch; // a gateway thread's batch, with room left by earlier rounds
    batch.reserve(64);
    outbox.push(welcome);
    outbox.push(subscribed);
    outbox.takeAll(batch);
    QCOMPARE(batch.size(), std::size_t(2));
    QCOMPARE(batch[0].get(), welcome.get());
    batch.clear();
    QVERIFY2(!outbox.releaseStorage(), "the connect exchange's storage was kept");

    // A busy session's later rounds keep their storage (no allocation per round).
    outbox.push(welcome);
    outbox.push(subscribed);
    outbox.takeAll(batch);
    QCOMPARE(batch.size(), std::size_t(2));
    batch.clear();
    QVERIFY(outbox.releaseStorage());
}

// At one message in flight a session holds one frame at a time: the outbox keeps it inside
// itself. A block of its own would be one more cache miss per delivery (written by the fan-out,
// read by the flush) and one more heap block per connection.
void TestOutbox::onePendingFrameNeedsNoBlock()
{
    const auto a = makeTextFrame("a");
    const auto b = makeTextFrame("b");
    std::vector<SharedFrame> batch;
    batch.reserve(64);
    Outbox outbox(OutboxLimits{16, 1000});
    const long long before = testing::liveHeapBytes();
    for (int i = 0; i < 3; ++i) {
        QVERIFY(outbox.push(i % 2 ? a : b) != SendResult::Dropped);
        QCOMPARE(testing::liveHeapBytes() - before, 0LL);
        QCOMPARE(outbox.frameCount(), std::size_t(1));
        QCOMPARE(outbox.byteCount(), std::size_t(1));
        outbox.takeAll(batch);
        QVERIFY(outbox.empty());
        QCOMPARE(batch.size(), std::size_t(1));
        QCOMPARE(batch.front().get(), (i % 2 ? a : b).get());
        batch.clear();
        QCOMPARE(testing::liveHeapBytes() - before, 0LL);
    }
}

void TestOutbox::dropMessagePolicy()
{
    PolicyHub fixture(SlowConsumerPolicy::DropMessage);
    Hub &hub = fixture.hub;
    auto slow = std::make_shared<StalledSession>(frames(2));
    auto fast = std::make_shared<StalledSession>(frames(1000));
    const auto slowId = hub.attach(slow);
    const auto fastId = hub.attach(fast);
    join(hub, slowId, "telemetry");
    join(hub, fastId, "telemetry");

    for (int i = 0; i < 5; ++i)
        hub.broadcast("telemetry", "sample", std::to_string(i));

    QCOMPARE(slow->outbox.frameCount(), std::size_t(2));
    QCOMPARE(fast->outbox.frameCount(), std::size_t(5)); // a stalled peer does not stall others
    QVERIFY(slow->closes.empty());                       // the connection survives
    QCOMPARE(hub.sessionStats(slowId)->dropped, std::uint64_t(3));
    QCOMPARE(hub.sessionStats(fastId)->dropped, std::uint64_t(0));
    QCOMPARE(hub.counters().drops, std::uint64_t(3));
    QCOMPARE(hub.counters().slowDisconnects, std::uint64_t(0));
    QCOMPARE(hub.counters().framesOut, std::uint64_t(7));

    // Once drained, it receives again; the oldest frames were kept.
    const auto kept = slow->drain();
    QVERIFY(kept[0]->bytes.find(R"("data":0)") != std::string::npos);
    QVERIFY(kept[1]->bytes.find(R"("data":1)") != std::string::npos);
    hub.broadcast("telemetry", "sample", "5");
    QCOMPARE(slow->outbox.frameCount(), std::size_t(1));
    QVERIFY(hub.isSubscribed(slowId, "telemetry"));
}

void TestOutbox::disconnectClientPolicy()
{
    PolicyHub fixture(SlowConsumerPolicy::DisconnectClient);
    Hub &hub = fixture.hub;
    auto slow = std::make_shared<StalledSession>(frames(2));
    auto fast = std::make_shared<StalledSession>(frames(1000));
    const auto slowId = hub.attach(slow);
    const auto fastId = hub.attach(fast);
    join(hub, slowId, "orders");
    join(hub, slowId, "audit");
    join(hub, fastId, "orders");

    for (int i = 0; i < 5; ++i)
        hub.broadcast("orders", "created", std::to_string(i));

    QCOMPARE(slow->closes.size(), std::size_t(1)); // closed on the first overflow, once
    QCOMPARE(slow->closes[0], DisconnectCode::SlowConsumer);
    QCOMPARE(slow->sends, 3);                      // nothing more is offered after the overflow
    QCOMPARE(fast->outbox.frameCount(), std::size_t(5));
    QCOMPARE(hub.counters().slowDisconnects, std::uint64_t(1));
    QCOMPARE(hub.counters().drops, std::uint64_t(0));

    hub.broadcast("audit", "entry", "1");
    QCOMPARE(slow->sends, 3);
    QCOMPARE(hub.sendTo(slowId, makeTextFrame("{}")), SendResult::Dropped);
    QCOMPARE(slow->sends, 3);

    // The transport reports the end later; detaching cleans every channel.
    hub.detach(slowId);
    QCOMPARE(hub.subscriberCount("orders"), std::size_t(1));
    QCOMPARE(hub.subscriberCount("audit"), std::size_t(0));
    QCOMPARE(hub.counters().channels, std::size_t(1));
}

void TestOutbox::disconnectAppliedAfterFanOut()
{
    PolicyHub fixture(SlowConsumerPolicy::DisconnectClient);
    Hub &hub = fixture.hub;
    // The slow session is the first subscriber, so the fan-out reaches it before the others.
    auto slow = std::make_shared<StalledSession>(frames(1));
    std::vector<std::shared_ptr<StalledSession>> others;
    const auto slowId = hub.attach(slow);
    join(hub, slowId, "feed");
    for (int i = 0; i < 3; ++i) {
        others.push_back(std::make_shared<StalledSession>(frames(100)));
        join(hub, hub.attach(others.back()), "feed");
    }
    hub.broadcast("feed", "e", "1");
    std::vector<std::size_t> seenAtClose;
    slow->onClose = [&] {
        for (const auto &other : others)
            seenAtClose.push_back(other->outbox.frameCount());
    };
    hub.broadcast("feed", "e", "2");
    QCOMPARE(slow->closes.size(), std::size_t(1));
    // Every other subscriber already had frame 2 when the close ran: it came after the loop.
    QCOMPARE(seenAtClose, (std::vector<std::size_t>{2, 2, 2}));
}

void TestOutbox::sendToAppliesPolicy_data()
{
    QTest::addColumn<bool>("disconnect");
    QTest::newRow("drop message") << false;
    QTest::newRow("disconnect client") << true;
}

void TestOutbox::sendToAppliesPolicy()
{
    QFETCH(bool, disconnect);
    PolicyHub fixture(disconnect ? SlowConsumerPolicy::DisconnectClient : SlowConsumerPolicy::DropMessage);
    Hub &hub = fixture.hub;
    auto slow = std::make_shared<StalledSession>(frames(1));
    const auto id = hub.attach(slow);
    const auto frame = makeTextFrame("{}");
    QCOMPARE(hub.sendTo(id, frame), SendResult::Backpressure); // one frame fills a one-frame outbox
    QCOMPARE(hub.sendTo(id, frame), SendResult::Dropped);
    QCOMPARE(slow->closes.size(), std::size_t(disconnect ? 1 : 0));
    QCOMPARE(hub.counters().drops, std::uint64_t(disconnect ? 0 : 1));
    QCOMPARE(hub.counters().slowDisconnects, std::uint64_t(disconnect ? 1 : 0));
    QCOMPARE(hub.sessionStats(id)->dropped, std::uint64_t(1));
}

/// A transport that has begun closing (the peer's close frame arrived, the socket is going)
/// refuses frames with Closed: nobody could read them, so it is neither a delivery nor a drop,
/// and no slow-consumer policy applies. Found by the soak: ordinary churn counted as drops.
class ClosingSession final : public Session {
public:
    SendOutcome send(const SharedFrame &) override
    {
        ++refusals;
        return SendResult::Closed;
    }
    void close(DisconnectCode code, std::string_view) override { closes.push_back(code); }
    int refusals = 0;
    std::vector<DisconnectCode> closes;
};

void TestOutbox::closingSessionIsNotADrop_data()
{
    QTest::addColumn<SlowConsumerPolicy>("policy");
    QTest::newRow("drop") << SlowConsumerPolicy::DropMessage;
    QTest::newRow("disconnect") << SlowConsumerPolicy::DisconnectClient;
}

void TestOutbox::closingSessionIsNotADrop()
{
    QFETCH(SlowConsumerPolicy, policy);
    PolicyHub fixture(policy);
    Hub &hub = fixture.hub;
    auto leaving = std::make_shared<ClosingSession>();
    auto staying = std::make_shared<StalledSession>(frames(1000));
    const auto leavingId = hub.attach(leaving);
    const auto stayingId = hub.attach(staying);
    join(hub, stayingId, "telemetry");
    join(hub, leavingId, "telemetry");
    leaving->refusals = 0; // the join's own frames

    for (int i = 0; i < 3; ++i)
        hub.broadcast("telemetry", "sample", std::to_string(i));
    QCOMPARE(hub.sendTo(leavingId, makeTextFrame("{}")), SendResult::Closed);

    QCOMPARE(leaving->refusals, 4);
    QVERIFY(leaving->closes.empty());
    QCOMPARE(hub.counters().drops, std::uint64_t(0));
    QCOMPARE(hub.counters().slowDisconnects, std::uint64_t(0));
    QCOMPARE(hub.sessionStats(leavingId)->dropped, std::uint64_t(0));
    QCOMPARE(hub.counters().framesOut, std::uint64_t(3)); // only what `staying` queued
    QCOMPARE(staying->outbox.frameCount(), std::size_t(3));
}

QTEST_APPLESS_MAIN(TestOutbox)
#include "tst_outbox.moc"
