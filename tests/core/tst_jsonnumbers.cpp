// Numbers in client JSON: a subscriber receives the publisher's value unchanged in meaning
// (64-bit integers exact) or the publisher gets an error; never a frame that is not JSON.
#include "ProtocolHarness.h"

#include "switchboard/JsonParse.h"
#include "switchboard/MemoryBroker.h"

#include <QtTest>

#include <bit>
#include <cmath>
#include <cstring>
#include <random>
#include <sstream>
#include <string>

using namespace switchboard;
using namespace switchboard::testing;
namespace json = boost::json;

namespace {

/// Every frame a session got must be JSON a strict parser accepts.
bool allFramesAreJson(const RecordingSession &session)
{
    for (const SharedFrame &frame : session.frames) {
        if (frame->kind == Frame::Kind::Text && !isAcceptedJson(frame->bytes, JsonParseOptions{128})) {
            qWarning("not JSON: %s", frame->bytes.c_str());
            return false;
        }
    }
    return true;
}

std::string publishFrame(std::string_view data)
{
    return R"({"op":"publish","channel":"news","event":"e","ackId":"p","data":)" + std::string(data) + "}";
}

} // namespace

class TestJsonNumbers : public QObject
{
    Q_OBJECT

private slots:
    void parseJson_data();
    void parseJson();
    void doublesRoundTrip();
    void refusedPublish_data();
    void refusedPublish();
    void exactPublish_data();
    void exactPublish();
    void refusedChannelData();
    void refusedRequestPayloadAndReply();
    void snapshotWithInvalidDataRefused();
};

void TestJsonNumbers::parseJson_data()
{
    QTest::addColumn<QByteArray>("text");
    QTest::addColumn<int>("kind"); // -1 accepted, else JsonProblem::Kind
    QTest::addColumn<QByteArray>("serialized"); // expected re-serialization when accepted

    constexpr int ok = -1;
    constexpr int range = int(JsonProblem::Kind::NumberOutOfRange);
    QTest::newRow("int64 max") << QByteArray("9223372036854775807") << ok << QByteArray("9223372036854775807");
    QTest::newRow("int64 min") << QByteArray("-9223372036854775808") << ok << QByteArray("-9223372036854775808");
    QTest::newRow("uint64 max") << QByteArray("18446744073709551615") << ok << QByteArray("18446744073709551615");
    QTest::newRow("uint64 max + 1") << QByteArray("18446744073709551616") << range << QByteArray();
    QTest::newRow("int64 min - 1") << QByteArray("-9223372036854775809") << range << QByteArray();
    QTest::newRow("30 digits") << QByteArray("[123456789012345678901234567890]") << range << QByteArray();
    QTest::newRow("1e400") << QByteArray(R"({"v":1e400})") << range << QByteArray();
    QTest::newRow("-1e400") << QByteArray("-1e400") << range << QByteArray();
    QTest::newRow("1e-400 underflow") << QByteArray("1e-400") << range << QByteArray();
    QTest::newRow("zero with exponent") << QByteArray("0.0e-400") << ok << QByteArray("0E0");
    QTest::newRow("1e308") << QByteArray("1e308") << ok << QByteArray("1E308");
    QTest::newRow("fraction") << QByteArray("1.5") << ok << QByteArray("1.5E0");
    QTest::newRow("big decimal with fraction") << QByteArray("123456789012345678901234567890.5") << ok
                                               << QByteArray("1.2345678901234568E29");
    // Doubles whose shortest text Boost.JSON's own conversion misses by one unit in the last place;
    // parseJson() gives the nearest double, so a value is relayed as its publisher wrote it.
    QTest::newRow("17 digits") << QByteArray("474.59380568556355") << ok << QByteArray("4.7459380568556355E2");
    QTest::newRow("small exponent") << QByteArray("1.3927926388013963E-143") << ok
                                    << QByteArray("1.3927926388013963E-143");
    QTest::newRow("large exponent") << QByteArray("5.409760742964738E124") << ok << QByteArray("5.409760742964738E124");
    QTest::newRow("64 digits with fraction")
        << QByteArray("4444444444444444444444444444444444444444444444444444444444444418.0") << ok
        << QByteArray("4.444444444444445E63");
    QTest::newRow("syntax") << QByteArray("{") << int(JsonProblem::Kind::Syntax) << QByteArray();
    QTest::newRow("Infinity") << QByteArray("Infinity") << int(JsonProblem::Kind::Syntax) << QByteArray();
    QTest::newRow("trailing data") << QByteArray("1 2") << int(JsonProblem::Kind::Syntax) << QByteArray();
    QTest::newRow("too deep") << QByteArray(40, '[') + QByteArray(40, ']') << int(JsonProblem::Kind::TooDeep)
                              << QByteArray();
}

void TestJsonNumbers::parseJson()
{
    QFETCH(QByteArray, text);
    QFETCH(int, kind);
    QFETCH(QByteArray, serialized);
    json::value value;
    const std::optional<JsonProblem> problem = switchboard::parseJson(text.toStdString(), value);
    if (kind < 0) {
        QVERIFY2(!problem, problem ? problem->message.c_str() : "");
        QCOMPARE(QByteArray::fromStdString(json::serialize(value)), serialized);
        return;
    }
    QVERIFY(problem);
    QCOMPARE(int(problem->kind), kind);
    if (problem->kind == JsonProblem::Kind::NumberOutOfRange) {
        QVERIFY2(problem->message.starts_with("number out of range"), problem->message.c_str());
        // The rest stays readable (to answer an ackId); the refused number is null.
        QVERIFY(!QByteArray::fromStdString(json::serialize(value)).contains("e"));
    } else {
        QVERIFY(value.is_null());
    }
}

void TestJsonNumbers::doublesRoundTrip()
{
    // Any finite double, serialized (shortest text that stands for it) and parsed again, is the
    // same double: what a publisher's JSON library writes is what every subscriber reads.
    std::mt19937_64 random(20261206);
    int checked = 0;
    while (checked < 200'000) {
        const std::uint64_t bits = random();
        double d = 0;
        std::memcpy(&d, &bits, sizeof d);
        if (!std::isfinite(d))
            continue;
        ++checked;
        const std::string text = json::serialize(json::value(d));
        json::value back;
        const std::optional<JsonProblem> problem = switchboard::parseJson(text, back);
        QVERIFY2(!problem, text.c_str());
        QVERIFY2(back.is_double(), text.c_str());
        QVERIFY2(std::bit_cast<std::uint64_t>(back.get_double()) == bits, text.c_str());
    }
}

void TestJsonNumbers::refusedPublish_data()
{
    QTest::addColumn<QByteArray>("data");
    QTest::newRow("1e400") << QByteArray(R"({"v":1e400})");
    QTest::newRow("-1e400 in array") << QByteArray("[1,-1e400]");
    QTest::newRow("huge integer") << QByteArray(R"({"v":123456789012345678901234567890})");
}

void TestJsonNumbers::refusedPublish()
{
    QFETCH(QByteArray, data);
    ServerProtocolOptions options;
    options.clientPublish = ClientPublishPolicy::Always;
    Harness h(options);
    Client subscriber = h.connect();
    QVERIFY(h.subscribe(subscriber, "news"));
    Client publisher = h.connect();

    h.send(publisher, publishFrame(data.toStdString()));

    const auto answers = publisher.session->take();
    QCOMPARE(answers.size(), std::size_t(1));
    QCOMPARE(op(answers[0]), std::string("error"));
    QCOMPARE(num(answers[0], "code"), 400);
    QCOMPARE(str(answers[0], "ackId"), std::string("p"));
    QVERIFY2(str(answers[0], "message").starts_with("number out of range"), str(answers[0], "message").c_str());
    QCOMPARE(h.protocol.counters().numbersOutOfRange, std::uint64_t(1));
    QVERIFY(subscriber.session->frames.empty());
    QVERIFY(!publisher.session->closeCode);

    // Nothing reached history either.
    HistoryResult history;
    h.hub.history("news", {}, [&](HistoryResult r) { history = std::move(r); });
    QVERIFY(history.publications.empty());
}

void TestJsonNumbers::exactPublish_data()
{
    QTest::addColumn<QByteArray>("data");
    QTest::addColumn<QByteArray>("delivered");
    QTest::newRow("uint64 max") << QByteArray(R"({"v":18446744073709551615})")
                                << QByteArray(R"({"v":18446744073709551615})");
    QTest::newRow("int64 min") << QByteArray("[-9223372036854775808]") << QByteArray("[-9223372036854775808]");
    QTest::newRow("17 digits") << QByteArray(R"({"t":474.59380568556355})")
                               << QByteArray(R"({"t":4.7459380568556355E2})");
    QTest::newRow("largest double") << QByteArray("1.7976931348623157e308") << QByteArray("1.7976931348623157E308");
}

void TestJsonNumbers::exactPublish()
{
    QFETCH(QByteArray, data);
    QFETCH(QByteArray, delivered);
    ServerProtocolOptions options;
    options.clientPublish = ClientPublishPolicy::Always;
    Harness h(options);
    Client subscriber = h.connect();
    QVERIFY(h.subscribe(subscriber, "news"));
    Client publisher = h.connect();

    h.send(publisher, publishFrame(data.toStdString()));

    QVERIFY(allFramesAreJson(*subscriber.session));
    QCOMPARE(subscriber.session->frames.size(), std::size_t(1));
    const std::string &bytes = subscriber.session->frames[0]->bytes;
    QVERIFY2(bytes.find("\"data\":" + delivered.toStdString() + ",") != std::string::npos, bytes.c_str());
    QCOMPARE(h.protocol.counters().numbersOutOfRange, std::uint64_t(0));
}

void TestJsonNumbers::refusedChannelData()
{
    Harness h;
    h.hub.setAuthorizer([](const AuthRequest &) { return AuthDecision{true, {}, {}}; });
    Client a = h.connect();
    // Object form and Pusher's string form: neither may put 1e400 into a roster.
    h.send(a, R"({"op":"subscribe","channel":"presence-room","ackId":"s1","channelData":{"user_id":"u","user_info":{"n":1e400}}})");
    h.send(a, R"({"op":"subscribe","channel":"presence-room","ackId":"s2","channelData":"{\"user_id\":\"u\",\"user_info\":{\"n\":1e400}}"})");
    const auto answers = a.session->take();
    QCOMPARE(answers.size(), std::size_t(2));
    for (const auto &answer : answers) {
        QCOMPARE(op(answer), std::string("error"));
        QCOMPARE(num(answer, "code"), 400);
        QVERIFY2(str(answer, "message").find("number out of range") != std::string::npos, str(answer, "message").c_str());
    }
    QCOMPARE(h.protocol.counters().numbersOutOfRange, std::uint64_t(2));
}

void TestJsonNumbers::refusedRequestPayloadAndReply()
{
    Harness h;
    int handled = 0;
    h.protocol.setRequestHandler("app::big", [&](const RequestContext &, std::shared_ptr<Responder> responder) {
        ++handled;
        responder->reply(R"({"n":1e400})"); // JSON text, but not one a client can take unchanged
    });
    Client a = h.connect();
    h.send(a, R"({"op":"request","topic":"app::big","payload":{"n":1e400},"ackId":"r1"})");
    QCOMPARE(handled, 0);
    h.send(a, R"({"op":"request","topic":"app::big","payload":{"n":1},"ackId":"r2"})");
    QCOMPARE(handled, 1);
    QVERIFY(allFramesAreJson(*a.session));
    const auto frames = a.session->take();
    QCOMPARE(frames.size(), std::size_t(3)); // error for r1; ack and error reply for r2
    QCOMPARE(op(frames[0]), std::string("error"));
    QCOMPARE(str(frames[0], "ackId"), std::string("r1"));
    QCOMPARE(op(frames[2]), std::string("reply"));
    QCOMPARE(str(frames[2], "topic"), std::string("error"));
    QCOMPARE(frames[2].at("payload").at("message").as_string(), "handler replied with invalid JSON");
}

void TestJsonNumbers::snapshotWithInvalidDataRefused()
{
    // What an earlier version wrote for {"v":1e400}: the data text holds `Infinity`.
    const std::string snapshot =
        R"({"format":"switchboard-history-snapshot","version":1,"savedAtMs":1700000000000,"streams":[)"
        R"({"channel":"news","epoch":"e1","top":1,"lastActiveMs":1700000000000,"publications":[)"
        R"({"offset":1,"event":"e","data":"{\"v\":Infinity}","timestampMs":1700000000000,"storedAtMs":1700000000000}]}]})";
    ManualTimer timer;
    MemoryBroker broker(timer);
    std::istringstream in(snapshot);
    std::error_code error;
    broker.loadSnapshot(in, error);
    QCOMPARE(error, make_error_code(SnapshotError::Malformed));

    // The same snapshot with valid data loads: the refusal is about the data alone.
    std::string fixed = snapshot;
    fixed.replace(fixed.find("Infinity"), 8, "1");
    std::istringstream good(fixed);
    broker.loadSnapshot(good, error);
    QVERIFY2(!error, error.message().c_str());
}

QTEST_GUILESS_MAIN(TestJsonNumbers)
#include "tst_jsonnumbers.moc"
