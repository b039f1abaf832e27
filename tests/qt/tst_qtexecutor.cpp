// QtExecutor: order, batching into one event-loop turn, posts from other threads, destruction.

#include <switchboard/qtws/QtExecutor.h>

#include <QTest>
#include <QThread>

#include <atomic>
#include <memory>
#include <vector>

using switchboard::qtws::QtExecutor;

class TestQtExecutor : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void runsLaterInOrder()
    {
        QtExecutor executor;
        std::vector<int> ran;
        for (int i = 0; i < 5; ++i)
            executor.post([&ran, i] { ran.push_back(i); });
        QVERIFY(ran.empty()); // never inside post()
        QTRY_COMPARE(ran.size(), std::size_t(5));
        QCOMPARE(ran, (std::vector<int>{0, 1, 2, 3, 4}));
    }

    void taskPostedByTaskRunsNextTurn()
    {
        QtExecutor executor;
        std::vector<int> ran;
        executor.post([&] {
            ran.push_back(1);
            executor.post([&] { ran.push_back(3); });
        });
        executor.post([&] { ran.push_back(2); });
        QTRY_COMPARE(ran.size(), std::size_t(3));
        QCOMPARE(ran, (std::vector<int>{1, 2, 3}));
    }

    void postFromOtherThreads()
    {
        QtExecutor executor;
        std::atomic<int> wrongThread{0};
        int ran = 0;
        QThread *self = QThread::currentThread();
        std::vector<std::unique_ptr<QThread>> threads;
        for (int t = 0; t < 4; ++t) {
            threads.emplace_back(QThread::create([&] {
                for (int i = 0; i < 250; ++i)
                    executor.post([&] {
                        if (QThread::currentThread() != self)
                            ++wrongThread;
                        ++ran;
                    });
            }));
            threads.back()->start();
        }
        for (auto &thread : threads)
            QVERIFY(thread->wait(10'000));
        QTRY_COMPARE(ran, 1000);
        QCOMPARE(wrongThread.load(), 0);
    }

    void destructionDropsPendingTasks()
    {
        bool ran = false;
        {
            QtExecutor executor;
            executor.post([&] { ran = true; });
        }
        // A later task on a live executor proves the event loop turned.
        QtExecutor other;
        bool later = false;
        other.post([&] { later = true; });
        QTRY_VERIFY(later);
        QVERIFY(!ran);
    }
};

QTEST_GUILESS_MAIN(TestQtExecutor)
#include "tst_qtexecutor.moc"
