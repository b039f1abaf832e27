// PublicationCodec (engine/redis/src): a Publication as bytes in a Redis stream entry and a
// pub/sub message. The flags field carries binary and compress, so a publication marked compress
// on one node is delivered compressed by the others; bodies written before compress existed
// ("0" / "1") still decode. No Redis needed.
#include "PublicationCodec.h"

#include <QTest>

using namespace switchboard;
using namespace switchboard::redis::detail;

class tst_PublicationCodec : public QObject
{
    Q_OBJECT

private slots:
    void flagsRoundTrip_data()
    {
        QTest::addColumn<bool>("binary");
        QTest::addColumn<bool>("compress");
        QTest::newRow("plain") << false << false;
        QTest::newRow("binary") << true << false;
        QTest::newRow("compress") << false << true;
        QTest::newRow("binary compress") << true << true;
    }
    void flagsRoundTrip()
    {
        QFETCH(bool, binary);
        QFETCH(bool, compress);
        Publication p;
        p.event = "tick";
        p.data = R"({"n":1})";
        p.timestampMs = 1700000000000;
        p.sender = "s1";
        p.binary = binary;
        p.compress = compress;
        Publication back;
        std::string node;
        QVERIFY(decodePublicationBody(encodePublicationBody(p, "node-a"), back, node));
        QCOMPARE(node, std::string("node-a"));
        QCOMPARE(back.binary, binary);
        QCOMPARE(back.compress, compress);
        QCOMPARE(back.data, p.data);
        QCOMPARE(back.event, p.event);
    }

    /// The flags digit as stored: 0 and 1 as before compress existed (every version reads them),
    /// 2 and 3 with compress (a node older than compress refuses them: docs/scaling.md).
    void storedFlagsDigit_data()
    {
        QTest::addColumn<bool>("binary");
        QTest::addColumn<bool>("compress");
        QTest::addColumn<QByteArray>("field");
        QTest::newRow("plain") << false << false << QByteArray("1:0");
        QTest::newRow("binary") << true << false << QByteArray("1:1");
        QTest::newRow("compress") << false << true << QByteArray("1:2");
        QTest::newRow("binary compress") << true << true << QByteArray("1:3");
    }
    void storedFlagsDigit()
    {
        QFETCH(bool, binary);
        QFETCH(bool, compress);
        QFETCH(QByteArray, field);
        Publication p;
        p.data = "7";
        p.binary = binary;
        p.compress = compress;
        const std::string body = encodePublicationBody(p, "n");
        QCOMPARE(QByteArray::fromStdString(body.substr(body.size() - 6)), field + "1:7"); // flags, then data
    }

    void oldFlagsDecodeAndBadOnesAreRefused()
    {
        Publication p;
        p.data = "1";
        std::string body = encodePublicationBody(p, "n");
        const auto flag = body.find("1:0", body.size() - 6); // the flags field, just before data
        QVERIFY(flag != std::string::npos);
        Publication back;
        std::string node;
        body[flag + 2] = '1';
        QVERIFY(decodePublicationBody(body, back, node));
        QVERIFY(back.binary && !back.compress);
        body[flag + 2] = '4';
        QVERIFY(!decodePublicationBody(body, back, node));
        body[flag + 2] = 'x';
        QVERIFY(!decodePublicationBody(body, back, node));
    }

    void replyTokenRoundTrip()
    {
        Publication p;
        p.event = "ask";
        p.data = R"({"q":1})";
        p.sender = "s1";
        p.replyTo = "node-a.0123456789abcdef0123456789abcdef.s1";
        const std::string body = encodePublicationBody(p, "node-a");
        QCOMPARE(body.front(), '2');
        Publication back;
        std::string node;
        QVERIFY(decodePublicationBody(body, back, node));
        QCOMPARE(back.replyTo, p.replyTo);
        QCOMPARE(back.data, p.data);
        // In a pub/sub message too (live delivery on another node).
        Publication live;
        std::string epoch;
        QVERIFY(decodePubSubMessage("3:ab:" + body, live, epoch, node));
        QCOMPARE(live.replyTo, p.replyTo);
        QCOMPARE(live.offset, std::uint64_t(3));
        // Without a token the body stays version 1; a version 2 body without its token is refused.
        p.replyTo.clear();
        const std::string plain = encodePublicationBody(p, "node-a");
        QCOMPARE(plain.front(), '1');
        QVERIFY(decodePublicationBody(plain, back, node));
        QVERIFY(back.replyTo.empty());
        QVERIFY(!decodePublicationBody("2" + plain.substr(1), back, node));
    }

    /// A Pusher client event on a presence channel keeps its sender's user id (version 3), with
    /// or without a reply token; bodies without one stay version 1 or 2.
    void senderUserRoundTrip_data()
    {
        QTest::addColumn<QString>("replyTo");
        QTest::newRow("no reply token") << QString();
        QTest::newRow("reply token") << QStringLiteral("node-a.0123456789abcdef0123456789abcdef.s1");
    }
    void senderUserRoundTrip()
    {
        QFETCH(QString, replyTo);
        Publication p;
        p.event = "client-typing";
        p.data = R"({"on":true})";
        p.sender = "123.456";
        p.exceptSession = "123.456";
        p.replyTo = replyTo.toStdString();
        p.senderUserId = "alice";
        const std::string body = encodePublicationBody(p, "node-a");
        QCOMPARE(body.front(), '3');
        Publication back;
        std::string node, epoch;
        QVERIFY(decodePubSubMessage("4:ab:" + body, back, epoch, node));
        QCOMPARE(back.senderUserId, p.senderUserId);
        QCOMPARE(back.replyTo, p.replyTo);
        QCOMPARE(back.data, p.data);
        QCOMPARE(back.sender, p.sender);
        QCOMPARE(node, std::string("node-a"));
        // A version 3 body without its user is refused (it would have been written as 1 or 2).
        p.senderUserId.clear();
        const std::string without = encodePublicationBody(p, "node-a");
        QCOMPARE(without.front(), replyTo.isEmpty() ? '1' : '2');
        QVERIFY(!decodePublicationBody("3" + without.substr(1) + (replyTo.isEmpty() ? "0:0:" : "0:"), back, node));
    }
};

QTEST_APPLESS_MAIN(tst_PublicationCodec)
#include "tst_publicationcodec.moc"
