// FrameReader and Utf8Validator: the receive side of RFC 6455 both gateways share. Each row is
// one rule a server MUST apply to client input; the same rules are checked over real sockets
// against both gateways by the conformance suite.

#include <switchboard/websocket/Codec.h>
#include <switchboard/websocket/FrameReader.h>
#include <switchboard/websocket/Utf8Validator.h>

#include "../support/LiveHeapBytes.h"

#include <QTest>

#include <string>
#include <vector>

// What a reader keeps between messages is measured by this program's own operator new
// (LiveHeapBytes.h), not assumed.
using switchboard::testing::liveHeapBytes;
using namespace switchboard::websocket;

namespace {

/// A masked client frame.
std::string clientFrame(std::uint8_t opcode, std::string_view payload, bool fin = true, bool masked = true,
                        std::uint8_t rsv = 0)
{
    std::string out;
    out.push_back(static_cast<char>((fin ? 0x80 : 0) | rsv | opcode));
    const std::uint8_t maskBit = masked ? 0x80 : 0;
    if (payload.size() < 126) {
        out.push_back(static_cast<char>(maskBit | payload.size()));
    } else if (payload.size() <= 0xFFFF) {
        out.push_back(static_cast<char>(maskBit | 126));
        out.push_back(static_cast<char>(payload.size() >> 8));
        out.push_back(static_cast<char>(payload.size() & 0xFF));
    } else {
        out.push_back(static_cast<char>(maskBit | 127));
        for (int shift = 56; shift >= 0; shift -= 8)
            out.push_back(static_cast<char>((std::uint64_t(payload.size()) >> shift) & 0xFF));
    }
    const std::uint8_t mask[4] = {0x37, 0xfa, 0x21, 0x3d};
    if (masked)
        out.append(reinterpret_cast<const char *>(mask), 4);
    for (std::size_t i = 0; i < payload.size(); ++i)
        out.push_back(static_cast<char>(masked ? payload[i] ^ mask[i & 3] : payload[i]));
    return out;
}

std::string closeBody(std::uint16_t code, std::string_view reason = {})
{
    std::string body;
    body.push_back(static_cast<char>(code >> 8));
    body.push_back(static_cast<char>(code & 0xFF));
    body.append(reason);
    return body;
}

/// Records what the reader reports, as one line per event.
struct Recorder final : FrameHandler {
    std::vector<std::string> events;
    bool onMessage(std::string_view payload, bool binary) override
    {
        events.push_back((binary ? "binary:" : "text:") + std::string(payload));
        return true;
    }
    bool onPing(std::string_view payload) override
    {
        events.push_back("ping:" + std::string(payload));
        return true;
    }
    bool onPong(std::string_view payload) override
    {
        events.push_back("pong:" + std::string(payload));
        return true;
    }
    void onClose(std::uint16_t code, std::string_view reason) override
    {
        events.push_back("close:" + std::to_string(code) + ":" + std::string(reason));
    }
    void onViolation(CloseCode code, std::string_view) override
    {
        events.push_back("violation:" + std::to_string(static_cast<int>(code)));
    }
};

std::vector<std::string> readAll(std::string bytes, std::size_t chunk, std::size_t limit = 1024)
{
    FrameReader reader(limit);
    Recorder recorder;
    for (std::size_t pos = 0; pos < bytes.size(); pos += chunk) {
        std::string piece = bytes.substr(pos, chunk);
        reader.feed(reinterpret_cast<std::uint8_t *>(piece.data()), piece.size(), recorder);
    }
    return recorder.events;
}

using Events = std::vector<std::string>;

} // namespace

Q_DECLARE_METATYPE(Events)

class tst_FrameReader : public QObject {
    Q_OBJECT

private slots:
    void rules_data()
    {
        QTest::addColumn<QByteArray>("input");
        QTest::addColumn<Events>("expected");
        auto row = [](const char *name, const std::string &input, Events expected) {
            QTest::newRow(name) << QByteArray(input.data(), qsizetype(input.size())) << expected;
        };
        const std::string euro = "\xe2\x82\xac"; // U+20AC, three bytes

        row("text", clientFrame(Text, "hello"), {"text:hello"});
        row("binary", clientFrame(Binary, std::string("\0\xff", 2)), {std::string("binary:\0\xff", 9)});
        row("empty text", clientFrame(Text, ""), {"text:"});
        row("16-bit length", clientFrame(Text, std::string(300, 'a')), {"text:" + std::string(300, 'a')});
        row("two frames", clientFrame(Text, "a") + clientFrame(Text, "b"), {"text:a", "text:b"});
        // 5.2: a server MUST close on an unmasked client frame.
        row("unmasked", clientFrame(Text, "x", true, false), {"violation:1002"});
        // 5.2: RSV bits without a negotiated extension.
        row("rsv1", clientFrame(Text, "x", true, true, 0x40), {"violation:1002"});
        row("rsv3", clientFrame(Text, "x", true, true, 0x10), {"violation:1002"});
        // 5.2: reserved opcodes.
        row("opcode 3", clientFrame(3, "x"), {"violation:1002"});
        row("opcode 11", clientFrame(11, "x"), {"violation:1002"});
        // 5.4: fragmentation.
        row("fragments", clientFrame(Text, "he", false) + clientFrame(Continuation, "ll", false)
                             + clientFrame(Continuation, "o"), {"text:hello"});
        row("ping between fragments", clientFrame(Text, "he", false) + clientFrame(Ping, "p")
                                          + clientFrame(Continuation, "llo"), {"ping:p", "text:hello"});
        row("continuation first", clientFrame(Continuation, "x"), {"violation:1002"});
        row("text inside fragments", clientFrame(Text, "a", false) + clientFrame(Text, "b"), {"violation:1002"});
        // 5.5: control frames are short and never fragmented.
        row("ping", clientFrame(Ping, "abc"), {"ping:abc"});
        row("pong", clientFrame(Pong, "abc"), {"pong:abc"});
        row("ping 125", clientFrame(Ping, std::string(125, 'p')), {"ping:" + std::string(125, 'p')});
        row("ping 126", clientFrame(Ping, std::string(126, 'p')), {"violation:1002"});
        row("fragmented ping", clientFrame(Ping, "p", false), {"violation:1002"});
        // 5.5.1 / 7.4: close frames.
        row("close empty", clientFrame(Close, ""), {"close:1005:"});
        row("close 1000", clientFrame(Close, closeBody(1000, "bye")), {"close:1000:bye"});
        row("close 3000", clientFrame(Close, closeBody(3000)), {"close:3000:"});
        row("close 4999", clientFrame(Close, closeBody(4999)), {"close:4999:"});
        row("close 1012", clientFrame(Close, closeBody(1012)), {"close:1012:"});
        row("close one byte", clientFrame(Close, "\x03"), {"violation:1002"});
        for (const std::uint16_t bad : {0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535}) {
            const std::string name = "close code " + std::to_string(bad);
            row(name.c_str(), clientFrame(Close, closeBody(bad)), {"violation:1002"});
        }
        row("close reason not utf-8", clientFrame(Close, closeBody(1000, "\xce\xba\xe1\xbd")), {"violation:1002"});
        row("nothing after close", clientFrame(Close, closeBody(1000)) + clientFrame(Text, "late"), {"close:1000:"});
        // 8.1: text must be UTF-8, checked across fragments.
        row("utf-8", clientFrame(Text, "caf\xc3\xa9"), {"text:caf\xc3\xa9"});
        row("invalid utf-8", clientFrame(Text, "\xc3\x28"), {"violation:1007"});
        row("surrogate", clientFrame(Text, "\xed\xa0\x80"), {"violation:1007"});
        row("overlong", clientFrame(Text, "\xc0\xaf"), {"violation:1007"});
        row("above U+10FFFF", clientFrame(Text, "\xf4\x90\x80\x80"), {"violation:1007"});
        row("truncated", clientFrame(Text, "\xe2\x82"), {"violation:1007"});
        row("code point split across fragments", clientFrame(Text, "a" + euro.substr(0, 1), false)
                                                    + clientFrame(Continuation, euro.substr(1, 1), false)
                                                    + clientFrame(Continuation, euro.substr(2) + "b"),
            {"text:a" + euro + "b"});
        row("invalid byte in a middle fragment", clientFrame(Text, "ok", false) + clientFrame(Continuation, "\xff", false)
                                                     + clientFrame(Continuation, "x"), {"violation:1007"});
        row("truncated at the last fragment", clientFrame(Text, "a", false) + clientFrame(Continuation, "\xe2\x82"),
            {"violation:1007"});
        row("binary is not checked", clientFrame(Binary, "\xff"), {"binary:\xff"});
        // 10.4: the receive limit (1024 bytes here), for one frame and for a fragmented message.
        row("message at the limit", clientFrame(Binary, std::string(1024, 'b')), {"binary:" + std::string(1024, 'b')});
        row("frame over the limit", clientFrame(Binary, std::string(1025, 'b')), {"violation:1009"});
        row("fragments over the limit", clientFrame(Binary, std::string(600, 'b'), false)
                                            + clientFrame(Continuation, std::string(600, 'b')), {"violation:1009"});
        row("64-bit length over the limit", clientFrame(Binary, std::string(70000, 'b')), {"violation:1009"});
    }

    /// Every rule holds whether the bytes arrive at once, byte by byte, or in odd pieces.
    void rules()
    {
        QFETCH(QByteArray, input);
        QFETCH(Events, expected);
        const std::string bytes(input.constData(), std::size_t(input.size()));
        for (const std::size_t chunk : {bytes.size(), std::size_t(1), std::size_t(3), std::size_t(7)}) {
            const Events events = readAll(bytes, std::max<std::size_t>(chunk, 1));
            if (events != expected) {
                QString got;
                for (const auto &e : events)
                    got += QString::fromStdString(e.substr(0, 40)) + QLatin1String(" | ");
                QFAIL(qPrintable(QStringLiteral("chunk %1: got %2").arg(chunk).arg(got)));
            }
        }
    }

    void oversizeIsRefusedBeforeThePayloadArrives()
    {
        FrameReader reader(1024);
        Recorder recorder;
        std::string header = clientFrame(Binary, std::string(1 << 20, 'x')).substr(0, 14);
        reader.feed(reinterpret_cast<std::uint8_t *>(header.data()), header.size(), recorder);
        QCOMPARE(recorder.events, Events{"violation:1009"});
        QCOMPARE(reader.bufferedBytes(), std::size_t(0));
        QVERIFY(reader.stopped());
    }

    void limitPast32BitsActsAsTheLargest()
    {
        // The reader keeps its limit in 32 bits: a larger one must not wrap to a small one.
        const std::string bytes = clientFrame(Text, std::string(300, 'a'));
        QCOMPARE(readAll(bytes, bytes.size(), (std::size_t(1) << 32) + 100), Events{"text:" + std::string(300, 'a')});
        QCOMPARE(readAll(bytes, bytes.size(), std::size_t(1) << 40), Events{"text:" + std::string(300, 'a')});
    }

    void readerIsSmall()
    {
        // Every connection of both gateways embeds one: a pointer to what a message in
        // progress needs, the limit, the inflate count and the flags.
        QCOMPARE_LE(sizeof(FrameReader), std::size_t(24));
    }

    void handlerCanStopTheReader()
    {
        struct StopAfterFirst final : FrameHandler {
            int messages = 0;
            bool onMessage(std::string_view, bool) override { return ++messages < 1; }
            bool onPing(std::string_view) override { return true; }
            bool onPong(std::string_view) override { return true; }
            void onClose(std::uint16_t, std::string_view) override {}
            void onViolation(CloseCode, std::string_view) override {}
        } handler;
        FrameReader reader(1024);
        std::string bytes = clientFrame(Text, "a") + clientFrame(Text, "b");
        reader.feed(reinterpret_cast<std::uint8_t *>(bytes.data()), bytes.size(), handler);
        QCOMPARE(handler.messages, 1);
        QVERIFY(reader.stopped());
    }

    void readerBetweenMessagesHoldsNoMemory()
    {
        // Counts without allocating, so the only heap in play is the reader's.
        struct Counter final : FrameHandler {
            int messages = 0;
            std::size_t bytes = 0;
            bool onMessage(std::string_view payload, bool) override
            {
                ++messages;
                bytes += payload.size();
                return true;
            }
            bool onPing(std::string_view) override { return true; }
            bool onPong(std::string_view) override { return true; }
            void onClose(std::uint16_t, std::string_view) override {}
            void onViolation(CloseCode, std::string_view) override {}
        } counter;
        std::string split = clientFrame(Text, std::string(300, 'a'));
        std::string fragmented = clientFrame(Text, std::string(200, 'b'), false)
            + clientFrame(Continuation, std::string(200, 'c'), false) + clientFrame(Continuation, "d");
        std::string whole = clientFrame(Binary, std::string(100, 'e'));

        FrameReader reader(1 << 20);
        const long long before = liveHeapBytes();
        // A frame that arrives in two reads is held in between, and released once it is whole.
        reader.feed(reinterpret_cast<std::uint8_t *>(split.data()), 100, counter);
        QCOMPARE(reader.bufferedBytes(), std::size_t(100));
        QVERIFY(liveHeapBytes() > before);
        reader.feed(reinterpret_cast<std::uint8_t *>(split.data()) + 100, split.size() - 100, counter);
        QCOMPARE(counter.messages, 1);
        QCOMPARE(liveHeapBytes(), before);
        // A fragmented message is assembled, and nothing of it stays once it is reported, also
        // when its last frame came in pieces.
        reader.feed(reinterpret_cast<std::uint8_t *>(fragmented.data()), fragmented.size() - 3, counter);
        QCOMPARE(counter.messages, 1);
        QVERIFY(reader.inMessage());
        reader.feed(reinterpret_cast<std::uint8_t *>(fragmented.data()) + fragmented.size() - 3, 3, counter);
        QCOMPARE(counter.messages, 2);
        QCOMPARE(counter.bytes, std::size_t(300 + 401));
        QCOMPARE(liveHeapBytes(), before);
        // Whole frames are read where they lie.
        reader.feed(reinterpret_cast<std::uint8_t *>(whole.data()), whole.size(), counter);
        QCOMPARE(counter.messages, 3);
        QCOMPARE(liveHeapBytes(), before);
        QCOMPARE(reader.bufferedBytes(), std::size_t(0));
    }

    /// The server's frame headers in their three length forms (RFC 6455 5.2), with the opcode
    /// and RSV1 bits, appended after what the buffer already holds.
    void serverHeaderLengths_data()
    {
        QTest::addColumn<int>("opcode");
        QTest::addColumn<quint64>("length");
        QTest::addColumn<bool>("compressed");
        QTest::addColumn<QByteArray>("expected");
        QTest::newRow("empty ping") << int(Ping) << quint64(0) << false << QByteArray::fromHex("8900");
        QTest::newRow("text 125") << int(Text) << quint64(125) << false << QByteArray::fromHex("817d");
        QTest::newRow("text 126") << int(Text) << quint64(126) << false << QByteArray::fromHex("817e007e");
        QTest::newRow("binary 65535") << int(Binary) << quint64(65535) << false << QByteArray::fromHex("827effff");
        QTest::newRow("text 65536, compressed") << int(Text) << quint64(65536) << true
                                                << QByteArray::fromHex("c17f0000000000010000");
        QTest::newRow("binary 2^32 + 258") << int(Binary) << quint64((1ull << 32) + 258) << false
                                           << QByteArray::fromHex("827f0000000100000102");
        QTest::newRow("text 2^63 - 1") << int(Text) << quint64(0x7fffffffffffffffull) << false
                                       << QByteArray::fromHex("817f7fffffffffffffff");
    }

    void serverHeaderLengths()
    {
        QFETCH(int, opcode);
        QFETCH(quint64, length);
        QFETCH(bool, compressed);
        QFETCH(QByteArray, expected);
        std::string out = "before";
        appendHeader(out, Opcode(opcode), length, compressed);
        QCOMPARE(QByteArray::fromStdString(out), QByteArray("before") + expected);
        // A header parses back (as a client's would, once masked) to what was encoded.
        std::string masked = out.substr(6);
        masked[1] = char(std::uint8_t(masked[1]) | 0x80);
        masked.append("\1\2\3\4", 4);
        FrameHeader header;
        QCOMPARE(parseClientHeader(reinterpret_cast<const std::uint8_t *>(masked.data()), masked.size(), header,
                                   compressed),
                 ParseStatus::Ok);
        QCOMPARE(header.length, length);
        QCOMPARE(int(header.opcode), opcode);
        QCOMPARE(header.rsv1, compressed);
        QCOMPARE(header.size, masked.size());
    }

    void utf8ValidatorPieces()
    {
        Utf8Validator v;
        QVERIFY(v.feed("\xf0\x9f"));
        QVERIFY(!v.complete());
        QVERIFY(v.feed("\x98\x80"));
        QVERIFY(v.complete());
        QVERIFY(!v.feed("\x80"));
        QVERIFY(!v.feed("a")); // sticky
        v.reset();
        QVERIFY(v.feed("plain ascii that is longer than eight bytes"));
        QVERIFY(v.complete());
        QVERIFY(!isValidUtf8("\xf5\x80\x80\x80"));
        QVERIFY(isValidUtf8("\xf4\x8f\xbf\xbf"));
        QVERIFY(isValidUtf8("\xed\x9f\xbf"));
    }
};

QTEST_APPLESS_MAIN(tst_FrameReader)
#include "tst_framereader.moc"
