// TopicTree: insert, erase, pruning, and matching against a brute-force reference.
#include "switchboard/TopicTree.h"

#include <QtTest>

#include <algorithm>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

using namespace switchboard;

namespace {

using Pair = std::pair<std::string, int>;

std::vector<Pair> collect(const TopicTree<int> &tree, const Topic &topic)
{
    std::vector<Pair> out;
    tree.match(topic, [&](const TopicFilter &filter, const int &value) { out.emplace_back(filter.str(), value); });
    std::sort(out.begin(), out.end());
    return out;
}

std::vector<Pair> bruteForce(const std::vector<std::pair<TopicFilter, int>> &stored, const Topic &topic)
{
    std::vector<Pair> out;
    for (const auto &[filter, value] : stored) {
        if (filter.match(topic))
            out.emplace_back(filter.str(), value);
    }
    std::sort(out.begin(), out.end());
    return out;
}

// A small alphabet makes filters and topics collide often.
std::string randomTopic(std::mt19937 &rng)
{
    static const char *const words[] = {"a", "b", "c", "room-1", "x"};
    std::uniform_int_distribution<int> depth(1, 5);
    std::uniform_int_distribution<int> word(0, 4);
    std::string out;
    const int n = depth(rng);
    for (int i = 0; i < n; ++i) {
        if (i)
            out += '/';
        out += words[word(rng)];
    }
    return out;
}

std::string randomFilter(std::mt19937 &rng)
{
    static const char *const words[] = {"a", "b", "c", "room-1", "x", "*", "*", "*"};
    std::uniform_int_distribution<int> depth(1, 5);
    std::uniform_int_distribution<int> word(0, 7);
    std::uniform_int_distribution<int> coin(0, 3);
    std::string out;
    const int n = depth(rng);
    for (int i = 0; i < n; ++i) {
        if (i)
            out += '/';
        out += (i == n - 1 && coin(rng) == 0) ? "**" : words[word(rng)];
    }
    return out;
}

} // namespace

class TestTopicTree : public QObject
{
    Q_OBJECT

private slots:
    void matchTable_data();
    void matchTable();
    void insertDuplicate();
    void erasePrunes();
    void eraseUnknown();
    void visitorWithValueOnly();
    void invalidTextTopic();
    void randomizedAgainstBruteForce();
    void manyValuesOneFilter();
};

void TestTopicTree::matchTable_data()
{
    QTest::addColumn<QByteArray>("topic");
    QTest::addColumn<QByteArrayList>("expected"); // filters that match, sorted

    QTest::newRow("single segment") << QByteArray("a") << QByteArrayList{"*", "**", "a"};
    QTest::newRow("two segments") << QByteArray("a/b") << QByteArrayList{"**", "*/b", "a/*", "a/**", "a/b"};
    QTest::newRow("three segments") << QByteArray("a/b/c") << QByteArrayList{"**", "a/**", "a/*/c", "a/b/c"};
    QTest::newRow("other root") << QByteArray("z") << QByteArrayList{"*", "**"};
    QTest::newRow("other deep") << QByteArray("z/b") << QByteArrayList{"**", "*/b"};
    QTest::newRow("four segments") << QByteArray("a/b/c/d") << QByteArrayList{"**", "a/**"};
}

void TestTopicTree::matchTable()
{
    QFETCH(QByteArray, topic);
    QFETCH(QByteArrayList, expected);
    TopicTree<int> tree;
    const char *const filters[] = {"a", "*", "**", "a/b", "a/*", "a/**", "*/b", "a/b/c", "a/*/c"};
    for (const char *f : filters)
        QVERIFY(tree.insert(TopicFilter(f), 7));
    QCOMPARE(tree.size(), std::size(filters));
    std::vector<Pair> want;
    for (const QByteArray &f : expected)
        want.emplace_back(f.toStdString(), 7);
    std::sort(want.begin(), want.end());
    QCOMPARE(collect(tree, Topic(topic.toStdString())), want);
}

void TestTopicTree::insertDuplicate()
{
    TopicTree<int> tree;
    QVERIFY(tree.insert(TopicFilter("a/*"), 1));
    QVERIFY(!tree.insert(TopicFilter("a/*"), 1));
    QVERIFY(tree.insert(TopicFilter("a/*"), 2));
    QVERIFY(tree.insert(TopicFilter("a/**"), 1));
    QCOMPARE(tree.size(), std::size_t(3));
    QVERIFY(tree.contains(TopicFilter("a/*"), 2));
    QVERIFY(!tree.contains(TopicFilter("a/*"), 3));
    QVERIFY(!tree.contains(TopicFilter("a"), 1));
    QCOMPARE(collect(tree, Topic("a/b")).size(), std::size_t(3));
}

void TestTopicTree::erasePrunes()
{
    TopicTree<int> tree;
    QVERIFY(tree.empty());
    QCOMPARE(tree.nodeCount(), std::size_t(1));
    tree.insert(TopicFilter("a/b/c/d"), 1);
    QCOMPARE(tree.nodeCount(), std::size_t(5));
    tree.insert(TopicFilter("a/b"), 2);
    tree.insert(TopicFilter("a/*/**"), 3);
    QCOMPARE(tree.nodeCount(), std::size_t(7));

    QVERIFY(tree.erase(TopicFilter("a/b/c/d"), 1));
    QCOMPARE(tree.nodeCount(), std::size_t(5)); // c and d pruned, a/b holds a value
    QVERIFY(tree.erase(TopicFilter("a/*/**"), 3));
    QCOMPARE(tree.nodeCount(), std::size_t(3));
    QCOMPARE(collect(tree, Topic("a/b")), (std::vector<Pair>{{"a/b", 2}}));
    QVERIFY(tree.erase(TopicFilter("a/b"), 2));
    QCOMPARE(tree.nodeCount(), std::size_t(1));
    QVERIFY(tree.empty());
    QVERIFY(collect(tree, Topic("a/b")).empty());
}

void TestTopicTree::eraseUnknown()
{
    TopicTree<int> tree;
    tree.insert(TopicFilter("a/b"), 1);
    QVERIFY(!tree.erase(TopicFilter("a/b"), 2));
    QVERIFY(!tree.erase(TopicFilter("a"), 1));
    QVERIFY(!tree.erase(TopicFilter("a/b/c"), 1));
    QVERIFY(!tree.erase(TopicFilter("a/*"), 1));
    QVERIFY(!tree.erase(TopicFilter("**"), 1));
    QCOMPARE(tree.size(), std::size_t(1));
    QCOMPARE(tree.nodeCount(), std::size_t(3));
}

void TestTopicTree::visitorWithValueOnly()
{
    TopicTree<std::string> tree;
    tree.insert(TopicFilter("news/**"), "all news");
    tree.insert(TopicFilter("news/sport"), "sport");
    std::vector<std::string> seen;
    tree.match(Topic("news/sport"), [&](const std::string &v) { seen.push_back(v); });
    std::sort(seen.begin(), seen.end());
    QCOMPARE(seen, (std::vector<std::string>{"all news", "sport"}));
}

void TestTopicTree::invalidTextTopic()
{
    TopicTree<int> tree;
    tree.insert(TopicFilter("**"), 1);
    int calls = 0;
    QVERIFY(!tree.match(std::string_view("a//b"), [&](const int &) { ++calls; }));
    QVERIFY(!tree.match(std::string_view("*"), [&](const int &) { ++calls; }));
    QCOMPARE(calls, 0);
    QVERIFY(tree.match(std::string_view("a/b"), [&](const int &) { ++calls; }));
    QCOMPARE(calls, 1);
}

void TestTopicTree::randomizedAgainstBruteForce()
{
    std::mt19937 rng(20261123); // fixed seed: failures reproduce
    TopicTree<int> tree;
    std::vector<std::pair<TopicFilter, int>> stored;
    std::uniform_int_distribution<int> valueDist(0, 3);

    for (int round = 0; round < 400; ++round) {
        const TopicFilter filter(randomFilter(rng));
        const int value = valueDist(rng);
        const bool held = std::find(stored.begin(), stored.end(), std::make_pair(filter, value)) != stored.end();
        QCOMPARE(tree.insert(filter, value), !held);
        if (!held)
            stored.emplace_back(filter, value);
    }
    QCOMPARE(tree.size(), stored.size());

    std::size_t totalHits = 0;
    auto checkAll = [&] {
        for (int i = 0; i < 300; ++i) {
            const Topic topic(randomTopic(rng));
            const auto got = collect(tree, topic);
            const auto want = bruteForce(stored, topic);
            if (got != want)
                QFAIL(qPrintable(QStringLiteral("mismatch for %1").arg(QString::fromStdString(topic.str()))));
            totalHits += got.size();
        }
    };
    checkAll();
    QVERIFY(totalHits > 1000); // the sets overlap enough for the comparison to mean something

    // Erase a random half, check again, then erase everything: the trie is back to its root.
    std::shuffle(stored.begin(), stored.end(), rng);
    const std::size_t half = stored.size() / 2;
    for (std::size_t i = half; i < stored.size(); ++i)
        QVERIFY(tree.erase(stored[i].first, stored[i].second));
    stored.erase(stored.begin() + static_cast<std::ptrdiff_t>(half), stored.end());
    QCOMPARE(tree.size(), stored.size());
    checkAll();
    for (const auto &[filter, value] : stored)
        QVERIFY(tree.erase(filter, value));
    QVERIFY(tree.empty());
    QCOMPARE(tree.nodeCount(), std::size_t(1));
}

void TestTopicTree::manyValuesOneFilter()
{
    // Matching visits every value of a matching filter but does not walk per value.
    TopicTree<int> tree;
    for (int i = 0; i < 10000; ++i)
        tree.insert(TopicFilter("room/*/messages"), i);
    tree.insert(TopicFilter("room/1/typing"), -1);
    QCOMPARE(tree.nodeCount(), std::size_t(6));
    std::size_t hits = 0;
    long long sum = 0;
    tree.match(Topic("room/1/messages"), [&](const int &v) { ++hits; sum += v; });
    QCOMPARE(hits, std::size_t(10000));
    QCOMPARE(sum, 10000LL * 9999 / 2);
    hits = 0;
    tree.match(Topic("room/1/typing"), [&](const int &) { ++hits; });
    QCOMPARE(hits, std::size_t(1));
}

QTEST_APPLESS_MAIN(TestTopicTree)
#include "tst_topictree.moc"
