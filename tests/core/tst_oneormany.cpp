// OneOrMany (core/src/OneOrMany.h): the sequence a Hub entry keeps its channel memberships in,
// the first inside itself, more in a heap vector. Elements must survive the moves between the two
// (move-only ones too) and be destroyed exactly once.
#include "OneOrMany.h"

#include <QtTest>

#include <memory>
#include <numeric>

using switchboard::detail::OneOrMany;

namespace {

/// Counts live instances; move-only, like a membership with its presence identity.
struct Counted {
    explicit Counted(int v) : value(std::make_unique<int>(v)) { ++live; }
    Counted(Counted &&other) noexcept : value(std::move(other.value)) { ++live; }
    Counted &operator=(Counted &&other) noexcept
    {
        value = std::move(other.value);
        return *this;
    }
    ~Counted() { --live; }
    std::unique_ptr<int> value;
    static inline int live = 0;
};

int sum(const OneOrMany<Counted> &list)
{
    return std::accumulate(list.begin(), list.end(), 0, [](int total, const Counted &c) { return total + *c.value; });
}

} // namespace

class TestOneOrMany : public QObject {
    Q_OBJECT
private slots:
    void growsAndShrinksThroughTheVector();
    void swapRemoveAsTheHubDoes();
    void destroysWhatItHolds();
    void oneElementNeedsNoMoreThanItself();
};

void TestOneOrMany::growsAndShrinksThroughTheVector()
{
    OneOrMany<Counted> list;
    QVERIFY(list.empty());
    QCOMPARE(list.begin(), list.end());
    for (int i = 1; i <= 4; ++i) {
        list.push_back(Counted(i));
        QCOMPARE(list.size(), std::size_t(i));
        QCOMPARE(*list.back().value, i);
        QCOMPARE(sum(list), i * (i + 1) / 2);
    }
    for (int i = 4; i >= 1; --i) {
        QCOMPARE(*list.back().value, i);
        list.pop_back();
        QCOMPARE(list.size(), std::size_t(i - 1));
        QCOMPARE(sum(list), (i - 1) * i / 2);
    }
    QVERIFY(list.empty());
    QCOMPARE(Counted::live, 0);
}

void TestOneOrMany::swapRemoveAsTheHubDoes()
{
    OneOrMany<Counted> list;
    list.push_back(Counted(10));
    list.push_back(Counted(20));
    // Remove the first: the last takes its place, then the last goes (two back to one inside).
    Counted removed = std::move(list[0]);
    list[0] = std::move(list.back());
    list.pop_back();
    QCOMPARE(*removed.value, 10);
    QCOMPARE(list.size(), std::size_t(1));
    QCOMPARE(*list[0].value, 20);
    // Removing the only one moves it onto itself first.
    Counted only = std::move(list[0]);
    list[0] = std::move(list.back());
    list.pop_back();
    QVERIFY(list.empty());
}

void TestOneOrMany::destroysWhatItHolds()
{
    QCOMPARE(Counted::live, 0);
    {
        OneOrMany<Counted> one;
        one.push_back(Counted(1));
        OneOrMany<Counted> many;
        for (int i = 0; i < 5; ++i)
            many.push_back(Counted(i));
        QCOMPARE(Counted::live, 6);
    }
    QCOMPARE(Counted::live, 0);
}

void TestOneOrMany::oneElementNeedsNoMoreThanItself()
{
    // The element, plus a 4-byte count in what would be padding for an 8-aligned type.
    struct ThreeWords {
        void *a, *b, *c;
    };
    QCOMPARE(sizeof(OneOrMany<ThreeWords>), sizeof(ThreeWords) + 8);
}

QTEST_GUILESS_MAIN(TestOneOrMany)
#include "tst_oneormany.moc"
