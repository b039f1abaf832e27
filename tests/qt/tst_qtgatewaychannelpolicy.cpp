// QtWebSocketGateway with per-channel slow-consumer policies (HubOptions::channelPolicies) and a
// raw peer on 127.0.0.1 that stops reading: a latest-only channel keyed by a data field keeps one
// pending frame per key, and the peer gets each key's newest value once it reads again.
#include "RawWebSocketPeer.h"

#include <switchboard/Hub.h>
#include <switchboard/ServerProtocol.h>
#include <switchboard/qtws/QtTimer.h>
#include <switchboard/qtws/QtWebSocketGateway.h>

#include <QElapsedTimer>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTest>

#include <map>
#include <string>
#include <vector>

using namespace switchboard;
using namespace switchboard::qtws;
using testsupport::RawWebSocketPeer;

namespace {

struct Server {
    Server(QtGatewayOptions options, HubOptions hubOptions)
        : hub(timer, hubOptions), protocol(hub, timer), gateway(hub, protocol, options)
    {
    }
    QtTimer timer;
    Hub hub;
    ServerProtocol protocol;
    QtWebSocketGateway gateway;
};

QJsonObject textOf(const testsupport::ServerFrame &frame)
{
    return QJsonDocument::fromJson(frame.payload).object();
}

} // namespace

class TestQtGatewayChannelPolicy : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void latestOnlyPerKeyUnderStalledReader()
    {
        QtGatewayOptions options;
        options.socketSendBufferSize = 16 * 1024;
        HubOptions hubOptions;
        hubOptions.outbox.maxFrames = 16; // without conflation a stalled reader overflows it at once
        hubOptions.channelPolicies = {parseChannelPolicyRule("sensors/=latest-only:id")};
        Server server(options, hubOptions);
        QVERIFY(server.gateway.listen());

        RawWebSocketPeer peer;
        QVERIFY(peer.open(server.gateway.serverPort()));
        peer.sendText(R"({"op":"connect","version":1})");
        peer.sendText(R"({"op":"subscribe","channel":"sensors/hall"})");
        QVERIFY(peer.nextText()); // welcome
        QVERIFY(peer.nextText()); // subscribed
        // From here on the peer reads nothing: Qt stops at 4 KB and the kernel buffers fill.
        peer.socket.setReadBufferSize(4096);

        const std::vector<std::string> sensors{"s0", "s1", "s2", "s3"};
        const std::string pad(16 * 1024, 'x');
        int published = 0;
        qint64 peakBuffered = 0;
        QElapsedTimer clock;
        clock.start();
        while (server.hub.counters().conflated < 256 && clock.elapsed() < 30'000) {
            for (int i = 0; i < 16; ++i, ++published) {
                server.hub.broadcast("sensors/hall", "t",
                                     R"({"id":")" + sensors[std::size_t(i) % 4] + R"(","n":)" + std::to_string(published)
                                         + R"(,"pad":")" + pad + R"("})");
            }
            QCoreApplication::processEvents(QEventLoop::AllEvents, 20);
            peakBuffered = std::max(peakBuffered, server.gateway.bufferedBytes());
        }
        for (const std::string &sensor : sensors) {
            server.hub.broadcast("sensors/hall", "t", R"({"id":")" + sensor + R"(","n":-1})");
            ++published;
        }
        const HubCounters stalled = server.hub.counters();
        qInfo("%d publications of 16 KiB to a stalled reader: %llu conflated, at most %lld bytes buffered", published,
              static_cast<unsigned long long>(stalled.conflated), peakBuffered);
        QVERIFY2(stalled.conflated >= 256, "the reader never stalled the gateway's writes");
        QCOMPARE(stalled.drops, 0u); // at most one pending frame per sensor: never full
        // Bounded by the outbox byte limit plus one message, however much was published.
        QVERIFY(peakBuffered <= qint64(hubOptions.outbox.maxBytes + 64 * 1024));

        peer.socket.setReadBufferSize(0);
        peer.sendText(R"({"op":"ping","ackId":7})");
        std::vector<QJsonObject> messages;
        while (true) {
            const auto frame = peer.nextText(20'000);
            QVERIFY2(frame, "no pong after resuming");
            const QJsonObject object = textOf(*frame);
            if (object.value("op").toString() == QLatin1String("pong"))
                break;
            QCOMPARE(object.value("op").toString(), QStringLiteral("message"));
            messages.push_back(object.value("data").toObject());
        }
        const HubCounters after = server.hub.counters();
        // Every publication was either written or replaced by a newer one of its sensor.
        QCOMPARE(std::uint64_t(messages.size()) + after.conflated, std::uint64_t(published));
        std::map<QString, int> lastN;
        for (const QJsonObject &data : messages) {
            const QString sensor = data.value("id").toString();
            const int n = data.value("n").toInt();
            if (lastN.count(sensor) && n != -1)
                QVERIFY2(lastN[sensor] != -1 && n > lastN[sensor], "a sensor's values out of order");
            lastN[sensor] = n;
        }
        for (const std::string &sensor : sensors)
            QCOMPARE(lastN[QString::fromStdString(sensor)], -1);
        QVERIFY(messages.size() >= 4);
        for (std::size_t i = messages.size() - 4; i < messages.size(); ++i)
            QCOMPARE(messages[i].value("n").toInt(), -1);
    }
};

QTEST_GUILESS_MAIN(TestQtGatewayChannelPolicy)
#include "tst_qtgatewaychannelpolicy.moc"
