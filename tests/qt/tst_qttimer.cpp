// QtTimer: one-shot timers in deadline order, cancel, re-entrant starts, clocks.

#include <switchboard/qtws/QtTimer.h>

#include <QDateTime>
#include <QTest>

#include <vector>

using namespace std::chrono_literals;
using switchboard::TimerId;
using switchboard::qtws::QtTimer;

class TestQtTimer : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void firesOnceInDeadlineOrder()
    {
        QtTimer timer;
        std::vector<int> fired;
        const auto start = timer.now();
        timer.start(60ms, [&] { fired.push_back(60); });
        timer.start(20ms, [&] { fired.push_back(20); });
        timer.start(0ms, [&] { fired.push_back(0); });
        QVERIFY(fired.empty());
        QCOMPARE(timer.pendingCount(), std::size_t(3));
        QTRY_COMPARE(fired.size(), std::size_t(3));
        QCOMPARE(fired, (std::vector<int>{0, 20, 60}));
        QVERIFY(timer.now() - start >= 60ms);
        QCOMPARE(timer.pendingCount(), std::size_t(0));
    }

    void cancel()
    {
        QtTimer timer;
        bool cancelled = false;
        bool kept = false;
        const TimerId id = timer.start(10ms, [&] { cancelled = true; });
        QVERIFY(id != 0);
        timer.start(30ms, [&] { kept = true; });
        timer.cancel(id);
        timer.cancel(id);     // twice: no-op
        timer.cancel(12345);  // unknown: no-op
        QTRY_VERIFY(kept);
        QVERIFY(!cancelled);
    }

    void callbackStartsAndCancelsTimers()
    {
        QtTimer timer;
        int chain = 0;
        TimerId victim = 0;
        bool victimRan = false;
        std::function<void()> step = [&] {
            if (++chain < 5)
                timer.start(1ms, step);
            if (victim != 0) {
                timer.cancel(victim);
                victim = 0;
            }
        };
        victim = timer.start(200ms, [&] { victimRan = true; });
        timer.start(0ms, step);
        QTRY_COMPARE(chain, 5);
        QCOMPARE(timer.pendingCount(), std::size_t(0));
        QVERIFY(!victimRan);
    }

    void destructionCancels()
    {
        bool ran = false;
        {
            QtTimer timer;
            timer.start(0ms, [&] { ran = true; });
        }
        QtTimer other;
        bool later = false;
        other.start(5ms, [&] { later = true; });
        QTRY_VERIFY(later);
        QVERIFY(!ran);
    }

    void wallClock()
    {
        QtTimer timer;
        const qint64 now = QDateTime::currentMSecsSinceEpoch();
        QVERIFY(qAbs(timer.wallClockMs() - now) < 1000);
    }
};

QTEST_GUILESS_MAIN(TestQtTimer)
#include "tst_qttimer.moc"
