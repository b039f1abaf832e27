// switchboard-gateway's per-channel slow-consumer policies (--channel-policy) under a reader
// that stops reading: latest-only keeps the newest pending frame per key and delivers it once
// the reader resumes; drop-oldest keeps the newest frames; both are counted in /metrics.
#include "GatewayProcess.h"
#include "RawWebSocket.h"

#include <QFile>

#include <map>

using namespace gatewaytest;

namespace {

const QString kPad(32 * 1024, 'x');

/// Resident memory of a process in KiB (Linux /proc), -1 when unknown.
qint64 residentKiB(qint64 pid)
{
    QFile status(QStringLiteral("/proc/%1/status").arg(pid));
    if (!status.open(QIODevice::ReadOnly))
        return -1;
    for (const QByteArray &line : status.readAll().split('\n')) {
        if (line.startsWith("VmRSS:"))
            return line.mid(6).trimmed().split(' ').value(0).toLongLong();
    }
    return -1;
}

/// A raw client connected and subscribed to `channel`.
bool subscribe(RawWebSocket &client, const GatewayProcess &g, const QString &channel)
{
    if (!client.open(g.port()))
        return false;
    client.sendText(R"({"op":"connect","version":1})");
    if (!client.waitForOp("welcome"))
        return false;
    client.sendText(QStringLiteral(R"({"op":"subscribe","channel":"%1","ackId":1})").arg(channel).toUtf8());
    return client.waitForOp("subscribed").has_value();
}

/// The `message` frames before the pong that answers a ping sent now (read for 20 s at most).
std::optional<std::vector<QJsonObject>> messagesUntilPong(RawWebSocket &client)
{
    client.sendText(R"({"op":"ping","ackId":99})");
    std::vector<QJsonObject> messages;
    QDeadlineTimer deadline(20000);
    while (const auto frame = client.nextFrame(int(std::max<qint64>(deadline.remainingTime(), 0)))) {
        if (frame->opcode != 0x1)
            return std::nullopt;
        const QJsonObject object = QJsonDocument::fromJson(frame->payload).object();
        const QString op = object.value("op").toString();
        if (op == "pong")
            return messages;
        if (op != "message")
            return std::nullopt;
        messages.push_back(object.value("data").toObject());
    }
    return std::nullopt;
}

} // namespace

class tst_GatewayChannelPolicy : public QObject
{
    Q_OBJECT

private slots:
    void latestOnlyPerKeyUnderStalledReader();
    void dropOldestKeepsTheNewest();
};

void tst_GatewayChannelPolicy::latestOnlyPerKeyUnderStalledReader()
{
    GatewayProcess g;
    g.disableAsanQuarantine(); // its RSS is measured
    // 16 frames of outbox: without conflation a stalled reader overflows it at once.
    QVERIFY(g.start({"--outbox-frames", "16", "--channel-policy", "sensors/=latest-only:id", "--history", "=0"}));
    RawWebSocket client;
    QVERIFY(subscribe(client, g, "sensors/hall"));

    // The client stops reading; once the kernel's buffers are full the gateway's write waits and
    // every publication stays pending in the outbox, where a newer one of its sensor replaces it.
    client.pauseReading();
    const QStringList sensors{"s0", "s1", "s2", "s3"};
    QNetworkAccessManager nam;
    int published = 0;
    QDeadlineTimer deadline(60000);
    qint64 peakKiB = 0;
    while (metrics(nam, g).value("switchboard_conflated_total") < 256 && !deadline.hasExpired()) {
        QJsonArray publications;
        for (int i = 0; i < 16; ++i) {
            publications.append(QJsonObject{{"channel", "sensors/hall"},
                                            {"data", QJsonObject{{"id", sensors[i % 4]}, {"n", published + i}, {"pad", kPad}}}});
        }
        QCOMPARE(publish(nam, g, {{"publications", publications}}).status, 200);
        published += 16;
        peakKiB = std::max(peakKiB, residentKiB(g.pid()));
    }
    const qint64 stalledKiB = residentKiB(g.pid());
    // The newest value of each sensor, published last, small.
    QJsonArray last;
    for (const QString &sensor : sensors)
        last.append(QJsonObject{{"channel", "sensors/hall"}, {"data", QJsonObject{{"id", sensor}, {"n", -1}}}});
    QCOMPARE(publish(nam, g, {{"publications", last}}).status, 200);
    published += 4;
    auto m = metrics(nam, g);
    const double conflated = m.value("switchboard_conflated_total");
    qInfo("%d publications of 32 KiB to a stalled reader: %.0f conflated; gateway RSS %lld KiB (peak %lld)", published,
          conflated, stalledKiB, peakKiB);
    QVERIFY2(conflated >= 256, "the reader never stalled the gateway's writes");
    QCOMPARE(m.value("switchboard_drops_total"), 0.0); // at most one pending frame per sensor: never full

    client.resumeReading();
    const auto messages = messagesUntilPong(client);
    QVERIFY2(messages, "no pong after resuming");
    // Every publication was either written or replaced by a newer one of its sensor.
    QCOMPARE(double(messages->size()) + conflated, double(published));
    std::map<QString, int> lastN;
    for (const QJsonObject &data : *messages) {
        const QString sensor = data.value("id").toString();
        const int n = data.value("n").toInt();
        if (lastN.count(sensor) && lastN[sensor] != -1 && n != -1)
            QVERIFY2(n > lastN[sensor], "a sensor's values out of order");
        lastN[sensor] = n;
    }
    // Each sensor's newest value arrived, and last of that sensor.
    for (const QString &sensor : sensors)
        QCOMPARE(lastN[sensor], -1);
    // The last frames written are the pending ones: one per sensor, whatever was published.
    QVERIFY(messages->size() >= 4);
    for (std::size_t i = messages->size() - 4; i < messages->size(); ++i)
        QCOMPARE((*messages)[i].value("n").toInt(), -1);
    QVERIFY2(peakKiB < 256 * 1024, qPrintable(QString::number(peakKiB)));
}

void tst_GatewayChannelPolicy::dropOldestKeepsTheNewest()
{
    GatewayProcess g;
    QVERIFY(g.start({"--outbox-frames", "8", "--channel-policy", "log/=drop-oldest", "--history", "=0"}));
    RawWebSocket client;
    QVERIFY(subscribe(client, g, "log/app"));
    client.pauseReading();
    QNetworkAccessManager nam;
    int published = 0;
    QDeadlineTimer deadline(60000);
    while (metrics(nam, g).value("switchboard_drops_total") < 64 && !deadline.hasExpired()) {
        QJsonArray publications;
        for (int i = 0; i < 16; ++i)
            publications.append(QJsonObject{{"channel", "log/app"}, {"data", QJsonObject{{"n", published + i}, {"pad", kPad}}}});
        QCOMPARE(publish(nam, g, {{"publications", publications}}).status, 200);
        published += 16;
    }
    QVERIFY2(metrics(nam, g).value("switchboard_drops_total") >= 64, "the outbox never overflowed");
    QCOMPARE(publish(nam, g, {{"channel", "log/app"}, {"data", QJsonObject{{"n", published}}}}).status, 200);
    ++published;

    client.resumeReading();
    const auto messages = messagesUntilPong(client);
    QVERIFY2(messages, "no pong after resuming");
    const auto m = metrics(nam, g);
    QCOMPARE(double(messages->size()) + m.value("switchboard_drops_total"), double(published));
    QCOMPARE(m.value("switchboard_conflated_total"), 0.0);
    // The oldest pending frames made room: the newest publication arrived, last, and in order.
    QCOMPARE(messages->back().value("n").toInt(), published - 1);
    for (std::size_t i = 1; i < messages->size(); ++i)
        QVERIFY((*messages)[i].value("n").toInt() > (*messages)[i - 1].value("n").toInt());
    QCOMPARE(m.value("switchboard_websocket_connections"), 1.0);
}

QTEST_MAIN(tst_GatewayChannelPolicy)
#include "tst_gatewaychannelpolicy.moc"
