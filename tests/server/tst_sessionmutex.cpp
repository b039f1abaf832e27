// SessionMutex (server/asio/src/SessionMutex.h): the 4-byte lock of a WebSocket session. Threads
// that take it in turn under contention must exclude each other; the TSan stage runs this too.
#include "SessionMutex.h"

#include <QtTest>

#include <mutex>
#include <thread>
#include <vector>

using switchboard::asio::SessionMutex;

class TestSessionMutex : public QObject {
    Q_OBJECT
private slots:
    void excludesUnderContention();
    void tryLockFailsWhileHeld();
};

void TestSessionMutex::excludesUnderContention()
{
    // Four threads on two cores: each add reads, yields now and then, and writes, so an add that
    // two threads make at once loses one of them.
    SessionMutex mutex;
    long long counter = 0;
    constexpr int kThreads = 4;
    constexpr int kAdds = 50'000;
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&] {
            for (int i = 0; i < kAdds; ++i) {
                std::lock_guard lock(mutex);
                const long long seen = counter;
                if (i % 64 == 0)
                    std::this_thread::yield(); // held across a reschedule: others must sleep
                counter = seen + 1;
            }
        });
    }
    for (auto &thread : threads)
        thread.join();
    QCOMPARE(counter, (long long)kThreads * kAdds);
}

void TestSessionMutex::tryLockFailsWhileHeld()
{
    SessionMutex mutex;
    QVERIFY(mutex.try_lock());
    bool other = true;
    std::thread([&] { other = mutex.try_lock(); }).join();
    QVERIFY(!other);
    mutex.unlock();
    std::thread([&] {
        other = mutex.try_lock();
        if (other)
            mutex.unlock();
    }).join();
    QVERIFY(other);
    // A waiter blocked in lock() is woken by unlock().
    mutex.lock();
    bool entered = false;
    std::thread waiter([&] {
        std::lock_guard lock(mutex);
        entered = true;
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(20)); // let it reach the wait
    QVERIFY(!entered);
    mutex.unlock();
    waiter.join();
    QVERIFY(entered);
}

QTEST_GUILESS_MAIN(TestSessionMutex)
#include "tst_sessionmutex.moc"
