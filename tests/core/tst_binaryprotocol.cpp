// ServerProtocol on connections that negotiated the binary encoding: every frame to them is
// binary (a broadcast translated once and shared), their binary frames are read like JSON ones,
// and malformed binary frames are answered and counted like malformed JSON.
#include "ProtocolHarness.h"

#include "switchboard/BinaryEncoding.h"

#include <QtTest>

using namespace switchboard;
using namespace switchboard::testing;
namespace json = boost::json;

namespace {

ConnectionInfo binaryInfo()
{
    ConnectionInfo info;
    info.transport = "test";
    info.encoding = WireEncoding::Binary;
    return info;
}

std::string binary(std::string_view jsonText)
{
    json::parse_options deep;
    deep.max_depth = 64;
    return encodeBinaryObject(json::parse(jsonText, {}, deep).as_object());
}

/// Every frame the session got is binary (the encoding it negotiated).
bool allBinary(const RecordingSession &session)
{
    for (const SharedFrame &frame : session.frames)
        if (frame->kind != Frame::Kind::Binary)
            return false;
    return true;
}

} // namespace

class TestBinaryProtocol : public QObject
{
    Q_OBJECT

private slots:
    void handshakeAndDelivery();
    void jsonTextStillAccepted();
    void malformed_data();
    void malformed();
    void binaryRefusedOnJsonConnections();
    void keptWhileAuthenticating();
};

void TestBinaryProtocol::handshakeAndDelivery()
{
    Harness h;
    Client ann = h.open(binaryInfo());
    Client bo = h.open(binaryInfo());
    Client cy = h.connect(); // JSON
    for (const Client *c : {&ann, &bo}) {
        h.sendBinary(*c, binary(R"({"op":"connect","version":1})"));
        h.sendBinary(*c, binary(R"({"op":"subscribe","channel":"news","ackId":"s"})"));
        const auto frames = c->session->take();
        QCOMPARE(frames.size(), std::size_t(2));
        QCOMPARE(op(frames[0]), std::string("welcome"));
        QCOMPARE(op(frames[1]), std::string("subscribed"));
        QCOMPARE(str(frames[1], "ackId"), std::string("s"));
    }
    QVERIFY(h.subscribe(cy, "news"));

    h.sendBinary(ann, binary(R"({"op":"publish","channel":"news","event":"e","data":{"t":21.5},"ackId":"p"})"));
    const std::vector<SharedFrame> annRaw = ann.session->frames;
    const auto annFrames = ann.session->take();
    QCOMPARE(annFrames.size(), std::size_t(2)); // the message (no skipSelf) and the ack
    const auto boFrames = bo.session->frames;
    const auto cyFrames = cy.session->frames;
    QCOMPARE(boFrames.size(), std::size_t(1));
    QCOMPARE(cyFrames.size(), std::size_t(1));
    QVERIFY(allBinary(*bo.session));
    QCOMPARE(cyFrames[0]->kind, Frame::Kind::Text);
    // One publication, one binary frame, shared by the binary subscribers.
    const auto ackFrame = [&] {
        for (const auto &f : annFrames)
            if (op(f) == "ack")
                return f;
        return json::object{};
    }();
    QCOMPARE(str(ackFrame, "ackId"), std::string("p"));
    QCOMPARE(num(ackFrame, "offset"), std::int64_t(1));
    QCOMPARE(annRaw.size(), std::size_t(2));
    QVERIFY(annRaw[0].get() == boFrames[0].get() || annRaw[1].get() == boFrames[0].get());
    const auto delivered = bo.session->objects();
    QCOMPARE(op(delivered[0]), std::string("message"));
    QCOMPARE(str(delivered[0], "sender"), h.protocol.sessionId(ann.handle));
    QCOMPARE(delivered[0], cy.session->objects()[0]); // the same message as in JSON
}

void TestBinaryProtocol::jsonTextStillAccepted()
{
    Harness h;
    Client c = h.open(binaryInfo());
    h.send(c, R"({"op":"connect","version":1})");
    h.send(c, R"({"op":"ping","ackId":"hb"})");
    const auto frames = c.session->take();
    QCOMPARE(frames.size(), std::size_t(2));
    QCOMPARE(op(frames[0]), std::string("welcome"));
    QCOMPARE(op(frames[1]), std::string("pong"));
    QCOMPARE(str(frames[1], "ackId"), std::string("hb"));
}

void TestBinaryProtocol::malformed_data()
{
    QTest::addColumn<QByteArray>("frame");
    QTest::addColumn<int>("error");
    QTest::addColumn<QByteArray>("ackId");
    QTest::addColumn<QByteArray>("counter");
    QTest::newRow("truncated") << QByteArray::fromStdString(binary(R"({"op":"ping","ackId":"a"})")).chopped(1) << 400
                               << QByteArray() << QByteArray();
    QTest::newRow("binary broadcast frame") << QByteArray("\x01\x00\x01" "a\x00\x00", 6) << 400 << QByteArray()
                                            << QByteArray();
    QTest::newRow("unknown word") << QByteArray("\x02\x07\xee", 3) << 400 << QByteArray() << QByteArray();
    QTest::newRow("invalid UTF-8") << QByteArray("\x02\x09\x01\x01\x06\x01\xff", 7) << 400 << QByteArray() << QByteArray();
    QTest::newRow("not an object") << QByteArray("\x02\x02", 2) << 400 << QByteArray() << QByteArray();
    QTest::newRow("unknown op, ackId echoed") << QByteArray::fromStdString(binary(R"({"op":"dance","ackId":"d1"})"))
                                              << 405 << QByteArray("d1") << QByteArray();
    QTest::newRow("NaN, ackId echoed")
        << QByteArray::fromStdString(binary(R"({"op":"publish","channel":"news","event":"e","ackId":"n"})"))
               .append(QByteArray())
        << 0 << QByteArray() << QByteArray();
    QTest::newRow("nested too deeply") << QByteArray::fromStdString(binary(R"({"op":"publish","channel":"news","event":"e","data":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]})"))
                                       << 413 << QByteArray() << QByteArray();
}

void TestBinaryProtocol::malformed()
{
    QFETCH(QByteArray, frame);
    QFETCH(int, error);
    QFETCH(QByteArray, ackId);
    if (error == 0) {
        // A double that is not finite (no JSON text can carry one): built by hand, appended to a
        // publish as its `data` member.
        QByteArray nan = frame;
        nan[2] = static_cast<char>(static_cast<unsigned char>(nan[2]) + 1); // one member more
        nan.append("\x04\x05\x00\x00\x00\x00\x00\x00\xf8\x7f", 10);        // "data": NaN
        frame = nan;
        error = 400;
        ackId = "n";
    }
    Harness h;
    Client c = h.open(binaryInfo());
    h.sendBinary(c, binary(R"({"op":"connect","version":1})"));
    QCOMPARE(c.session->take().size(), std::size_t(1));
    const std::uint64_t errorsBefore = h.protocol.counters().protocolErrors;
    h.sendBinary(c, std::string_view(frame.constData(), static_cast<std::size_t>(frame.size())));
    QVERIFY(allBinary(*c.session));
    const auto frames = c.session->take();
    QCOMPARE(frames.size(), std::size_t(1));
    QCOMPARE(op(frames[0]), std::string("error"));
    QCOMPARE(num(frames[0], "code"), std::int64_t(error));
    QVERIFY(!str(frames[0], "message").empty());
    if (!ackId.isEmpty())
        QCOMPARE(str(frames[0], "ackId"), ackId.toStdString());
    QCOMPARE(h.protocol.counters().protocolErrors, errorsBefore + 1);
    if (QByteArray(QTest::currentDataTag()).startsWith("NaN"))
        QCOMPARE(h.protocol.counters().numbersOutOfRange, std::uint64_t(1));
    QVERIFY(!c.session->closeCode);
    h.sendBinary(c, binary(R"({"op":"ping"})")); // still served
    const auto after = c.session->take();
    QCOMPARE(after.size(), std::size_t(1));
    QCOMPARE(op(after[0]), std::string("pong"));
}

void TestBinaryProtocol::binaryRefusedOnJsonConnections()
{
    Harness h;
    Client c = h.connect();
    h.sendBinary(c, binary(R"({"op":"ping"})"));
    const auto frames = c.session->take();
    QCOMPARE(frames.size(), std::size_t(1));
    QCOMPARE(op(frames[0]), std::string("error"));
    QCOMPARE(num(frames[0], "code"), std::int64_t(400));
    QCOMPARE(c.session->frames.size(), std::size_t(0));
}

void TestBinaryProtocol::keptWhileAuthenticating()
{
    Harness h;
    ConnectAnswer parked;
    h.protocol.setAsyncConnectAuthenticator([&](const ConnectRequest &, ConnectAnswer answer) { parked = std::move(answer); });
    Client c = h.open(binaryInfo());
    h.sendBinary(c, binary(R"({"op":"connect","version":1,"token":"t"})"));
    h.sendBinary(c, binary(R"({"op":"subscribe","channel":"news","ackId":"s"})"));
    h.send(c, R"({"op":"ping","ackId":"p"})");
    QVERIFY(parked);
    QVERIFY(c.session->frames.empty());
    ConnectDecision accept;
    accept.principal.userId = "ann";
    parked(accept);
    const auto frames = c.session->take();
    QCOMPARE(frames.size(), std::size_t(3));
    QCOMPARE(op(frames[0]), std::string("welcome"));
    QCOMPARE(op(frames[1]), std::string("subscribed"));
    QCOMPARE(op(frames[2]), std::string("pong"));
    QCOMPARE(h.hub.subscriberCount("news"), std::size_t(1));
}

QTEST_APPLESS_MAIN(TestBinaryProtocol)
#include "tst_binaryprotocol.moc"
