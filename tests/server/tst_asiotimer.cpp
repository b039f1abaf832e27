// asiosupport::AsioTimer, the core Timer the gateway (io_context + core mutex) and the native
// client (strand) share: deadlines in order on the strand, cancelled and destroyed timers never
// fire, callbacks wait for the guard, the precise clock.
#include <switchboard/asio_support/AsioTimer.h>

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

using switchboard::asiosupport::AsioTimer;
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
