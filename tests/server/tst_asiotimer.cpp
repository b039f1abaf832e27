// asiosupport::AsioTimer, the core Timer the gateway (io_context + core mutex) and the native
// client (strand) share: deadlines in order on the strand, cancelled and destroyed timers never
// fire, callbacks wait for the guard, the precise clock.
#include <switchboard/asio_support/AsioTimer.h>

#include "../support/LiveHeapBytes.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <QDeadlineTimer>
#include <QTest>

#include <atomic>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

using switchboard::TimerId;
using switchboard::asiosupport::AsioTimer;
using switchboard::testing::liveHeapBytes;
using namespace std::chrono_literals;
namespace net = boost::asio;

namespace {

/// An io_context run by `threads` threads until destroyed.
class Loop {
public:
    explicit Loop(int threads = 1)
    {
        for (int i = 0; i < threads; ++i)
            m_threads.emplace_back([this] { ioc.run(); });
    }
    ~Loop()
    {
        m_work.reset();
        ioc.stop();
        for (auto &t : m_threads)
            t.join();
    }
    /// Runs `f` on `executor` and waits (at most 5 s) until it ran.
    template <typename Executor, typename F>
    bool runOn(const Executor &executor, F f)
    {
        std::atomic<bool> done{false};
        net::post(executor, [&] {
            f();
            done = true;
        });
        return QTest::qWaitFor([&] { return done.load(); }, 5000);
    }

    net::io_context ioc;

private:
    net::executor_work_guard<net::io_context::executor_type> m_work = net::make_work_guard(ioc);
    std::vector<std::thread> m_threads;
};

/// Waits `delay` on the loop (a deadline the timers under test do not share), so that a callback
/// that should not run has had its chance.
bool passes(Loop &loop, std::chrono::milliseconds delay)
{
    std::atomic<bool> passed{false};
    net::steady_timer sentinel(loop.ioc, delay);
    sentinel.async_wait([&](const boost::system::error_code &) { passed = true; });
    return QTest::qWaitFor([&] { return passed.load(); }, 5000);
}

} // namespace

class tst_AsioTimer : public QObject {
    Q_OBJECT

private slots:
    void firesInDeadlineOrderOnTheStrand()
    {
        Loop loop(2);
        auto strand = net::make_strand(loop.ioc);
        std::unique_ptr<AsioTimer> timer;
        std::mutex seenMutex;
        std::vector<int> seen;
        std::atomic<int> offStrand{0};
        QVERIFY(loop.runOn(strand, [&] {
            timer = std::make_unique<AsioTimer>(strand);
            for (int ms : {30, 10, 20})
                timer->start(std::chrono::milliseconds(ms), [&, ms] {
                    if (!strand.running_in_this_thread())
                        ++offStrand;
                    std::lock_guard lock(seenMutex);
                    seen.push_back(ms);
                });
        }));
        QTRY_VERIFY_WITH_TIMEOUT(([&] { std::lock_guard lock(seenMutex); return seen.size() == 3; })(), 5000);
        QCOMPARE(seen, (std::vector<int>{10, 20, 30}));
        QCOMPARE(offStrand.load(), 0);
        QVERIFY(loop.runOn(strand, [&] { timer.reset(); }));
    }

    void cancelledNeverFires()
    {
        Loop loop;
        auto strand = net::make_strand(loop.ioc);
        std::unique_ptr<AsioTimer> timer;
        std::atomic<int> cancelledRan{0}, keptRan{0};
        QVERIFY(loop.runOn(strand, [&] {
            timer = std::make_unique<AsioTimer>(strand);
            const auto id = timer->start(10ms, [&] { ++cancelledRan; });
            timer->start(20ms, [&] { ++keptRan; });
            timer->cancel(id);
            timer->cancel(id); // twice, or an unknown id: nothing
        }));
        QTRY_COMPARE_WITH_TIMEOUT(keptRan.load(), 1, 5000);
        QVERIFY(passes(loop, 30ms));
        QCOMPARE(cancelledRan.load(), 0);
        QVERIFY(loop.runOn(strand, [&] { timer.reset(); }));
    }

    void destroyedWithPendingNeverFires()
    {
        Loop loop;
        auto strand = net::make_strand(loop.ioc);
        std::atomic<int> ran{0};
        QVERIFY(loop.runOn(strand, [&] {
            AsioTimer timer(strand);
            timer.start(5ms, [&] { ++ran; });
            timer.start(0ms, [&] { ++ran; });
        }));
        QVERIFY(passes(loop, 40ms));
        QCOMPARE(ran.load(), 0);
    }

    void callbacksWaitForTheGuard()
    {
        Loop loop(2);
        std::mutex guard;
        AsioTimer timer(loop.ioc.get_executor(), &guard);
        std::atomic<bool> ran{false};
        {
            std::unique_lock lock(guard); // as core code holds it when it starts a timer
            timer.start(5ms, [&] { ran = true; });
            QVERIFY(passes(loop, 40ms)); // due, but the guard is held
            QVERIFY(!ran);
        }
        QTRY_VERIFY_WITH_TIMEOUT(ran.load(), 5000);
    }

    // Every connection starts a timer (the deadline of its connect frame) and cancels it a few
    // milliseconds later. What a timer holds must go when it is cancelled, not when the event
    // loop gets round to it: blocks freed late lie between the connection's long-lived ones,
    // and the gateway's heap kept about 450 bytes of such holes per idle connection. A pending
    // timer costs its slot and its deadline in two arrays, and once the last is cancelled the
    // arrays are given back.
    void cancelledTimersHoldNothing()
    {
        net::io_context ioc; // never run: nothing the loop would do counts
        AsioTimer timer(ioc.get_executor());
        constexpr int kTimers = 1000;
        std::vector<TimerId> ids;
        ids.reserve(kTimers);
        const auto startAll = [&] {
            for (int i = 0; i < kTimers; ++i)
                ids.push_back(timer.start(std::chrono::milliseconds(10'000 + i % 7), [] {}));
        };
        const auto cancelAll = [&] {
            for (TimerId id : ids)
                timer.cancel(id);
            ids.clear();
        };
        startAll(); // warm-up: what only the first start makes
        cancelAll();

        const long long before = liveHeapBytes();
        startAll();
        const long long whilePending = liveHeapBytes() - before;
        cancelAll();
        const long long afterCancel = liveHeapBytes() - before;
        qInfo("heap per pending timer: %lld B, left after cancel: %lld B", whilePending / kTimers, afterCancel);
        QVERIFY2(whilePending / kTimers <= 80, qPrintable(QString::number(whilePending / kTimers)));
        QCOMPARE(afterCancel, 0LL);
    }

    // After a burst, a few timers still pending: the slots they do not use are given back, and
    // the ids of the ones left still cancel them.
    void slotsOfABurstAreGivenBack()
    {
        net::io_context ioc;
        AsioTimer timer(ioc.get_executor());
        int longLivedRan = 0;
        const TimerId longLived = timer.start(std::chrono::hours(1), [&] { ++longLivedRan; });
        std::vector<TimerId> burst;
        burst.reserve(5000);
        const long long before = liveHeapBytes();
        for (int i = 0; i < 5000; ++i)
            burst.push_back(timer.start(std::chrono::seconds(10), [] {}));
        QVERIFY(liveHeapBytes() - before > 5000 * 40); // the arrays grew
        for (TimerId id : burst)
            timer.cancel(id);
        const long long left = liveHeapBytes() - before;
        qInfo("left after the burst: %lld B", left);
        QVERIFY2(left <= 1024, qPrintable(QString::number(left)));
        for (TimerId id : burst)
            timer.cancel(id); // stale: nothing
        timer.cancel(longLived);
        QVERIFY(liveHeapBytes() - before <= 64); // nothing pending: no more than a free slot's index
        QCOMPARE(longLivedRan, 0);
    }

    // Slots of cancelled and fired timers are reused; an old id never cancels its slot's next
    // timer, and callbacks that start and cancel timers see them fire in deadline order.
    void reusedSlotsKeepTheirOwnIds()
    {
        Loop loop;
        auto strand = net::make_strand(loop.ioc);
        std::unique_ptr<AsioTimer> timer;
        std::mutex seenMutex;
        std::vector<std::string> seen;
        const auto note = [&](std::string what) {
            std::lock_guard lock(seenMutex);
            seen.push_back(std::move(what));
        };
        QVERIFY(loop.runOn(strand, [&] {
            timer = std::make_unique<AsioTimer>(strand);
            const TimerId first = timer->start(5ms, [&] { note("first"); });
            timer->cancel(first);
            // Takes the slot `first` had: the stale id must not cancel it.
            timer->start(15ms, [&] {
                note("second");
                TimerId doomed = timer->start(1ms, [&] { note("doomed"); });
                timer->start(2ms, [&] { note("from a callback"); });
                timer->cancel(doomed);
            });
            timer->cancel(first);
            timer->start(10ms, [&] { note("earlier"); });
        }));
        QTRY_VERIFY_WITH_TIMEOUT(([&] { std::lock_guard lock(seenMutex); return seen.size() == 3; })(), 5000);
        QVERIFY(passes(loop, 30ms));
        QVERIFY(loop.runOn(strand, [&] { timer.reset(); }));
        std::lock_guard lock(seenMutex);
        QCOMPARE(seen, (std::vector<std::string>{"earlier", "second", "from a callback"}));
    }

    void preciseClockHasMicroseconds()
    {
        net::io_context ioc;
        AsioTimer timer(ioc.get_executor());
        const auto coarse = timer.now();
        const auto precise = timer.nowPrecise();
        QVERIFY(precise >= coarse);
        QVERIFY(precise - coarse < 1000us + 50ms); // the same clock, read a little later
        // Within one millisecond nowPrecise() moves: it is not whole milliseconds.
        const auto first = timer.nowPrecise();
        auto later = first;
        QDeadlineTimer deadline(1000);
        while (later == first && !deadline.hasExpired())
            later = timer.nowPrecise();
        QVERIFY(later > first);
        QVERIFY(later - first < 1ms);
    }
};

QTEST_GUILESS_MAIN(tst_AsioTimer)
#include "tst_asiotimer.moc"
