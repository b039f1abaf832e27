// EventLoopWatchdog, the pinger behind systemd's WATCHDOG=1: every period it says "alive" only
// when each event loop answered the probe of the previous round. Here the loops are plain
// io_contexts, one thread each; blocking one of them on a latch must stop the pings (and count
// missed rounds), releasing it must bring them back.
#include "EventLoopWatchdog.h"

#include <QTest>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <atomic>
#include <condition_variable>
#include <latch>
#include <mutex>
#include <thread>
#include <utility>

using switchboard::asio::EventLoopWatchdog;
using namespace std::chrono_literals;

namespace {

/// An io_context run by its own thread until destroyed.
struct Loop {
    boost::asio::io_context ioc{1};
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work{ioc.get_executor()};
    std::thread thread{[this] { ioc.run(); }};
    ~Loop()
    {
        work.reset();
        ioc.stop();
        thread.join();
    }
    EventLoopWatchdog::Probe probe()
    {
        return [this](EventLoopWatchdog::Answer answer) { boost::asio::post(ioc, std::move(answer)); };
    }
};

/// Blocks the thread of the loop it is posted to until released; releases on destruction, so a
/// failed check never leaves a thread blocked (declare it after the loops it blocks).
struct Blocker {
    std::latch entered{1};
    std::latch release{1};
    bool released = false;
    void block(boost::asio::io_context &ioc)
    {
        boost::asio::post(ioc, [this] {
            entered.count_down();
            release.wait();
        });
        entered.wait();
    }
    void unblock()
    {
        if (!std::exchange(released, true))
            release.count_down();
    }
    ~Blocker() { unblock(); }
};

/// What the watchdog reported, awaited under a deadline.
struct Reports {
    std::mutex mutex;
    std::condition_variable changed;
    int alive = 0;
    int missed = 0;
    std::size_t lastHung = 0;

    void onAlive()
    {
        std::lock_guard lock(mutex);
        ++alive;
        changed.notify_all();
    }
    void onMissed(std::size_t hung)
    {
        std::lock_guard lock(mutex);
        ++missed;
        lastHung = hung;
        changed.notify_all();
    }
    /// Waits (at most 5 s) until `condition` holds under the lock.
    template <class F> bool waitUntil(F condition)
    {
        std::unique_lock lock(mutex);
        return changed.wait_for(lock, 5s, [&] { return condition(); });
    }
};

} // namespace

class tst_EventLoopWatchdog : public QObject {
    Q_OBJECT

private slots:
    void pingsWhileEveryLoopAnswers()
    {
        Loop a, b, c;
        Reports reports;
        EventLoopWatchdog watchdog({a.probe(), b.probe(), c.probe()}, 10ms, [&] { reports.onAlive(); },
                                   [&](std::size_t hung) { reports.onMissed(hung); });
        QVERIFY(reports.waitUntil([&] { return reports.alive >= 5; }));
        std::lock_guard lock(reports.mutex);
        QCOMPARE(reports.missed, 0);
    }

    void aHungLoopStopsThePingsUntilItIsReleased()
    {
        Loop a, b, c;
        Reports reports;
        EventLoopWatchdog watchdog({a.probe(), b.probe(), c.probe()}, 10ms, [&] { reports.onAlive(); },
                                   [&](std::size_t hung) { reports.onMissed(hung); });
        QVERIFY(reports.waitUntil([&] { return reports.alive >= 2; }));

        // b's thread blocks in a handler: b's probes stop coming back.
        Blocker blocker;
        blocker.block(b.ioc);
        int aliveWhenHung = 0;
        {
            std::lock_guard lock(reports.mutex);
            aliveWhenHung = reports.alive;
        }
        // At most one ping may still come: its probes were answered before the block.
        QVERIFY(reports.waitUntil([&] { return reports.missed >= 5; }));
        {
            std::lock_guard lock(reports.mutex);
            QVERIFY2(reports.alive <= aliveWhenHung + 1, qPrintable(QString("%1 pings after the block, %2 before")
                                                                        .arg(reports.alive).arg(aliveWhenHung)));
            QCOMPARE(reports.lastHung, std::size_t(1));
        }
        QCOMPARE(watchdog.missedRounds(), std::uint64_t(reports.missed));

        // Released: the outstanding probe comes back and the pings resume.
        int aliveWhenReleased = 0;
        {
            std::lock_guard lock(reports.mutex);
            aliveWhenReleased = reports.alive;
        }
        blocker.unblock();
        QVERIFY(reports.waitUntil([&] { return reports.alive >= aliveWhenReleased + 3; }));
    }

    /// A probe still queued in a hung loop when the watchdog is destroyed is answered safely later.
    void destroyedWhileAProbeIsOutstanding()
    {
        Loop a;
        Blocker blocker;
        blocker.block(a.ioc);
        std::atomic<int> missed{0};
        {
            EventLoopWatchdog watchdog({a.probe()}, 5ms, [] {}, [&](std::size_t) { ++missed; });
            QTRY_VERIFY_WITH_TIMEOUT(missed.load() >= 2, 5000);
        }
        blocker.unblock();
        // The loop runs the stale probe after the watchdog is gone; then it still serves.
        std::atomic<bool> served{false};
        boost::asio::post(a.ioc, [&] { served = true; });
        QTRY_VERIFY_WITH_TIMEOUT(served.load(), 5000);
    }
};

QTEST_MAIN(tst_EventLoopWatchdog)
#include "tst_eventloopwatchdog.moc"
