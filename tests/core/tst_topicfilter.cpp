// TopicFilter validation and matching.
#include "switchboard/TopicFilter.h"

#include "HubTestSupport.h"

#include <QtTest>

#include <string>

using namespace switchboard;

Q_DECLARE_METATYPE(std::error_code)

class TestTopicFilter : public QObject
{
    Q_OBJECT

private slots:
    void validate_data();
    void validate();
    void match_data();
    void match();
    void properties_data();
    void properties();
    void fromTopic();
    void constructorThrows();
};

void TestTopicFilter::validate_data()
{
    QTest::addColumn<QByteArray>("text");
    QTest::addColumn<std::error_code>("expected");
    const std::error_code ok;
    QTest::newRow("plain") << QByteArray("a/b") << ok;
    QTest::newRow("star") << QByteArray("*") << ok;
    QTest::newRow("double star root") << QByteArray("**") << ok;
    QTest::newRow("star middle") << QByteArray("a/*/c") << ok;
    QTest::newRow("stars") << QByteArray("*/*/*") << ok;
    QTest::newRow("double star last") << QByteArray("a/*/**") << ok;
    QTest::newRow("max length") << QByteArray(std::string(kMaxTopicLength, 'f').c_str()) << ok;
    QTest::newRow("max depth stars") << QByteArray(repeatSegments(kMaxTopicDepth, "*").c_str()) << ok;

    QTest::newRow("empty") << QByteArray("") << make_error_code(TopicError::Empty);
    QTest::newRow("empty segment") << QByteArray("a//b") << make_error_code(TopicError::EmptySegment);
    QTest::newRow("trailing slash") << QByteArray("a/") << make_error_code(TopicError::EmptySegment);
    QTest::newRow("leading slash") << QByteArray("/**") << make_error_code(TopicError::EmptySegment);
    QTest::newRow("bad char") << QByteArray("a/b c") << make_error_code(TopicError::BadCharacter);
    QTest::newRow("too long") << QByteArray(std::string(kMaxTopicLength + 1, 'f').c_str()) << make_error_code(TopicError::TooLong);
    QTest::newRow("too deep") << QByteArray(repeatSegments(kMaxTopicDepth + 1, "*").c_str()) << make_error_code(TopicError::TooDeep);
    QTest::newRow("double star middle") << QByteArray("a/**/b") << make_error_code(TopicError::MisplacedWildcard);
    QTest::newRow("double star first") << QByteArray("**/b") << make_error_code(TopicError::MisplacedWildcard);
    QTest::newRow("star suffix") << QByteArray("a*") << make_error_code(TopicError::MisplacedWildcard);
    QTest::newRow("star prefix") << QByteArray("a/*b") << make_error_code(TopicError::MisplacedWildcard);
    QTest::newRow("triple star") << QByteArray("***") << make_error_code(TopicError::MisplacedWildcard);
    QTest::newRow("two double stars") << QByteArray("**/**") << make_error_code(TopicError::MisplacedWildcard);
}

void TestTopicFilter::validate()
{
    QFETCH(QByteArray, text);
    QFETCH(std::error_code, expected);
    QCOMPARE(validateTopicFilter(view(text)), expected);
    std::error_code error;
    const auto filter = TopicFilter::parse(view(text), error);
    QCOMPARE(error, expected);
    QCOMPARE(filter.has_value(), !expected);
    if (filter)
        QCOMPARE(filter->str(), std::string(view(text)));
}

void TestTopicFilter::match_data()
{
    QTest::addColumn<QByteArray>("filter");
    QTest::addColumn<QByteArray>("topic");
    QTest::addColumn<bool>("matches");

    QTest::newRow("exact") << QByteArray("a/b") << QByteArray("a/b") << true;
    QTest::newRow("exact single") << QByteArray("a") << QByteArray("a") << true;
    QTest::newRow("different") << QByteArray("a/b") << QByteArray("a/c") << false;
    QTest::newRow("prefix of topic") << QByteArray("a") << QByteArray("a/b") << false;
    QTest::newRow("topic is prefix") << QByteArray("a/b") << QByteArray("a") << false;
    QTest::newRow("segment prefix") << QByteArray("ab") << QByteArray("a") << false;
    QTest::newRow("segment longer") << QByteArray("a") << QByteArray("ab") << false;
    QTest::newRow("case sensitive") << QByteArray("A") << QByteArray("a") << false;

    QTest::newRow("star single") << QByteArray("*") << QByteArray("x") << true;
    QTest::newRow("star not two") << QByteArray("*") << QByteArray("x/y") << false;
    QTest::newRow("star middle") << QByteArray("a/*/c") << QByteArray("a/b/c") << true;
    QTest::newRow("star middle mismatch") << QByteArray("a/*/c") << QByteArray("a/b/d") << false;
    QTest::newRow("star needs segment") << QByteArray("a/*") << QByteArray("a") << false;
    QTest::newRow("star one only") << QByteArray("a/*") << QByteArray("a/b/c") << false;
    QTest::newRow("star vs empty topic") << QByteArray("*") << QByteArray("") << false;
    QTest::newRow("star vs empty segment") << QByteArray("a/*") << QByteArray("a/") << false;

    QTest::newRow("double star root single") << QByteArray("**") << QByteArray("x") << true;
    QTest::newRow("double star root deep") << QByteArray("**") << QByteArray("x/y/z") << true;
    QTest::newRow("double star root empty") << QByteArray("**") << QByteArray("") << false;
    QTest::newRow("a/** vs a") << QByteArray("a/**") << QByteArray("a") << false;
    QTest::newRow("a/** vs a/b") << QByteArray("a/**") << QByteArray("a/b") << true;
    QTest::newRow("a/** vs a/b/c") << QByteArray("a/**") << QByteArray("a/b/c") << true;
    QTest::newRow("a/** vs b/c") << QByteArray("a/**") << QByteArray("b/c") << false;
    QTest::newRow("a/** vs ab/c") << QByteArray("a/**") << QByteArray("ab/c") << false;
    QTest::newRow("*/** vs a") << QByteArray("*/**") << QByteArray("a") << false;
    QTest::newRow("*/** vs a/b") << QByteArray("*/**") << QByteArray("a/b") << true;
    QTest::newRow("a/*/** vs a/b") << QByteArray("a/*/**") << QByteArray("a/b") << false;
    QTest::newRow("a/*/** vs a/b/c/d") << QByteArray("a/*/**") << QByteArray("a/b/c/d") << true;

    // Wildcards in the topic are not wildcards: the topic is invalid and nothing matches it.
    QTest::newRow("invalid topic star") << QByteArray("*") << QByteArray("*") << false;
    QTest::newRow("invalid topic bad char") << QByteArray("**") << QByteArray("a b") << false;
    QTest::newRow("invalid topic slash") << QByteArray("**") << QByteArray("a//b") << false;

    const std::string deep = repeatSegments(kMaxTopicDepth, "s");
    const std::string deepFilter = repeatSegments(kMaxTopicDepth - 1, "s") + "/*";
    QTest::newRow("deep exact") << QByteArray(deep.c_str()) << QByteArray(deep.c_str()) << true;
    QTest::newRow("deep star last") << QByteArray(deepFilter.c_str()) << QByteArray(deep.c_str()) << true;
    QTest::newRow("deep double star") << QByteArray("s/**") << QByteArray(deep.c_str()) << true;
    const std::string longTopic = std::string(kMaxTopicLength - 2, 'L') + "/x";
    QTest::newRow("long star") << QByteArray("*/x") << QByteArray(longTopic.c_str()) << true;
    const std::string tooLong = std::string(kMaxTopicLength, 'L') + "/x";
    QTest::newRow("too long topic") << QByteArray("**") << QByteArray(tooLong.c_str()) << false;
}

void TestTopicFilter::match()
{
    QFETCH(QByteArray, filter);
    QFETCH(QByteArray, topic);
    QFETCH(bool, matches);
    const TopicFilter f(view(filter));
    QCOMPARE(f.match(view(topic)), matches);
    std::error_code error;
    if (auto parsed = Topic::parse(view(topic), error))
        QCOMPARE(f.match(*parsed), matches);
    else
        QVERIFY(!matches);
}

void TestTopicFilter::properties_data()
{
    QTest::addColumn<QByteArray>("text");
    QTest::addColumn<int>("depth");
    QTest::addColumn<bool>("wildcard");
    QTest::addColumn<bool>("multiLevel");
    QTest::newRow("plain") << QByteArray("a/b") << 2 << false << false;
    QTest::newRow("star") << QByteArray("a/*") << 2 << true << false;
    QTest::newRow("root double") << QByteArray("**") << 1 << true << true;
    QTest::newRow("double") << QByteArray("a/*/**") << 3 << true << true;
}

void TestTopicFilter::properties()
{
    QFETCH(QByteArray, text);
    QFETCH(int, depth);
    QFETCH(bool, wildcard);
    QFETCH(bool, multiLevel);
    const TopicFilter f(view(text));
    QCOMPARE(f.depth(), static_cast<std::size_t>(depth));
    QCOMPARE(f.segments().size(), static_cast<std::size_t>(depth));
    QCOMPARE(f.hasWildcard(), wildcard);
    QCOMPARE(f.isMultiLevel(), multiLevel);
}

void TestTopicFilter::fromTopic()
{
    const Topic topic("users/42");
    const TopicFilter filter(topic);
    QCOMPARE(filter.str(), topic.str());
    QVERIFY(filter.match(topic));
    QVERIFY(!filter.match("users/43"));
    QVERIFY(filter == TopicFilter("users/42"));
    QVERIFY(filter != TopicFilter("users/*"));
}

void TestTopicFilter::constructorThrows()
{
    try {
        TopicFilter bad("a/**/b");
        QFAIL("no exception");
    } catch (const std::system_error &e) {
        QCOMPARE(e.code(), make_error_code(TopicError::MisplacedWildcard));
    }
    QVERIFY_THROWS_EXCEPTION(std::system_error, TopicFilter(""));
}

QTEST_APPLESS_MAIN(TestTopicFilter)
#include "tst_topicfilter.moc"
