// log::LineBudget, the rate limit behind log::refusal(): a budget of lines per second for each
// kind of line, and a count of what it suppressed, reported with the next written line.
#include "Log.h"

#include <QTest>

using switchboard::asio::log::LineBudget;
using namespace std::chrono_literals;

class tst_LineBudget : public QObject {
    Q_OBJECT

private slots:
    void writesUpToTheBudgetPerSecond()
    {
        LineBudget budget(3);
        const auto t0 = LineBudget::Clock::time_point{} + 100s;
        for (int i = 0; i < 3; ++i)
            QVERIFY(budget.take("limit", t0 + std::chrono::milliseconds(i)).write);
        QVERIFY(!budget.take("limit", t0 + 10ms).write);
        QVERIFY(!budget.take("limit", t0 + 999ms).write);
    }

    void kindsHaveTheirOwnBudget()
    {
        LineBudget budget(1);
        const auto t0 = LineBudget::Clock::time_point{} + 100s;
        QVERIFY(budget.take("a", t0).write);
        QVERIFY(!budget.take("a", t0).write);
        QVERIFY(budget.take("b", t0).write);
    }

    void nextWindowReportsWhatWasSuppressed()
    {
        LineBudget budget(2);
        const auto t0 = LineBudget::Clock::time_point{} + 100s;
        QVERIFY(budget.take("x", t0).write);
        QVERIFY(budget.take("x", t0).write);
        for (int i = 0; i < 5; ++i)
            QVERIFY(!budget.take("x", t0 + 500ms).write);
        const auto next = budget.take("x", t0 + 1s);
        QVERIFY(next.write);
        QCOMPARE(next.suppressed, std::uint64_t(5));
        // Reported once.
        const auto after = budget.take("x", t0 + 1s);
        QVERIFY(after.write);
        QCOMPARE(after.suppressed, std::uint64_t(0));
    }

    void zeroBudgetStillWritesOneLine()
    {
        LineBudget budget(0);
        const auto t0 = LineBudget::Clock::time_point{} + 100s;
        QVERIFY(budget.take("x", t0).write);
        QVERIFY(!budget.take("x", t0).write);
    }
};

QTEST_GUILESS_MAIN(tst_LineBudget)
#include "tst_linebudget.moc"
