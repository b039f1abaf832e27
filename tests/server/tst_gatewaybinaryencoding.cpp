// switchboard-gateway and the binary encoding (subprotocol switchboard.v1.binary), on the wire:
// negotiation at the upgrade, every frame binary both ways, the size of a delivery, malformed
// binary frames answered, and JSON for clients that do not offer it.

#include "GatewayProcess.h"
#include "PosixWebSocket.h"

#include <switchboard/BinaryEncoding.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

using namespace gatewaytest;
namespace json = boost::json;

namespace {

constexpr quint8 kText = 0x1;
constexpr quint8 kBinary = 0x2;

QByteArray binaryFrame(std::string_view jsonText)
{
    return QByteArray::fromStdString(switchboard::encodeBinaryObject(json::parse(jsonText).as_object()));
}

/// The next frame decoded (binary) or parsed (text) to JSON text; empty on timeout or when it
/// does not decode.
struct Received {
    quint8 opcode = 0;
    int wireBytes = 0; ///< header + payload
    json::object frame;
};

std::optional<Received> nextFrame(PosixWebSocket &ws)
{
    const auto f = ws.next();
    if (!f)
        return std::nullopt;
    Received out;
    out.opcode = f->opcode;
    out.wireBytes = int(f->payload.size()) + (f->payload.size() < 126 ? 2 : 4);
    json::value value;
    const std::string_view bytes(f->payload.constData(), std::size_t(f->payload.size()));
    if (f->opcode == kBinary) {
        if (switchboard::decodeBinaryProtocolFrame(bytes, value, 128))
            return std::nullopt;
    } else {
        boost::system::error_code ec;
        value = json::parse(bytes, ec);
        if (ec)
            return std::nullopt;
    }
    if (!value.is_object())
        return std::nullopt;
    out.frame = std::move(value.get_object());
    return out;
}

std::string op(const Received &r)
{
    const auto *v = r.frame.if_contains("op");
    return v && v->is_string() ? std::string(v->get_string()) : std::string();
}

} // namespace

class tst_GatewayBinaryEncoding : public QObject
{
    Q_OBJECT

private slots:
    void negotiatedAndUsedBothWays();
    void otherSubprotocolsStayJson_data();
    void otherSubprotocolsStayJson();
    void malformedBinaryAnswered();
    void pusherEndpointStaysJson();
};

void tst_GatewayBinaryEncoding::negotiatedAndUsedBothWays()
{
    GatewayProcess g;
    QVERIFY(g.start());
    PosixWebSocket ws;
    QVERIFY(ws.open(g.port(), 0, "Sec-WebSocket-Protocol: chat, switchboard.v1.binary\r\n"));
    QVERIFY2(ws.response().contains("Sec-WebSocket-Protocol: switchboard.v1.binary\r\n"), ws.response().constData());

    QVERIFY(ws.sendAll(PosixWebSocket::frame(kBinary, binaryFrame(R"({"op":"connect","version":1})"))));
    auto welcome = nextFrame(ws);
    QVERIFY(welcome);
    QCOMPARE(welcome->opcode, kBinary);
    QCOMPARE(op(*welcome), std::string("welcome"));
    QVERIFY(ws.sendAll(PosixWebSocket::frame(kBinary, binaryFrame(R"({"op":"subscribe","channel":"bench","ackId":"s"})"))));
    auto subscribed = nextFrame(ws);
    QVERIFY(subscribed);
    QCOMPARE(subscribed->opcode, kBinary);
    QCOMPARE(op(*subscribed), std::string("subscribed"));

    // A 64-character string published by the server: at most 100 bytes on the wire.
    QNetworkAccessManager nam;
    const QString payload(64, QLatin1Char('x'));
    QCOMPARE(publish(nam, g, {{"channel", "bench"}, {"event", "bench"}, {"data", payload}}).status, 200);
    auto delivery = nextFrame(ws);
    QVERIFY(delivery);
    QCOMPARE(delivery->opcode, kBinary);
    QCOMPARE(op(*delivery), std::string("message"));
    QCOMPARE(delivery->frame.at("data").as_string(), json::string(payload.toStdString()));
    QCOMPARE(delivery->frame.at("offset").as_int64(), std::int64_t(1));
    qInfo("64-byte server publish: %d bytes on the wire", delivery->wireBytes);
    QVERIFY2(delivery->wireBytes <= 100, qPrintable(QString::number(delivery->wireBytes)));

    // A publish from this client (binary in), acknowledged in binary, delivered back with its
    // session id as sender.
    QVERIFY(ws.sendAll(PosixWebSocket::frame(
        kBinary, binaryFrame(R"({"op":"publish","channel":"bench","event":"e","data":{"t":[1,2.5,"☃"]},"ackId":"p"})"))));
    bool acked = false, delivered = false;
    for (int i = 0; i < 2; ++i) {
        auto f = nextFrame(ws);
        QVERIFY(f);
        QCOMPARE(f->opcode, kBinary);
        if (op(*f) == "ack") {
            QCOMPARE(f->frame.at("ackId").as_string(), json::string("p"));
            acked = true;
        } else {
            QCOMPARE(op(*f), std::string("message"));
            QCOMPARE(json::serialize(f->frame.at("data")), std::string(R"({"t":[1,2.5E0,"☃"]})"));
            QCOMPARE(f->frame.at("sender").as_string(), welcome->frame.at("session").as_string());
            delivered = true;
        }
    }
    QVERIFY(acked && delivered);

    // JSON text is still understood on this connection.
    QVERIFY(ws.sendAll(PosixWebSocket::frame(kText, R"({"op":"ping","ackId":"hb"})")));
    auto pong = nextFrame(ws);
    QVERIFY(pong);
    QCOMPARE(pong->opcode, kBinary);
    QCOMPARE(op(*pong), std::string("pong"));
}

void tst_GatewayBinaryEncoding::otherSubprotocolsStayJson_data()
{
    QTest::addColumn<QByteArray>("header");
    QTest::newRow("none") << QByteArray();
    QTest::newRow("another subprotocol") << QByteArray("Sec-WebSocket-Protocol: mqtt\r\n");
    QTest::newRow("a longer name") << QByteArray("Sec-WebSocket-Protocol: switchboard.v1.binaryx\r\n");
}

void tst_GatewayBinaryEncoding::otherSubprotocolsStayJson()
{
    QFETCH(QByteArray, header);
    GatewayProcess g;
    QVERIFY(g.start());
    PosixWebSocket ws;
    QVERIFY(ws.open(g.port(), 0, header));
    QVERIFY2(!ws.response().toLower().contains("sec-websocket-protocol"), ws.response().constData());
    QVERIFY(ws.sendAll(PosixWebSocket::frame(kText, R"({"op":"connect","version":1})")));
    auto welcome = nextFrame(ws);
    QVERIFY(welcome);
    QCOMPARE(welcome->opcode, kText);
    QCOMPARE(op(*welcome), std::string("welcome"));
    // Binary protocol frames are refused on a JSON connection.
    QVERIFY(ws.sendAll(PosixWebSocket::frame(kBinary, binaryFrame(R"({"op":"ping"})"))));
    auto refused = nextFrame(ws);
    QVERIFY(refused);
    QCOMPARE(refused->opcode, kText);
    QCOMPARE(op(*refused), std::string("error"));
    QCOMPARE(refused->frame.at("code").as_int64(), std::int64_t(400));
}

void tst_GatewayBinaryEncoding::malformedBinaryAnswered()
{
    GatewayProcess g;
    QVERIFY(g.start());
    PosixWebSocket ws;
    QVERIFY(ws.open(g.port(), 0, "Sec-WebSocket-Protocol: switchboard.v1.binary\r\n"));
    QVERIFY(ws.sendAll(PosixWebSocket::frame(kBinary, binaryFrame(R"({"op":"connect","version":1})"))));
    QVERIFY(nextFrame(ws));
    const QByteArray bad[] = {QByteArray("\x02\x09\x05", 3), QByteArray("\x02\x07\xfe", 3), QByteArray("\x7f", 1)};
    for (const QByteArray &frame : bad) {
        QVERIFY(ws.sendAll(PosixWebSocket::frame(kBinary, frame)));
        auto error = nextFrame(ws);
        QVERIFY(error);
        QCOMPARE(error->opcode, kBinary);
        QCOMPARE(op(*error), std::string("error"));
        QCOMPARE(error->frame.at("code").as_int64(), std::int64_t(400));
    }
    // Counted with the other malformed frames, and the connection still serves.
    QNetworkAccessManager nam;
    const auto m = metrics(nam, g);
    QVERIFY2(m.value("switchboard_protocol_errors_total") >= 3, qPrintable(QString::number(m.value("switchboard_protocol_errors_total"))));
    QCOMPARE(m.value("switchboard_websocket_binary_encoding_sessions_total"), 1.0);
    QVERIFY(ws.sendAll(PosixWebSocket::frame(kBinary, binaryFrame(R"({"op":"ping"})"))));
    auto pong = nextFrame(ws);
    QVERIFY(pong);
    QCOMPARE(op(*pong), std::string("pong"));
}

void tst_GatewayBinaryEncoding::pusherEndpointStaysJson()
{
    GatewayProcess g;
    QVERIFY(g.start({"--pusher-app", "1:key:secret"}));
    PosixWebSocket ws;
    QVERIFY(ws.open(g.port(), 0, "Sec-WebSocket-Protocol: switchboard.v1.binary\r\n", "/app/key?protocol=7"));
    QVERIFY2(!ws.response().toLower().contains("sec-websocket-protocol"), ws.response().constData());
    const auto established = ws.next();
    QVERIFY(established);
    QCOMPARE(established->opcode, kText);
    QVERIFY2(established->payload.contains("pusher:connection_established"), established->payload.constData());
}

QTEST_MAIN(tst_GatewayBinaryEncoding)
#include "tst_gatewaybinaryencoding.moc"
