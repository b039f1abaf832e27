// Topic validation, parsing and segments.
#include "switchboard/ChannelName.h"
#include "switchboard/Error.h"
#include "switchboard/Topic.h"

#include "HubTestSupport.h"

#include <QtTest>

#include <string>

using namespace switchboard;

Q_DECLARE_METATYPE(std::error_code)

class TestTopic : public QObject
{
    Q_OBJECT

private slots:
    void validate_data();
    void validate();
    void segments_data();
    void segments();
    void constructorThrows();
    void valueSemantics();
    void errorMessages();
    void channelNames_data();
    void channelNames();
    void eventNames_data();
    void eventNames();
};

void TestTopic::validate_data()
{
    QTest::addColumn<QByteArray>("text");
    QTest::addColumn<std::error_code>("expected");

    const std::error_code ok;
    QTest::newRow("single") << QByteArray("a") << ok;
    QTest::newRow("three") << QByteArray("sensors/room-1/temperature") << ok;
    QTest::newRow("punctuation") << QByteArray("a_b-c=d@e,f.g;h:i+j~k!l#m$n%o^p&q(r)s[t]u{v}w|x<y>z?'") << ok;
    QTest::newRow("digits") << QByteArray("0/1/2") << ok;
    QTest::newRow("private prefix") << QByteArray("private-chat") << ok;
    QTest::newRow("max length") << QByteArray(std::string(kMaxTopicLength, 'x').c_str()) << ok;
    QTest::newRow("max depth") << QByteArray(repeatSegments(kMaxTopicDepth, "s").c_str()) << ok;

    QTest::newRow("empty") << QByteArray("") << make_error_code(TopicError::Empty);
    QTest::newRow("only slash") << QByteArray("/") << make_error_code(TopicError::EmptySegment);
    QTest::newRow("leading slash") << QByteArray("/a") << make_error_code(TopicError::EmptySegment);
    QTest::newRow("trailing slash") << QByteArray("a/") << make_error_code(TopicError::EmptySegment);
    QTest::newRow("double slash") << QByteArray("a//b") << make_error_code(TopicError::EmptySegment);
    QTest::newRow("space") << QByteArray("a b") << make_error_code(TopicError::BadCharacter);
    QTest::newRow("tab") << QByteArray("a\tb") << make_error_code(TopicError::BadCharacter);
    QTest::newRow("quote") << QByteArray("a\"b") << make_error_code(TopicError::BadCharacter);
    QTest::newRow("backslash") << QByteArray("a\\b") << make_error_code(TopicError::BadCharacter);
    QTest::newRow("utf8") << QByteArray("caf\xc3\xa9") << make_error_code(TopicError::BadCharacter);
    QTest::newRow("nul") << QByteArray("a\0b", 3) << make_error_code(TopicError::BadCharacter);
    QTest::newRow("del") << QByteArray("a\x7f") << make_error_code(TopicError::BadCharacter);
    QTest::newRow("too long") << QByteArray(std::string(kMaxTopicLength + 1, 'x').c_str()) << make_error_code(TopicError::TooLong);
    QTest::newRow("too deep") << QByteArray(repeatSegments(kMaxTopicDepth + 1, "s").c_str()) << make_error_code(TopicError::TooDeep);
    QTest::newRow("star segment") << QByteArray("a/*") << make_error_code(TopicError::WildcardInTopic);
    QTest::newRow("double star") << QByteArray("**") << make_error_code(TopicError::WildcardInTopic);
    QTest::newRow("star inside") << QByteArray("a*b") << make_error_code(TopicError::WildcardInTopic);
    QTest::newRow("empty before bad") << QByteArray("a//b c") << make_error_code(TopicError::EmptySegment);
}

void TestTopic::validate()
{
    QFETCH(QByteArray, text);
    QFETCH(std::error_code, expected);
    const std::string_view view(text.constData(), static_cast<std::size_t>(text.size()));

    QCOMPARE(validateTopic(view), expected);
    std::error_code error = make_error_code(TopicError::Empty);
    const auto topic = Topic::parse(view, error);
    QCOMPARE(error, expected);
    QCOMPARE(topic.has_value(), !expected);
    if (topic)
        QCOMPARE(topic->str(), std::string(view));
    QCOMPARE(validateChannelName(view) ? true : false, bool(expected));
}

void TestTopic::segments_data()
{
    QTest::addColumn<QByteArray>("text");
    QTest::addColumn<QByteArrayList>("expected");
    QTest::newRow("one") << QByteArray("a") << QByteArrayList{"a"};
    QTest::newRow("two") << QByteArray("users/42") << QByteArrayList{"users", "42"};
    QTest::newRow("three") << QByteArray("x/yy/zzz") << QByteArrayList{"x", "yy", "zzz"};
}

void TestTopic::segments()
{
    QFETCH(QByteArray, text);
    QFETCH(QByteArrayList, expected);
    const Topic topic(text.toStdString());
    QCOMPARE(topic.depth(), static_cast<std::size_t>(expected.size()));
    const auto segments = topic.segments();
    QCOMPARE(segments.size(), static_cast<std::size_t>(expected.size()));
    for (qsizetype i = 0; i < expected.size(); ++i) {
        QCOMPARE(QByteArray(segments[i].data(), static_cast<qsizetype>(segments[i].size())), expected[i]);
        // Views point into the topic's own storage.
        QVERIFY(segments[i].data() >= topic.str().data());
        QVERIFY(segments[i].data() < topic.str().data() + topic.str().size());
    }
}

void TestTopic::constructorThrows()
{
    QVERIFY_THROWS_EXCEPTION(std::system_error, Topic("a//b"));
    try {
        Topic bad("a/*");
        QFAIL("no exception");
    } catch (const std::system_error &e) {
        QCOMPARE(e.code(), make_error_code(TopicError::WildcardInTopic));
    }
    const Topic fine("a/b");
    QCOMPARE(fine.str(), std::string("a/b"));
}

void TestTopic::valueSemantics()
{
    const Topic a("a/b");
    const Topic b("a/b");
    const Topic c("a/c");
    QVERIFY(a == b);
    QVERIFY(a != c);
    QVERIFY(a < c);
    Topic copy = c;
    QCOMPARE(copy, c);
}

void TestTopic::errorMessages()
{
    for (int v = static_cast<int>(TopicError::Empty); v <= static_cast<int>(TopicError::MisplacedWildcard); ++v) {
        const std::error_code code = make_error_code(static_cast<TopicError>(v));
        QVERIFY(!code.message().empty());
        QVERIFY(code.message() != "unknown topic error");
        QCOMPARE(std::string(code.category().name()), std::string("switchboard.topic"));
    }
    QVERIFY(make_error_code(TopicError::Empty) != make_error_code(TopicError::EmptySegment));
}

void TestTopic::channelNames_data()
{
    QTest::addColumn<QByteArray>("name");
    QTest::addColumn<bool>("valid");
    QTest::addColumn<int>("type");
    QTest::newRow("public") << QByteArray("news") << true << int(ChannelType::Public);
    QTest::newRow("public nested") << QByteArray("news/sport") << true << int(ChannelType::Public);
    QTest::newRow("private") << QByteArray("private-room") << true << int(ChannelType::Private);
    QTest::newRow("presence") << QByteArray("presence-lobby/1") << true << int(ChannelType::Presence);
    QTest::newRow("prefix not at start") << QByteArray("a/private-room") << true << int(ChannelType::Public);
    QTest::newRow("wildcard") << QByteArray("news/*") << false << int(ChannelType::Public);
    QTest::newRow("empty") << QByteArray("") << false << int(ChannelType::Public);
    QTest::newRow("space") << QByteArray("private-a b") << false << int(ChannelType::Private);
    QTest::newRow("bare private prefix") << QByteArray("private-") << false << int(ChannelType::Private);
    QTest::newRow("bare presence prefix") << QByteArray("presence-") << false << int(ChannelType::Presence);
    QTest::newRow("prefix then slash") << QByteArray("private-/x") << false << int(ChannelType::Private);
}

void TestTopic::channelNames()
{
    QFETCH(QByteArray, name);
    QFETCH(bool, valid);
    QFETCH(int, type);
    const std::string text = name.toStdString();
    QCOMPARE(validateChannelName(text) ? false : true, valid);
    if (!valid)
        QCOMPARE(validateChannelName(text), make_error_code(Error::InvalidName));
    QCOMPARE(int(channelTypeOf(text)), type);
    QVERIFY(!channelTypeName(channelTypeOf(text)).empty());
}

void TestTopic::eventNames_data()
{
    QTest::addColumn<QByteArray>("name");
    QTest::addColumn<bool>("valid");
    QTest::newRow("plain") << QByteArray("message") << true;
    QTest::newRow("colon") << QByteArray("presence:member_added") << true;
    QTest::newRow("slash") << QByteArray("a/b") << true;
    QTest::newRow("max") << QByteArray(128, 'e') << true;
    QTest::newRow("too long") << QByteArray(129, 'e') << false;
    QTest::newRow("empty") << QByteArray() << false;
    QTest::newRow("dotted") << QByteArray("incident.created") << true;
    QTest::newRow("three segments") << QByteArray("a.b-c.d_e") << true;
    QTest::newRow("leading dot") << QByteArray(".a") << false;
    QTest::newRow("trailing dot") << QByteArray("a.") << false;
    QTest::newRow("double dot") << QByteArray("a..b") << false;
    QTest::newRow("lone dot") << QByteArray(".") << false;
    QTest::newRow("star") << QByteArray("a*") << false;
    QTest::newRow("space") << QByteArray("a b") << false;
    QTest::newRow("quote") << QByteArray("a\"") << false;
    QTest::newRow("backslash") << QByteArray("a\\") << false;
    QTest::newRow("control") << QByteArray("a\n") << false;
    QTest::newRow("non ascii") << QByteArray("\xc3\xa9") << false;
}

void TestTopic::eventNames()
{
    QFETCH(QByteArray, name);
    QFETCH(bool, valid);
    const auto error = validateEventName(std::string_view(name.constData(), static_cast<std::size_t>(name.size())));
    QCOMPARE(error ? false : true, valid);
    if (!valid)
        QCOMPARE(error, make_error_code(Error::InvalidName));
}

QTEST_APPLESS_MAIN(TestTopic)
#include "tst_topic.moc"
