// What every idle WebSocket connection of switchboard-gateway holds in its session object
// (server/asio/src/WebSocketSession.h), and the two compact fields that keep it small: the
// peer's address (PeerText.h) and the user id for log lines (CompactText.h).
#include "CompactText.h"
#include "PeerText.h"
#include "WebSocketSession.h"

#include <QtTest>

#include <string>

using switchboard::asio::CompactText;
using switchboard::asio::PeerAddress;
using switchboard::asio::WebSocketSession;
namespace ip = boost::asio::ip;

class TestSessionFootprint : public QObject {
    Q_OBJECT
private slots:
    void sessionObjectIsSmall();
    void peerAddressKeepsAddressAndPort_data();
    void peerAddressKeepsAddressAndPort();
    void unknownPeerReadsAsUnknown();
    void compactTextKeepsItsText();
};

void TestSessionFootprint::sessionObjectIsSmall()
{
    // docs/benchmarks.md, "Where an idle connection's memory goes": 376 bytes before the outbox
    // went to 72, the peer to 18 bytes, the user id to a pointer, the write deadline into the
    // write in flight and the frame callbacks out of the object. With the shared_ptr's control
    // block and the allocator's header: one 320-byte chunk per connection, not 400. Then 264:
    // one base for the poller's and the sweep's callbacks, the context reached through the
    // shard, and what only start() needs passed to it: a 288-byte chunk. Then 248: the frame
    // reader's limit and count in 32 bits, the close deadline derived from when the close frame
    // was written: a 272-byte chunk.
    QCOMPARE_LE(sizeof(WebSocketSession), std::size_t(248));
}

void TestSessionFootprint::peerAddressKeepsAddressAndPort_data()
{
    QTest::addColumn<QString>("address");
    QTest::addColumn<int>("port");
    QTest::addColumn<QString>("text");
    QTest::newRow("IPv4") << "192.168.1.23" << 54321 << "192.168.1.23:54321";
    QTest::newRow("IPv4 loopback, high port") << "127.0.0.1" << 65535 << "127.0.0.1:65535";
    QTest::newRow("IPv6") << "2001:db8::17" << 443 << "2001:db8::17:443";
    QTest::newRow("IPv6 loopback") << "::1" << 8080 << "::1:8080";
    QTest::newRow("IPv4-mapped IPv6 reads as IPv4") << "::ffff:10.0.0.7" << 1234 << "10.0.0.7:1234";
}

void TestSessionFootprint::peerAddressKeepsAddressAndPort()
{
    QFETCH(QString, address);
    QFETCH(int, port);
    QFETCH(QString, text);
    const ip::tcp::endpoint endpoint(ip::make_address(address.toStdString()), static_cast<unsigned short>(port));
    const PeerAddress peer(endpoint);
    QCOMPARE(peer.endpoint().port(), static_cast<unsigned short>(port));
    QCOMPARE(QString::fromStdString(peerText(peer)), text);
    if (!endpoint.address().is_v6() || !endpoint.address().to_v6().is_v4_mapped())
        QCOMPARE(peer.endpoint(), endpoint);
}

void TestSessionFootprint::unknownPeerReadsAsUnknown()
{
    QCOMPARE(peerText(PeerAddress()), std::string("?"));
}

void TestSessionFootprint::compactTextKeepsItsText()
{
    CompactText text;
    QVERIFY(text.empty());
    QCOMPARE(text.view(), std::string_view());
    text.assign("alice");
    QCOMPARE(text.view(), std::string_view("alice"));
    const std::string longId(300, 'u');
    text.assign(longId);
    QCOMPARE(text.view(), std::string_view(longId));
    const std::string withNul("a\0b", 3);
    text.assign(withNul);
    QCOMPARE(text.view(), std::string_view(withNul));
    text.assign({});
    QVERIFY(text.empty());
    QCOMPARE(text.view().size(), std::size_t(0));
}

QTEST_GUILESS_MAIN(TestSessionFootprint)
#include "tst_sessionfootprint.moc"
