// IoThreads, the gateway's io threads, sharing one io_context or each running its own (IoShards):
// with probes enabled, each thread answers its own probe between slices, so the watchdog sees one
// thread stuck in a handler even while the other threads keep serving.
#include "IoShards.h"
#include "IoThreads.h"

#include <QTest>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <latch>
#include <mutex>
#include <set>
#include <thread>
#include <utility>

using switchboard::asio::EventLoopWatchdog;
using switchboard::asio::IoShards;
using switchboard::asio::IoThreads;
using namespace std::chrono_literals;

namespace {

/// Counts the watchdog's verdicts; waits for them under a deadline.
struct Verdicts {
    std::mutex mutex;
    std::condition_variable changed;
    int alive = 0;
    int missed = 0;
    void add(bool isAlive)
    {
        std::lock_guard lock(mutex);
        ++(isAlive ? alive : missed);
        changed.notify_all();
    }
    template <class F> bool waitUntil(F condition)
    {
        std::unique_lock lock(mutex);
        return changed.wait_for(lock, 5s, [&] { return condition(); });
    }
    int aliveNow()
    {
        std::lock_guard lock(mutex);
        return alive;
    }
};

/// Runs `f` on destruction: a failed check still stops and joins what the test started.
struct Finally {
    std::function<void()> f;
    ~Finally() { f(); }
};

} // namespace

class tst_IoThreads : public QObject {
    Q_OBJECT

private slots:
    void runsTheIoContextOnEveryThreadUntilStopped()
    {
        boost::asio::io_context ioc;
        auto work = boost::asio::make_work_guard(ioc);
        IoThreads threads(ioc, 3);
        threads.enableProbes(5ms);
        std::mutex mutex;
        std::set<std::thread::id> seen;
        std::latch all(3);
        for (int i = 0; i < 3; ++i) // each blocks until three threads run one: needs three threads
            boost::asio::post(ioc, [&] {
                {
                    std::lock_guard lock(mutex);
                    seen.insert(std::this_thread::get_id());
                }
                all.arrive_and_wait();
            });
        std::thread runner([&] { threads.run(); });
        Finally stop{[&] {
            ioc.stop();
            runner.join();
        }};
        QVERIFY(all.try_wait() || (QTest::qWaitFor([&] { return all.try_wait(); }, 5000)));
        std::lock_guard lock(mutex);
        QCOMPARE(seen.size(), std::size_t(3));
    }

    void eachThreadRunsItsShard()
    {
        std::atomic<std::uint64_t> rounds{0};
        IoShards shards(3, rounds);
        QCOMPARE(shards.size(), std::size_t(3));
        // New connections go round-robin; a connection's executor leads back to its shard.
        std::vector<IoShards::Shard *> picked;
        for (int i = 0; i < 6; ++i)
            picked.push_back(&shards.next());
        for (int i = 0; i < 3; ++i) {
            QCOMPARE(picked[i], picked[i + 3]);
            QCOMPARE(&shards.of(picked[i]->ioc.get_executor()), picked[i]);
        }
        QVERIFY(picked[0] != picked[1] && picked[1] != picked[2] && picked[0] != picked[2]);
        QCOMPARE(&shards.main(), &shards.at(0).ioc);
        boost::asio::io_context stranger;
        QVERIFY_THROWS_EXCEPTION(std::logic_error, shards.of(stranger.get_executor()));

        IoThreads threads(shards.contexts());
        threads.enableProbes(5ms);
        std::mutex mutex;
        std::vector<std::set<std::thread::id>> seen(3);
        std::latch all(6);
        for (std::size_t s = 0; s < 3; ++s)
            for (int i = 0; i < 2; ++i) // two handlers per shard: the same thread runs both
                boost::asio::post(shards.at(s).ioc, [&, s] {
                    {
                        std::lock_guard lock(mutex);
                        seen[s].insert(std::this_thread::get_id());
                    }
                    all.count_down();
                });
        // Shards without connections keep their thread (work guard) until stop().
        std::thread runner([&] { threads.run(); });
        Finally stop{[&] {
            shards.stop();
            runner.join();
        }};
        QVERIFY(all.try_wait() || (QTest::qWaitFor([&] { return all.try_wait(); }, 5000)));
        std::lock_guard lock(mutex);
        std::set<std::thread::id> threadsSeen;
        for (const auto &ids : seen) {
            QCOMPARE(ids.size(), std::size_t(1));
            threadsSeen.insert(*ids.begin());
        }
        QCOMPARE(threadsSeen.size(), std::size_t(3));
    }

    void aStuckThreadStopsThePingsWhileTheOthersServe()
    {
        boost::asio::io_context ioc;
        auto work = boost::asio::make_work_guard(ioc);
        IoThreads threads(ioc, 3);
        threads.enableProbes(5ms);
        Verdicts verdicts;
        std::latch entered(1), release(1);
        bool released = false;
        const auto unblock = [&] {
            if (!std::exchange(released, true))
                release.count_down();
        };
        std::thread runner([&] { threads.run(); });
        Finally stop{[&] {
            unblock();
            ioc.stop();
            runner.join();
        }};
        {
            EventLoopWatchdog watchdog(threads.probes(), 20ms, [&] { verdicts.add(true); },
                                       [&](std::size_t) { verdicts.add(false); });
            QVERIFY(verdicts.waitUntil([&] { return verdicts.alive >= 3; }));

            boost::asio::post(ioc, [&] {
                entered.count_down();
                release.wait();
            });
            entered.wait();
            const int aliveWhenStuck = verdicts.aliveNow();
            QVERIFY(verdicts.waitUntil([&] { return verdicts.missed >= 3; }));
            // The other two threads still serve the io_context.
            std::atomic<bool> served{false};
            boost::asio::post(ioc, [&] { served = true; });
            QTRY_VERIFY_WITH_TIMEOUT(served.load(), 5000);
            QVERIFY(verdicts.aliveNow() <= aliveWhenStuck + 1);

            const int aliveWhenReleased = verdicts.aliveNow();
            unblock();
            QVERIFY(verdicts.waitUntil([&] { return verdicts.alive >= aliveWhenReleased + 3; }));
        }
    }
};

QTEST_MAIN(tst_IoThreads)
#include "tst_iothreads.moc"
