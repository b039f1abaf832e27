// permessage-deflate (RFC 7692) as both gateways use it: the negotiation of the
// Sec-WebSocket-Extensions offer, the compressor's output (checked with zlib directly), and the
// FrameReader's decompression of RSV1 messages with its size limit (a deflate bomb is 1009).

#include <switchboard/websocket/Codec.h>
#include <switchboard/websocket/FrameReader.h>
#include <switchboard/websocket/MessageDeflate.h>
#include <switchboard/websocket/PerMessageDeflate.h>

#include <QTest>

#include <zlib.h>

#include <string>
#include <vector>

using namespace switchboard::websocket;

namespace {

/// A masked client frame; `rsv1` marks it compressed.
std::string clientFrame(std::uint8_t opcode, std::string_view payload, bool fin = true, bool rsv1 = false)
{
    std::string out;
    out.push_back(static_cast<char>((fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | opcode));
    if (payload.size() < 126) {
        out.push_back(static_cast<char>(0x80 | payload.size()));
    } else if (payload.size() <= 0xFFFF) {
        out.push_back(static_cast<char>(0x80 | 126));
        out.push_back(static_cast<char>(payload.size() >> 8));
        out.push_back(static_cast<char>(payload.size() & 0xFF));
    } else {
        out.push_back(static_cast<char>(0x80 | 127));
        for (int shift = 56; shift >= 0; shift -= 8)
            out.push_back(static_cast<char>((std::uint64_t(payload.size()) >> shift) & 0xFF));
    }
    const std::uint8_t mask[4] = {0x11, 0x22, 0x33, 0x44};
    out.append(reinterpret_cast<const char *>(mask), 4);
    for (std::size_t i = 0; i < payload.size(); ++i)
        out.push_back(static_cast<char>(payload[i] ^ mask[i & 3]));
    return out;
}

/// What a client's compressor sends: raw deflate, sync flush, tail removed. Independent of
/// deflateMessage (which refuses output that is not smaller).
std::string clientDeflate(std::string_view message, int level = Z_BEST_COMPRESSION)
{
    z_stream s{};
    deflateInit2(&s, level, Z_DEFLATED, -15, 9, Z_DEFAULT_STRATEGY);
    std::string out(deflateBound(&s, message.size()) + 16, '\0');
    s.next_in = reinterpret_cast<Bytef *>(const_cast<char *>(message.data()));
    s.avail_in = static_cast<uInt>(message.size());
    s.next_out = reinterpret_cast<Bytef *>(out.data());
    s.avail_out = static_cast<uInt>(out.size());
    deflate(&s, Z_SYNC_FLUSH);
    out.resize(out.size() - s.avail_out);
    deflateEnd(&s);
    out.resize(out.size() - 4); // 00 00 ff ff
    return out;
}

/// What a client's decompressor does with a server message.
std::string clientInflate(std::string payload, int windowBits)
{
    payload.append("\x00\x00\xff\xff", 4);
    z_stream s{};
    inflateInit2(&s, -windowBits);
    std::string out(1 << 20, '\0');
    s.next_in = reinterpret_cast<Bytef *>(payload.data());
    s.avail_in = static_cast<uInt>(payload.size());
    s.next_out = reinterpret_cast<Bytef *>(out.data());
    s.avail_out = static_cast<uInt>(out.size());
    const int rc = inflate(&s, Z_SYNC_FLUSH);
    out.resize(out.size() - s.avail_out);
    inflateEnd(&s);
    return rc == Z_OK || rc == Z_STREAM_END ? out : std::string("<inflate error>");
}

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
    bool onPong(std::string_view) override { return true; }
    void onClose(std::uint16_t code, std::string_view) override { events.push_back("close:" + std::to_string(code)); }
    void onViolation(CloseCode code, std::string_view) override
    {
        events.push_back("violation:" + std::to_string(static_cast<int>(code)));
    }
};

using Events = std::vector<std::string>;

Events readDeflate(std::string bytes, std::size_t limit, bool *inflateRefused = nullptr)
{
    FrameReader reader(limit);
    reader.enableDeflate();
    Recorder recorder;
    reader.feed(reinterpret_cast<std::uint8_t *>(bytes.data()), bytes.size(), recorder);
    if (inflateRefused)
        *inflateRefused = reader.inflateRefused();
    return recorder.events;
}

} // namespace

Q_DECLARE_METATYPE(Events)

class tst_PerMessageDeflate : public QObject {
    Q_OBJECT

private slots:
    void negotiation_data()
    {
        QTest::addColumn<QString>("offer");
        QTest::addColumn<int>("windowBits");
        QTest::addColumn<QString>("response"); // empty: declined
        const QString base = "permessage-deflate; server_no_context_takeover; client_no_context_takeover";
        QTest::newRow("none") << "" << 15 << "";
        QTest::newRow("other extension") << "x-webkit-deflate-frame" << 15 << "";
        QTest::newRow("plain") << "permessage-deflate" << 15 << base;
        // What Chromium, Firefox, Node's ws and Python's websockets send.
        QTest::newRow("browser") << "permessage-deflate; client_max_window_bits" << 15 << base;
        QTest::newRow("case and spaces") << "Permessage-Deflate ;CLIENT_MAX_WINDOW_BITS" << 15 << base;
        QTest::newRow("client bits value") << "permessage-deflate; client_max_window_bits=10" << 15 << base;
        QTest::newRow("quoted bits") << "permessage-deflate; client_max_window_bits=\"10\"" << 15 << base;
        QTest::newRow("no context takeover offered")
            << "permessage-deflate; client_no_context_takeover; server_no_context_takeover" << 15 << base;
        QTest::newRow("server bits equal") << "permessage-deflate; server_max_window_bits=15" << 15
                                           << base + "; server_max_window_bits=15";
        QTest::newRow("server bits larger than ours") << "permessage-deflate; server_max_window_bits=12" << 10
                                                      << base + "; server_max_window_bits=10";
        QTest::newRow("server bits smaller than ours") << "permessage-deflate; server_max_window_bits=10" << 15 << "";
        QTest::newRow("falls back to the next offer")
            << "permessage-deflate; server_max_window_bits=10, permessage-deflate" << 15 << base;
        QTest::newRow("after another extension") << "foo; bar=1, permessage-deflate" << 15 << base;
        QTest::newRow("unknown parameter") << "permessage-deflate; foo" << 15 << "";
        QTest::newRow("repeated parameter")
            << "permessage-deflate; client_max_window_bits; client_max_window_bits" << 15 << "";
        QTest::newRow("server bits without value") << "permessage-deflate; server_max_window_bits" << 15 << "";
        QTest::newRow("bits out of range") << "permessage-deflate; client_max_window_bits=16" << 15 << "";
        QTest::newRow("bits 7") << "permessage-deflate; server_max_window_bits=7" << 15 << "";
        QTest::newRow("bits leading zero") << "permessage-deflate; client_max_window_bits=010" << 15 << "";
        QTest::newRow("flag with value") << "permessage-deflate; server_no_context_takeover=1" << 15 << "";
    }
    void negotiation()
    {
        QFETCH(QString, offer);
        QFETCH(int, windowBits);
        QFETCH(QString, response);
        const auto agreement = negotiateDeflate(offer.toStdString(), DeflateOptions{true, windowBits});
        QCOMPARE(agreement ? QString::fromStdString(agreement->response) : QString(), response);
        if (agreement)
            QCOMPARE(agreement->serverWindowBits, windowBits);
    }

    void disabledDeclinesEverything()
    {
        QVERIFY(!negotiateDeflate("permessage-deflate", DeflateOptions{false, 15}));
    }

    void deflateIsWhatAClientInflates_data()
    {
        QTest::addColumn<int>("windowBits");
        QTest::newRow("15") << 15;
        QTest::newRow("10") << 10;
        QTest::newRow("9") << 9;
    }
    void deflateIsWhatAClientInflates()
    {
        QFETCH(int, windowBits);
        std::string json = "{\"op\":\"message\",\"channel\":\"prices\",\"data\":[";
        for (int i = 0; json.size() < 1024; ++i)
            json += "{\"symbol\":\"S" + std::to_string(i) + "\",\"bid\":101.25,\"ask\":101.5},";
        json += "{}]}";
        const std::string compressed = deflateMessage(json, windowBits);
        QVERIFY(!compressed.empty());
        QVERIFY2(compressed.size() < json.size() / 2, qPrintable(QString::number(compressed.size())));
        // RFC 7692 7.2.1: the tail is removed, the receiver adds it back.
        QVERIFY(std::string_view(compressed).substr(compressed.size() - 4) != std::string_view("\x00\x00\xff\xff", 4));
        QCOMPARE(clientInflate(compressed, windowBits), json);
        // No context between messages: the same input gives the same bytes again.
        QCOMPARE(deflateMessage(json, windowBits), compressed);
    }

    void incompressibleIsSentPlain()
    {
        QVERIFY(deflateMessage("{}", 15).empty());
    }

    void serverFrameHeaderSetsRsv1()
    {
        std::string header;
        appendHeader(header, Text, 5, true);
        QCOMPARE(static_cast<unsigned char>(header[0]), 0xC1);
        header.clear();
        appendHeader(header, Text, 5);
        QCOMPARE(static_cast<unsigned char>(header[0]), 0x81);
    }

    void readerInflatesCompressedMessages()
    {
        const std::string text = std::string(500, 'a') + "\xe2\x82\xac" + std::string(500, 'b');
        const std::string compressed = clientDeflate(text);
        QCOMPARE(readDeflate(clientFrame(Text, compressed, true, true), 4096), Events{"text:" + text});
        // Fragmented: RSV1 on the first frame only; ping in between; then a plain message.
        const std::size_t half = compressed.size() / 2;
        const std::string fragmented = clientFrame(Text, compressed.substr(0, half), false, true) + clientFrame(Ping, "p")
            + clientFrame(Continuation, compressed.substr(half)) + clientFrame(Text, "plain");
        QCOMPARE(readDeflate(fragmented, 4096), (Events{"ping:p", "text:" + text, "text:plain"}));
        // Binary, and the empty message (RFC 7692 7.2.3.6: a single 00 byte).
        QCOMPARE(readDeflate(clientFrame(Binary, clientDeflate(std::string(100, '\0')), true, true), 4096),
                 Events{"binary:" + std::string(100, '\0')});
        QCOMPARE(readDeflate(clientFrame(Text, std::string("\x00", 1), true, true), 4096), Events{"text:"});
    }

    void deflateBombIsRefusedWith1009()
    {
        // 1 MiB of zeros is about 1 KiB compressed: well under the 64 KiB limit on the wire.
        const std::string bomb = clientDeflate(std::string(1 << 20, '\0'));
        QVERIFY(bomb.size() < 2048);
        bool refused = false;
        QCOMPARE(readDeflate(clientFrame(Binary, bomb, true, true), 64 * 1024, &refused), Events{"violation:1009"});
        QVERIFY(refused);
        // Exactly the limit is allowed.
        refused = true;
        const Events exact = readDeflate(clientFrame(Binary, clientDeflate(std::string(1000, 'z')), true, true), 1000, &refused);
        QCOMPARE(exact, Events{"binary:" + std::string(1000, 'z')});
        QVERIFY(!refused);
        QCOMPARE(readDeflate(clientFrame(Binary, clientDeflate(std::string(1001, 'z')), true, true), 1000),
                 Events{"violation:1009"});
    }

    void badCompressedInputIsRefused_data()
    {
        QTest::addColumn<QByteArray>("input");
        QTest::addColumn<Events>("expected");
        auto row = [](const char *name, const std::string &input, Events expected) {
            QTest::newRow(name) << QByteArray(input.data(), qsizetype(input.size())) << expected;
        };
        row("not deflate", clientFrame(Text, "\xff\xff\xff\xff garbage", true, true), {"violation:1007"});
        row("inflates to invalid UTF-8", clientFrame(Text, clientDeflate("\xc3\x28 bad"), true, true), {"violation:1007"});
        row("rsv1 on continuation", clientFrame(Text, clientDeflate("abc"), false, true)
                                        + clientFrame(Continuation, "x", true, true), {"violation:1002"});
        row("rsv1 on ping", clientFrame(Ping, "p", true, true), {"violation:1002"});
    }
    void badCompressedInputIsRefused()
    {
        QFETCH(QByteArray, input);
        QFETCH(Events, expected);
        QCOMPARE(readDeflate(input.toStdString(), 4096), expected);
    }

    void rsv1WithoutTheExtensionIsAProtocolError()
    {
        FrameReader reader(4096);
        Recorder recorder;
        std::string bytes = clientFrame(Text, clientDeflate("hello hello hello"), true, true);
        reader.feed(reinterpret_cast<std::uint8_t *>(bytes.data()), bytes.size(), recorder);
        QCOMPARE(recorder.events, Events{"violation:1002"});
    }
};

QTEST_APPLESS_MAIN(tst_PerMessageDeflate)
#include "tst_permessagedeflate.moc"
