// Bad client input: every malformed frame gets its documented error frame or close code, is
// counted, and never crashes the server.
#include "ProtocolHarness.h"

#include <QtTest>

#include <cstdint>
#include <random>
#include <string>

using namespace switchboard;
using namespace switchboard::testing;
namespace json = boost::json;

namespace {

std::uint64_t counterNamed(const ProtocolCounters &counters, const QByteArray &name)
{
    if (name == "protocolErrors") return counters.protocolErrors;
    if (name == "oversizeFrames") return counters.oversizeFrames;
    if (name == "invalidUtf8") return counters.invalidUtf8;
    if (name == "rateLimited") return counters.rateLimited;
    if (name == "authFailures") return counters.authFailures;
    qFatal("unknown counter %s", name.constData());
    return 0;
}

QByteArray nested(int depth)
{
    QByteArray out = R"({"op":"publish","channel":"news","event":"e","data":)";
    out += QByteArray(depth, '[');
    out += QByteArray(depth, ']');
    out += "}";
    return out;
}

} // namespace

class TestMalformedFrames : public QObject
{
    Q_OBJECT

private slots:
    void answered_data();
    void answered();
    void frameSizeBoundary();
    void validUtf8Accepted();
    void quotedTextShownInPart();
    void flood();
    void rateViolationsAreForgotten();
    void malformedThenClose();
    void framesAfterCloseIgnored();
    void randomInputNeverCrashes();
};

void TestMalformedFrames::answered_data()
{
    QTest::addColumn<QByteArray>("frame");
    QTest::addColumn<bool>("binary");
    QTest::addColumn<bool>("connected");       // send after the handshake
    QTest::addColumn<int>("expectedError");    // error frame code, or 0
    QTest::addColumn<int>("expectedClose");    // close code, or 0
    QTest::addColumn<QByteArray>("ackId");     // echoed ackId, empty: none expected
    QTest::addColumn<QByteArray>("counter");   // counter that must read 1

    const QByteArray errors = "protocolErrors";
    auto row = [&](const char *name, QByteArray frame, int error, QByteArray ackId = {}, bool connected = true) {
        QTest::newRow(name) << frame << false << connected << error << 0 << ackId << errors;
    };
    auto closes = [&](const char *name, QByteArray frame, int code, QByteArray counter, bool binary = false) {
        QTest::newRow(name) << frame << binary << true << 0 << code << QByteArray() << counter;
    };

    // Not a JSON object.
    row("not JSON", "hello", 400);
    row("truncated JSON", R"({"op":"ping")", 400);
    row("trailing garbage", R"({"op":"ping"} x)", 400);
    row("JSON array", "[1,2]", 400);
    row("JSON string", R"("ping")", 400);
    row("JSON number", "42", 400);
    row("empty frame", "", 400);
    row("NUL outside strings", QByteArray("{\"op\":\"ping\"}\0", 14), 400);
    row("raw control char in string", "{\"op\":\"pi\x01ng\"}", 400);

    // op and ackId.
    row("missing op", R"({"channel":"a","ackId":"m"})", 400, "m");
    row("op not a string", R"({"op":5,"ackId":"o"})", 400, "o");
    row("op null", R"({"op":null})", 400);
    row("unknown op", R"({"op":"dance","ackId":"u"})", 405, "u");
    row("op wrong case", R"({"op":"PING"})", 405);
    // The message quotes the op's first 64 bytes, never half a character (the frame stays UTF-8).
    row("unknown op cut inside a character", "{\"op\":\"" + QByteArray(63, 'o') + "\xc3\xa9p\"}", 405);
    row("ackId object", R"({"op":"ping","ackId":{}})", 400);
    row("ackId negative", R"({"op":"ping","ackId":-1})", 400);
    row("ackId empty", R"({"op":"ping","ackId":""})", 400);
    row("ackId fraction", R"({"op":"ping","ackId":1.5})", 400);

    // connect.
    row("connect twice", R"({"op":"connect","version":1})", 400);
    row("connect without version", R"({"op":"connect"})", 400, {}, false);
    row("connect version string", R"({"op":"connect","version":"1"})", 400, {}, false);
    row("connect token number", R"({"op":"connect","version":1,"token":5})", 400, {}, false);
    row("ping before connect", R"({"op":"ping","ackId":"early"})", 400, "early", false);

    // subscribe / unsubscribe.
    row("subscribe without channel", R"({"op":"subscribe","ackId":"s"})", 400, "s");
    row("subscribe channel not a string", R"({"op":"subscribe","channel":7})", 400);
    row("subscribe empty channel", R"({"op":"subscribe","channel":""})", 400);
    row("bad channel name", R"({"op":"subscribe","channel":"a//b","ackId":"b"})", 422, "b");
    row("wildcard channel", R"({"op":"subscribe","channel":"news/*"})", 422);
    row("channel with space", R"({"op":"subscribe","channel":"my news"})", 422);
    row("auth not a string", R"({"op":"subscribe","channel":"news","auth":{}})", 400);
    row("server-only op", R"({"op":"presence","channel":"x"})", 405);
    row("channelData not object", R"({"op":"subscribe","channel":"presence-x","channelData":3})", 400);
    row("channelData string not JSON", R"({"op":"subscribe","channel":"presence-x","channelData":"{oops"})", 400);
    row("channelData string array", R"({"op":"subscribe","channel":"presence-x","channelData":"[1]"})", 400);
    row("recover not object", R"({"op":"subscribe","channel":"news","recover":5})", 400);
    row("recover without epoch", R"({"op":"subscribe","channel":"news","recover":{"offset":1}})", 400);
    row("filter not a condition", R"({"op":"subscribe","channel":"news","filter":"severity","ackId":"f"})", 400, "f");
    row("filter empty field", R"({"op":"subscribe","channel":"news","filter":["=x"]})", 400);
    row("filter quoted up to a character", "{\"op\":\"subscribe\",\"channel\":\"news\",\"filter\":[\""
                                               + QByteArray(63, 'f') + "\xe2\x98\x83" "f\"]}", 400);
    row("filter wrong type", R"({"op":"subscribe","channel":"news","filter":7})", 400);
    row("filter empty object", R"({"op":"subscribe","channel":"news","filter":{}})", 400);
    row("filter empty segment", R"({"op":"subscribe","channel":"news","filter":{"a..b":"x"}})", 400);
    row("recover negative offset", R"({"op":"subscribe","channel":"news","recover":{"offset":-1,"epoch":"e"}})", 400);
    row("unsubscribe without channel", R"({"op":"unsubscribe","ackId":"x"})", 400, "x");
    row("unsubscribe bad channel name", R"({"op":"unsubscribe","channel":"a//b","ackId":"x"})", 422, "x");

    // publish.
    row("publish without event", R"({"op":"publish","channel":"news","data":1})", 400);
    row("publish without data", R"({"op":"publish","channel":"news","event":"e","ackId":"d"})", 400, "d");
    row("publish bad event name", R"({"op":"publish","channel":"news","event":"a..b","data":1})", 422);
    row("publish skipSelf not bool", R"({"op":"publish","channel":"news","event":"e","data":1,"skipSelf":"yes"})", 400);
    row("publish compress not bool", R"({"op":"publish","channel":"news","event":"e","data":1,"compress":1})", 400);
    row("publish to unsubscribed channel", R"({"op":"publish","channel":"news","event":"e","data":1,"ackId":"p"})", 403, "p");

    // request.
    row("request without topic nor ackId", R"({"op":"request","payload":{}})", 400);
    row("request without topic", R"({"op":"request","payload":{},"ackId":"r"})", 400, "r");
    row("request topic not a string", R"({"op":"request","topic":[],"ackId":"r"})", 400, "r");

    // Depth and size.
    row("too deep", nested(40), 413);
    row("too deep channelData string",
        R"({"op":"subscribe","channel":"presence-x","channelData":")" + QByteArray(40, '[') + R"("})", 413);
    QTest::newRow("binary frame") << QByteArray("\x01\x00\x01" "a", 4) << true << true << 400 << 0 << QByteArray() << errors;
    closes("huge frame", R"({"op":"ping","pad":")" + QByteArray(64 * 1024, 'x') + R"("})", 1009, "oversizeFrames");
    closes("huge binary frame", QByteArray(64 * 1024 + 1, '\x01'), 1009, "oversizeFrames", true);

    // Invalid UTF-8 (close 1007, never an error frame).
    closes("lone continuation byte", "{\"op\":\"ping\",\"x\":\"\x80\"}", 1007, "invalidUtf8");
    closes("overlong slash", "{\"op\":\"ping\",\"x\":\"\xc0\xaf\"}", 1007, "invalidUtf8");
    closes("overlong three bytes", "{\"op\":\"ping\",\"x\":\"\xe0\x80\xaf\"}", 1007, "invalidUtf8");
    closes("UTF-16 surrogate", "{\"op\":\"ping\",\"x\":\"\xed\xa0\x80\"}", 1007, "invalidUtf8");
    closes("beyond U+10FFFF", "{\"op\":\"ping\",\"x\":\"\xf4\x90\x80\x80\"}", 1007, "invalidUtf8");
    closes("byte 0xFF", "{\"op\":\"ping\",\"x\":\"\xff\"}", 1007, "invalidUtf8");
    closes("truncated at end", "{\"op\":\"ping\"}\xe2\x82", 1007, "invalidUtf8");
    closes("invalid in publish data",
           "{\"op\":\"publish\",\"channel\":\"news\",\"event\":\"e\",\"data\":\"caf\xc3\"}", 1007, "invalidUtf8");
}

void TestMalformedFrames::answered()
{
    QFETCH(QByteArray, frame);
    QFETCH(bool, binary);
    QFETCH(bool, connected);
    QFETCH(int, expectedError);
    QFETCH(int, expectedClose);
    QFETCH(QByteArray, ackId);
    QFETCH(QByteArray, counter);

    Harness h;
    Client c = connected ? h.connect() : h.open();
    const std::string_view bytes(frame.constData(), std::size_t(frame.size()));
    h.protocol.receive(c.handle, bytes, binary);

    const auto frames = c.session->take();
    QCOMPARE(frames.size(), std::size_t(1));
    QCOMPARE(counterNamed(h.protocol.counters(), counter), std::uint64_t(1));
    QCOMPARE(h.protocol.counters().framesIn, std::uint64_t(connected ? 2 : 1));
    const auto &answer = frames[0];
    if (expectedError) {
        QCOMPARE(op(answer), std::string("error"));
        QCOMPARE(num(answer, "code"), std::int64_t(expectedError));
        QCOMPARE(str(answer, "name"), std::string(errorName(static_cast<Error>(expectedError))));
        QVERIFY(!str(answer, "message").empty());
        if (ackId.isEmpty())
            QVERIFY(!answer.contains("ackId"));
        else
            QCOMPARE(str(answer, "ackId"), ackId.toStdString());
        QVERIFY(!c.session->closeCode);
        // The connection still works.
        h.send(c, R"({"op":"ping"})");
        const auto after = c.session->take();
        QCOMPARE(after.size(), std::size_t(1));
        QCOMPARE(op(after[0]), std::string(connected ? "pong" : "error"));
    } else {
        QCOMPARE(op(answer), std::string("disconnect"));
        QCOMPARE(num(answer, "code"), std::int64_t(expectedClose));
        QCOMPARE(answer.at("reconnect").as_bool(), false);
        QCOMPARE(c.session->closeCode, std::optional<std::uint16_t>(std::uint16_t(expectedClose)));
        QCOMPARE(h.hub.counters().sessions, std::size_t(0));
    }
}

void TestMalformedFrames::frameSizeBoundary()
{
    ServerProtocolOptions options;
    options.limits.maxFrameBytes = 100;
    Harness h(options);
    Client c = h.connect();
    std::string frame = R"({"op":"ping","pad":")";
    frame += std::string(100 - frame.size() - 2, 'x');
    frame += "\"}";
    QCOMPARE(frame.size(), std::size_t(100));
    h.send(c, frame);
    QCOMPARE(op(c.session->take().at(0)), std::string("pong"));
    frame.insert(frame.size() - 2, "x");
    h.send(c, frame);
    QCOMPARE(c.session->closeCode, std::optional<std::uint16_t>(1009));
    QCOMPARE(h.protocol.counters().oversizeFrames, std::uint64_t(1));
}

void TestMalformedFrames::validUtf8Accepted()
{
    ServerProtocolOptions options;
    options.clientPublish = ClientPublishPolicy::Always;
    Harness h(options);
    Client c = h.connect();
    // Two, three and four byte sequences, and the largest code point, in keys and values.
    h.send(c, "{\"op\":\"publish\",\"channel\":\"news\",\"event\":\"e\",\"ackId\":\"u\","
              "\"data\":{\"caf\xc3\xa9\":\"\xe2\x98\x83 \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf \xef\xbf\xbd\"}}");
    const auto frames = c.session->take();
    QCOMPARE(frames.size(), std::size_t(1));
    QCOMPARE(op(frames[0]), std::string("ack"));
    QCOMPARE(h.protocol.counters().invalidUtf8, std::uint64_t(0));
}

// An error message quotes at most 64 bytes of what the client sent, never half a character, and
// says with "..." that it left some out.
void TestMalformedFrames::quotedTextShownInPart()
{
    Harness h;
    Client c = h.connect();
    const std::string ops(63, 'o');
    h.send(c, "{\"op\":\"" + ops + "\xc3\xa9p\"}");
    h.send(c, "{\"op\":\"" + ops + "\"}");
    const auto frames = c.session->take();
    QCOMPARE(frames.size(), std::size_t(2));
    QCOMPARE(str(frames[0].at("message")), "unknown op '" + ops + "...'");
    QCOMPARE(str(frames[1].at("message")), "unknown op '" + ops + "'");
}

void TestMalformedFrames::flood()
{
    ServerProtocolOptions options;
    options.limits.opsPerSecond = 10;
    options.limits.opsBurst = 5;
    options.limits.rateViolationsBeforeClose = 3;
    Harness h(options);
    Client c = h.connect(); // the connect frame takes one token
    for (int i = 0; i < 4; ++i)
        h.send(c, R"({"op":"ping"})");
    auto frames = c.session->take();
    QCOMPARE(frames.size(), std::size_t(4));
    for (const auto &frame : frames)
        QCOMPARE(op(frame), std::string("pong"));

    h.send(c, R"({"op":"ping","ackId":"over-1"})");
    h.send(c, R"({"op":"publish","channel":"news","event":"e","data":1,"ackId":"over-2"})");
    frames = c.session->take();
    QCOMPARE(frames.size(), std::size_t(2));
    QCOMPARE(num(frames[0], "code"), std::int64_t(429));
    QCOMPARE(str(frames[0], "ackId"), std::string("over-1"));
    QCOMPARE(num(frames[1], "code"), std::int64_t(429));
    QCOMPARE(str(frames[1], "ackId"), std::string("over-2"));
    QVERIFY(!c.session->closeCode);
    QCOMPARE(h.protocol.counters().rateLimited, std::uint64_t(2));

    // The bucket refills at the configured rate: one op per 100 ms.
    h.timer.advance(std::chrono::milliseconds(100));
    h.send(c, R"({"op":"ping"})");
    QCOMPARE(op(c.session->take().at(0)), std::string("pong"));

    // Third violation: the error, then disconnect 3005.
    h.send(c, R"({"op":"ping"})");
    frames = c.session->take();
    QCOMPARE(frames.size(), std::size_t(2));
    QCOMPARE(num(frames[0], "code"), std::int64_t(429));
    QCOMPARE(op(frames[1]), std::string("disconnect"));
    QCOMPARE(num(frames[1], "code"), std::int64_t(3005));
    QCOMPARE(frames[1].at("reconnect").as_bool(), true);
    QCOMPARE(c.session->closeCode, std::optional<std::uint16_t>(3005));
    QCOMPARE(h.protocol.counters().rateLimited, std::uint64_t(3));
    QCOMPARE(h.protocol.counters().floodDisconnects, std::uint64_t(1));
    QCOMPARE(h.protocol.counters().protocolErrors, std::uint64_t(3));
}

void TestMalformedFrames::rateViolationsAreForgotten()
{
    ServerProtocolOptions options;
    options.limits.opsPerSecond = 1;
    options.limits.opsBurst = 1;
    options.limits.rateViolationsBeforeClose = 3;
    Harness h(options);
    Client c = h.connect();
    for (int round = 0; round < 3; ++round) {
        h.send(c, R"({"op":"ping"})"); // no token left: violation
        h.send(c, R"({"op":"ping"})"); // violation
        h.timer.advance(std::chrono::seconds(11));
    }
    QVERIFY(!c.session->closeCode);
    // Round 1: two violations. Rounds 2 and 3: the refilled token passes one ping, the second is a
    // violation. Counted together they would have reached the limit of 3; the quiet gaps reset it.
    QCOMPARE(h.protocol.counters().rateLimited, std::uint64_t(4));
}

void TestMalformedFrames::malformedThenClose()
{
    ServerProtocolOptions options;
    options.limits.malformedBeforeClose = 3;
    Harness h(options);
    Client c = h.connect();
    h.send(c, "garbage");
    h.send(c, R"({"op":"nope"})");
    QVERIFY(!c.session->closeCode);
    h.send(c, "[]");
    const auto frames = c.session->take();
    QCOMPARE(frames.size(), std::size_t(4));
    QCOMPARE(num(frames[0], "code"), std::int64_t(400));
    QCOMPARE(num(frames[1], "code"), std::int64_t(405));
    QCOMPARE(num(frames[2], "code"), std::int64_t(400));
    QCOMPARE(op(frames[3]), std::string("disconnect"));
    QCOMPARE(num(frames[3], "code"), std::int64_t(3500));
    QCOMPARE(frames[3].at("reconnect").as_bool(), false);
    QCOMPARE(c.session->closeCode, std::optional<std::uint16_t>(3500));
    QCOMPARE(h.protocol.counters().protocolErrors, std::uint64_t(3));
    QCOMPARE(h.protocol.counters().malformedDisconnects, std::uint64_t(1));
}

void TestMalformedFrames::framesAfterCloseIgnored()
{
    Harness h;
    Client c = h.connect();
    h.send(c, "{\"op\":\"ping\",\"x\":\"\xff\"}");
    QCOMPARE(c.session->closeCode, std::optional<std::uint16_t>(1007));
    c.session->take();
    h.send(c, R"({"op":"ping"})");
    h.send(c, "garbage");
    QVERIFY(c.session->frames.empty());
    QCOMPARE(c.session->closeCalls, 1);
    QCOMPARE(h.protocol.counters().protocolErrors, std::uint64_t(0));
    h.protocol.closed(c.handle);
}

void TestMalformedFrames::randomInputNeverCrashes()
{
    ServerProtocolOptions options;
    options.limits.opsPerSecond = 0;        // unlimited
    options.limits.malformedBeforeClose = 0; // never close for malformed frames
    options.limits.maxFrameBytes = 512;
    options.clientPublish = ClientPublishPolicy::Always;
    Harness h(options);
    h.hub.setAuthorizer([](const AuthRequest &) { return AuthDecision{true, {}, {}}; });
    const std::string seeds[] = {
        R"({"op":"subscribe","channel":"presence-r","channelData":{"user_id":"u"},"recover":{"offset":1,"epoch":"e"},"ackId":"a"})",
        R"({"op":"publish","channel":"news","event":"e","data":{"k":[1,"\u00e9"]},"ackId":3,"skipSelf":true})",
        R"({"op":"request","topic":"app::x","payload":[null],"ackId":"r"})",
        R"({"op":"unsubscribe","channel":"presence-r"})",
        R"({"op":"ping","ackId":"p"})",
    };
    std::mt19937 random(20260101);
    Client c = h.connect();
    int closes = 0;
    for (int i = 0; i < 5000; ++i) {
        std::string frame = seeds[random() % std::size(seeds)];
        const int mutations = 1 + int(random() % 4);
        for (int m = 0; m < mutations; ++m) {
            const std::size_t at = random() % (frame.size() + 1);
            switch (random() % 3) {
            case 0: if (at < frame.size()) frame.erase(at, 1); break;
            case 1: frame.insert(at, 1, char(random() % 256)); break;
            default: if (at < frame.size()) frame[at] = char(random() % 256); break;
            }
        }
        h.protocol.receive(c.handle, frame, random() % 50 == 0);
        for (const SharedFrame &out : c.session->frames) {
            if (out->kind != Frame::Kind::Text)
                continue;
            json::error_code ec;
            json::parse(out->bytes, ec);
            QVERIFY2(!ec, out->bytes.c_str());
        }
        c.session->frames.clear();
        if (c.session->closeCode) {
            ++closes;
            h.protocol.closed(c.handle);
            c = h.connect();
        }
    }
    // Invalid UTF-8 from the random bytes must have closed some connections, and every one was
    // counted.
    QVERIFY(closes > 0);
    QCOMPARE(std::uint64_t(closes), h.protocol.counters().invalidUtf8 + h.protocol.counters().oversizeFrames);
    QVERIFY(h.protocol.counters().protocolErrors > 0);
}

QTEST_APPLESS_MAIN(TestMalformedFrames)
#include "tst_malformedframes.moc"
