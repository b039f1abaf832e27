// The binary encoding (switchboard.v1.binary): every frame of protocol v1 decodes to the value its
// JSON text parses to, a delivery is small, and malformed bytes are refused without a crash.
#include "switchboard/BinaryEncoding.h"
#include "switchboard/JsonParse.h"
#include "switchboard/MessageEncoding.h"

#include <boost/json/serialize.hpp>

#include <QtTest>

#include <string>

using namespace switchboard;
namespace json = boost::json;

namespace {

json::value parsed(std::string_view text)
{
    json::value value;
    if (const auto problem = parseJson(text, value, JsonParseOptions{128}))
        qFatal("test input is not JSON: %s", problem->message.c_str());
    return value;
}

std::optional<JsonProblem> decode(std::string_view bytes, json::value &out, std::size_t depth = 128)
{
    return decodeBinaryProtocolFrame(bytes, out, depth);
}

QByteArray text(const json::value &value)
{
    return QByteArray::fromStdString(json::serialize(value));
}

std::string sixtyFourChars()
{
    return std::string(64, 'x');
}

Publication publication(std::string data, std::string sender = {}, std::string replyTo = {})
{
    Publication p;
    p.channel = "bench";
    p.event = "bench";
    p.data = std::move(data);
    p.offset = 1234567;
    p.timestampMs = 1764979200123;
    p.sender = std::move(sender);
    p.replyTo = std::move(replyTo);
    return p;
}

} // namespace

class TestBinaryEncoding : public QObject
{
    Q_OBJECT

private slots:
    void serverFramesRoundTrip_data();
    void serverFramesRoundTrip();
    void messageFramesUseTheirLayout_data();
    void messageFramesUseTheirLayout();
    void clientFramesRoundTrip_data();
    void clientFramesRoundTrip();
    void deliverySize();
    void documentedExample();
    void sharedOncePerFrame();
    void everyTruncationRefused();
    void malformedRefused_data();
    void malformedRefused();
    void depthLimited();
    void negotiation_data();
    void negotiation();
};

void TestBinaryEncoding::serverFramesRoundTrip_data()
{
    QTest::addColumn<QByteArray>("frame");
    QTest::newRow("welcome") << QByteArray(R"({"op":"welcome","session":"0123456789abcdef0123456789abcdef","version":1,"ping":25000,"user":"ann"})");
    QTest::newRow("subscribed with publications")
        << QByteArray(R"({"op":"subscribed","channel":"sensors/room-1","ackId":"s4","type":"public","epoch":"f3a9c2d1","offset":43,"recovered":true,"publications":[{"channel":"sensors/room-1","event":"reading","data":{"t":21.5},"offset":42,"ts":1700000000123},{"channel":"sensors/room-1","event":"reading","data":{"t":-21.625,"big":18446744073709551615,"neg":-9223372036854775808},"offset":43,"ts":1700000001123,"sender":"k3Zq9vB0XQ2mN7aP"}]})");
    QTest::newRow("presence roster")
        << QByteArray(R"({"op":"presence","event":"presence:subscription_succeeded","channel":"presence-lobby","members":[{"id":"ann","info":{"name":"Ann"}},{"id":"bo","info":null}]})");
    QTest::newRow("error") << QByteArray(R"({"op":"error","code":403,"name":"forbidden","message":"publish requires a subscription","ackId":"p1","channel":"news"})");
    QTest::newRow("ack with a number ackId") << QByteArray(R"({"op":"ack","ackId":12345,"offset":17})");
    QTest::newRow("reply") << QByteArray(R"({"op":"reply","topic":"error","payload":{"message":"no handler","status":404,"trace":""},"ackId":"12346"})");
    QTest::newRow("disconnect") << QByteArray(R"({"op":"disconnect","code":3005,"reason":"flood","reconnect":true})");
    QTest::newRow("unknown op and members") << QByteArray(R"({"op":"later","émoji":"☃","list":[[],{},[1,2.5e-300,false]]})");
}

void TestBinaryEncoding::serverFramesRoundTrip()
{
    QFETCH(QByteArray, frame);
    const std::optional<std::string> binary = translateToBinary(frame.toStdString());
    QVERIFY(binary);
    QVERIFY(isBinaryProtocolFrame(*binary));
    QVERIFY2(binary->size() < static_cast<std::size_t>(frame.size()), "the binary form is smaller");
    json::value decoded;
    const auto problem = decode(*binary, decoded);
    QVERIFY2(!problem, problem ? problem->message.c_str() : "");
    QCOMPARE(text(decoded), text(parsed(frame.toStdString())));
}

void TestBinaryEncoding::messageFramesUseTheirLayout_data()
{
    QTest::addColumn<QByteArray>("data");
    QTest::addColumn<QByteArray>("sender");
    QTest::addColumn<QByteArray>("replyTo");
    QTest::newRow("string, no sender") << QByteArray(R"("hello")") << QByteArray() << QByteArray();
    QTest::newRow("string with an escape") << QByteArray(R"("say \"hi\"\n")") << QByteArray() << QByteArray();
    QTest::newRow("object, hex sender") << QByteArray(R"({"t":21.5,"ok":[true,null]})")
                                        << QByteArray("00ff10ab00ff10ab00ff10ab00ff10ab") << QByteArray();
    QTest::newRow("number, other sender, replyTo") << QByteArray("42") << QByteArray("123.456")
                                                   << QByteArray("r.9f8e7d6c5b4a");
    QTest::newRow("empty string") << QByteArray(R"("")") << QByteArray() << QByteArray();
    QTest::newRow("null (empty data)") << QByteArray() << QByteArray() << QByteArray();
    QTest::newRow("unicode string") << QByteArray(R"("Grüße ☃")") << QByteArray("ABCDEF0123456789ABCDEF0123456789")
                                    << QByteArray();
}

void TestBinaryEncoding::messageFramesUseTheirLayout()
{
    QFETCH(QByteArray, data);
    QFETCH(QByteArray, sender);
    QFETCH(QByteArray, replyTo);
    const SharedFrame frame =
        encodeMessageFrame(publication(data.toStdString(), sender.toStdString(), replyTo.toStdString()));
    const std::optional<std::string> binary = translateToBinary(frame->bytes);
    QVERIFY(binary);
    QCOMPARE(static_cast<unsigned char>(binary->front()) & 0xF0, 0x10); // the message layout
    json::value decoded;
    const auto problem = decode(*binary, decoded);
    QVERIFY2(!problem, problem ? problem->message.c_str() : "");
    QCOMPARE(text(decoded), text(parsed(frame->bytes)));
}

void TestBinaryEncoding::clientFramesRoundTrip_data()
{
    QTest::addColumn<QByteArray>("frame");
    QTest::newRow("connect") << QByteArray(R"({"op":"connect","version":1,"token":"eyJhbGciOi.x.y","name":"panel"})");
    QTest::newRow("subscribe with recover") << QByteArray(R"({"op":"subscribe","channel":"chat/general","ackId":"s1","recover":{"offset":17,"epoch":"f3a9"}})");
    QTest::newRow("publish") << QByteArray(R"({"op":"publish","channel":"chat","event":"say","data":{"text":"hi","n":-3,"x":0.1},"ackId":7,"skipSelf":true})");
    QTest::newRow("presence join") << QByteArray(R"({"op":"subscribe","channel":"presence-lobby","auth":"k:sig","channelData":"{\"user_id\":\"ann\"}"})");
}

void TestBinaryEncoding::clientFramesRoundTrip()
{
    QFETCH(QByteArray, frame);
    const json::value original = parsed(frame.toStdString());
    const std::string binary = encodeBinaryObject(original.get_object());
    QVERIFY(isBinaryProtocolFrame(binary));
    json::value decoded;
    const auto problem = decode(binary, decoded);
    QVERIFY2(!problem, problem ? problem->message.c_str() : "");
    QCOMPARE(text(decoded), text(original));
}

void TestBinaryEncoding::deliverySize()
{
    // A 64-character string published by the server: 2 bytes of WebSocket header around at most
    // 98 bytes of message.
    const SharedFrame server = encodeMessageFrame(publication("\"" + sixtyFourChars() + "\""));
    const SharedFrame &binary = binaryFormOf(server);
    qInfo("64-byte delivery: JSON %zu bytes, binary %zu bytes (no sender)", server->bytes.size(), binary->bytes.size());
    QVERIFY(binary->bytes.size() <= 98);
    // From a client: its session id (32 hex digits) travels as 16 bytes.
    const SharedFrame fromClient =
        encodeMessageFrame(publication("\"" + sixtyFourChars() + "\"", "0123456789abcdef0123456789abcdef"));
    const SharedFrame &binaryFromClient = binaryFormOf(fromClient);
    qInfo("64-byte delivery: JSON %zu bytes, binary %zu bytes (session sender)", fromClient->bytes.size(),
          binaryFromClient->bytes.size());
    QCOMPARE(binaryFromClient->bytes.size(), binary->bytes.size() + 16);
}

void TestBinaryEncoding::documentedExample()
{
    // docs/protocol.md, "Binary encoding".
    Publication p;
    p.channel = "bench";
    p.event = "bench";
    p.data = R"("hi")";
    p.offset = 7;
    p.timestampMs = 1700000000123;
    const SharedFrame frame = encodeMessageFrame(p);
    QCOMPARE(frame->bytes.size(), std::size_t(92));
    QCOMPARE(QByteArray::fromStdString(*translateToBinary(frame->bytes)).toHex(' ').toUpper(),
             QByteArray("18 05 62 65 6E 63 68 05 62 65 6E 63 68 07 F6 A1 AB FE F9 62 68 69"));
}

void TestBinaryEncoding::sharedOncePerFrame()
{
    const SharedFrame frame = encodeMessageFrame(publication(R"({"a":1})"));
    const SharedFrame &first = binaryFormOf(frame);
    const SharedFrame &second = binaryFormOf(frame);
    QCOMPARE(first.get(), second.get());
    QVERIFY(first.get() != frame.get());
    QCOMPARE(first->kind, Frame::Kind::Binary);

    const SharedFrame broadcast = encodeBinaryFrame("bench", "e", "raw bytes");
    QCOMPARE(binaryFormOf(broadcast).get(), broadcast.get());
    QVERIFY(!isBinaryProtocolFrame(broadcast->bytes));

    const SharedFrame notAnObject = makeTextFrame("[1,2]");
    QCOMPARE(binaryFormOf(notAnObject).get(), notAnObject.get()); // stays valid JSON text
}

void TestBinaryEncoding::everyTruncationRefused()
{
    const std::string frames[] = {
        *translateToBinary(encodeMessageFrame(publication(R"({"t":[1,2,{"x":"y"}]})", "0123456789abcdef0123456789abcdef", "r.1"))->bytes),
        *translateToBinary(R"({"op":"subscribed","channel":"c","offset":43,"publications":[{"data":{"t":21.5},"offset":42}],"x":1.5})"),
    };
    for (const std::string &full : frames) {
        for (std::size_t length = 0; length < full.size(); ++length) {
            json::value out;
            const auto problem = decode(std::string_view(full).substr(0, length), out);
            // A message's payload runs to the end: a cut one may still be valid JSON (a number),
            // never a crash; a value frame cut anywhere is refused.
            if (static_cast<unsigned char>(full.front()) == 0x02)
                QVERIFY2(problem, qPrintable(QStringLiteral("accepted a frame cut to %1 bytes").arg(length)));
            if (problem)
                QVERIFY(out.is_null());
        }
    }
}

void TestBinaryEncoding::malformedRefused_data()
{
    QTest::addColumn<QByteArray>("bytes");
    QTest::addColumn<int>("kind");
    const int syntax = static_cast<int>(JsonProblem::Kind::Syntax);
    QTest::newRow("empty") << QByteArray() << syntax;
    QTest::newRow("broadcast tag") << QByteArray("\x01\x00\x01" "c", 4) << syntax;
    QTest::newRow("unknown tag") << QByteArray("\x05\x00", 2) << syntax;
    QTest::newRow("trailing bytes") << QByteArray("\x02\x00\x00", 3) << syntax;
    QTest::newRow("unknown type") << QByteArray("\x02\x0b", 2) << syntax;
    QTest::newRow("unknown word") << QByteArray("\x02\x07\xff", 3) << syntax;
    QTest::newRow("word zero") << QByteArray("\x02\x07\x00", 3) << syntax;
    QTest::newRow("unknown key word") << QByteArray("\x02\x09\x01\xf0\x00", 5) << syntax;
    QTest::newRow("invalid UTF-8 string") << QByteArray("\x02\x06\x02\xc3\x28", 5) << syntax;
    QTest::newRow("invalid UTF-8 key") << QByteArray("\x02\x09\x01\x00\x01\xff\x00", 7) << syntax;
    QTest::newRow("count beyond the bytes") << QByteArray("\x02\x08\xff\xff\xff\xff\x0f\x00", 8) << syntax;
    QTest::newRow("varint too long") << QByteArray("\x02\x03\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 13) << syntax;
    QTest::newRow("length beyond the bytes") << QByteArray("\x02\x06\xff\xff\xff\xff\xff\xff\xff\xff\x7f" "ab", 13) << syntax;
    QTest::newRow("NaN") << QByteArray("\x02\x09\x01\x04\x05\x00\x00\x00\x00\x00\x00\xf8\x7f", 13)
                         << static_cast<int>(JsonProblem::Kind::NumberOutOfRange);
    QTest::newRow("infinity") << QByteArray("\x02\x09\x01\x04\x05\x00\x00\x00\x00\x00\x00\xf0\x7f", 13)
                              << static_cast<int>(JsonProblem::Kind::NumberOutOfRange);
    QTest::newRow("bad JSON text") << QByteArray("\x02\x0a\x02{]", 5) << syntax;
    QTest::newRow("JSON text with a huge number") << QByteArray("\x02\x09\x01\x04\x0a\x05" "1e999", 11)
                                                  << static_cast<int>(JsonProblem::Kind::NumberOutOfRange);
    QTest::newRow("message: hex flag without a sender") << QByteArray("\x12\x01" "c\x01" "e\x01\x01" "0123456789abcdef" "1", 24) << syntax;
    QTest::newRow("message: string payload with a quote") << QByteArray("\x18\x01" "c\x01" "e\x01\x01" "a\"b", 10) << syntax;
    QTest::newRow("message: payload not JSON") << QByteArray("\x10\x01" "c\x01" "e\x01\x01" "{x", 9) << syntax;
    QTest::newRow("message: invalid UTF-8 channel") << QByteArray("\x10\x01\xff\x01" "e\x01\x01" "1", 8) << syntax;
}

void TestBinaryEncoding::malformedRefused()
{
    QFETCH(QByteArray, bytes);
    QFETCH(int, kind);
    json::value out;
    const auto problem = decode(std::string_view(bytes.constData(), static_cast<std::size_t>(bytes.size())), out);
    QVERIFY(problem);
    QCOMPARE(static_cast<int>(problem->kind), kind);
    QVERIFY(!problem->message.empty());
    // A number out of range leaves the rest readable, as parseJson() does.
    QCOMPARE(out.is_null(), problem->kind != JsonProblem::Kind::NumberOutOfRange);
}

void TestBinaryEncoding::depthLimited()
{
    json::value nested = json::object{{"op", "publish"}};
    json::value *at = &nested.get_object()["data"];
    for (int i = 0; i < 40; ++i) {
        *at = json::array{nullptr};
        at = &at->get_array()[0];
    }
    const std::string bytes = encodeBinaryObject(nested.get_object());
    json::value out;
    const auto refused = decode(bytes, out, 32);
    QVERIFY(refused);
    QCOMPARE(refused->kind, JsonProblem::Kind::TooDeep);
    QVERIFY(!decode(bytes, out, 64));

    // The payload of a message counts from the frame's depth.
    std::string deep(40, '[');
    deep += std::string(40, ']');
    const std::string message = *translateToBinary(encodeMessageFrame(publication(deep))->bytes);
    const auto deepMessage = decode(message, out, 32);
    QVERIFY(deepMessage);
    QCOMPARE(deepMessage->kind, JsonProblem::Kind::TooDeep);
    QVERIFY(!decode(message, out, 64));
}

void TestBinaryEncoding::negotiation_data()
{
    QTest::addColumn<QByteArray>("offered");
    QTest::addColumn<bool>("binary");
    QTest::newRow("none") << QByteArray() << false;
    QTest::newRow("only binary") << QByteArray("switchboard.v1.binary") << true;
    QTest::newRow("in a list") << QByteArray("chat, switchboard.v1.binary ,x") << true;
    QTest::newRow("prefix of another") << QByteArray("switchboard.v1.binary2") << false;
    QTest::newRow("other") << QByteArray("mqtt") << false;
}

void TestBinaryEncoding::negotiation()
{
    QFETCH(QByteArray, offered);
    QFETCH(bool, binary);
    QCOMPARE(negotiateWireEncoding(offered.toStdString()) == WireEncoding::Binary, binary);
}

QTEST_APPLESS_MAIN(TestBinaryEncoding)
#include "tst_binaryencoding.moc"
