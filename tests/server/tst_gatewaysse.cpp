// switchboard-gateway Server-Sent Events streams and their deadlines: a private stream ends at
// its token's expiry with `event: disconnect` (3004), a client that stops reading is dropped
// after the write-progress deadline, and a latest-only channel conflates for a stalled stream.
#include "GatewayProcess.h"

#include <QDateTime>
#include <QElapsedTimer>
#include <QTcpSocket>

#include <vector>

using namespace gatewaytest;

namespace {

qint64 nowSeconds()
{
    return QDateTime::currentSecsSinceEpoch();
}

/// An SSE stream read over a plain socket: the raw bytes, so a test sees exactly what the
/// gateway wrote and when the stream ended.
class RawSse {
public:
    bool open(quint16 port, const QByteArray &target)
    {
        m_reading = QObject::connect(&socket, &QTcpSocket::readyRead, &socket, [this] { received += socket.readAll(); });
        socket.connectToHost(QHostAddress::LocalHost, port);
        if (!socket.waitForConnected(5000))
            return false;
        socket.write("GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n");
        return true;
    }
    bool waitFor(const QByteArray &text, int timeoutMs = 5000)
    {
        QDeadlineTimer deadline(timeoutMs);
        while (!received.contains(text) && !deadline.hasExpired())
            QTest::qWait(5);
        return received.contains(text);
    }
    bool waitClosed(int timeoutMs = 5000)
    {
        QDeadlineTimer deadline(timeoutMs);
        while (socket.state() != QAbstractSocket::UnconnectedState && !deadline.hasExpired())
            QTest::qWait(5);
        return socket.state() == QAbstractSocket::UnconnectedState;
    }
    /// The JSON of the first `event: <name>` block.
    QJsonObject eventData(const QByteArray &name) const
    {
        const int at = received.indexOf("event: " + name + "\n");
        if (at < 0)
            return {};
        const int end = received.indexOf("\n\n", at);
        QByteArray data;
        for (const QByteArray &line : received.mid(at, end - at).split('\n')) {
            if (line.startsWith("data: "))
                data += line.mid(6);
        }
        return QJsonDocument::fromJson(data).object();
    }

    /// From here on the client reads nothing: what arrives stays in the kernel's buffers.
    void stopReading()
    {
        QObject::disconnect(m_reading);
        socket.setReadBufferSize(1024);
    }
    /// Reads again: what waited in the kernel's buffers arrives.
    void resumeReading()
    {
        socket.setReadBufferSize(0);
        m_reading = QObject::connect(&socket, &QTcpSocket::readyRead, &socket, [this] { received += socket.readAll(); });
        received += socket.readAll();
    }
    /// The `data` of every message event received, in order.
    std::vector<QJsonObject> messageData() const
    {
        std::vector<QJsonObject> out;
        for (const QByteArray &line : received.split('\n')) {
            if (!line.startsWith("data: "))
                continue;
            const QJsonObject frame = QJsonDocument::fromJson(line.mid(6)).object();
            if (frame.value("op").toString() == QLatin1String("message"))
                out.push_back(frame.value("data").toObject());
        }
        return out;
    }

    QTcpSocket socket;
    QByteArray received;

private:
    QMetaObject::Connection m_reading;
};

} // namespace

class tst_GatewaySse : public QObject
{
    Q_OBJECT

private slots:
    void streamEndsAtTokenExpiry();
    void stalledStreamDropped();
    void latestOnlyForStalledStream();
};

void tst_GatewaySse::streamEndsAtTokenExpiry()
{
    GatewayProcess g;
    QVERIFY(g.start());
    QNetworkAccessManager nam;
    const QString token = makeToken({{"sub", "ops"}, {"channels", QJsonArray{"private-ops"}}, {"exp", nowSeconds() + 2}});
    RawSse sse;
    QElapsedTimer clock;
    clock.start();
    QVERIFY(sse.open(g.port(), "/sse?channels=private-ops&token=" + token.toLatin1()));
    QVERIFY(sse.waitFor("retry:"));
    QCOMPARE(publish(nam, g, {{"channel", "private-ops"}, {"data", "before expiry"}}).status, 200);
    QVERIFY(sse.waitFor("before expiry"));

    // exp has a one-second resolution: the stream ends one to two seconds after it opened.
    QVERIFY(sse.waitFor("event: disconnect", 5000));
    QVERIFY(clock.elapsed() >= 900);
    const QJsonObject disconnect = sse.eventData("disconnect");
    QCOMPARE(disconnect["code"].toInt(), 3004);
    QCOMPARE(disconnect["reason"].toString(), QStringLiteral("token expired"));
    QCOMPARE(disconnect["reconnect"].toBool(), true);
    QVERIFY(sse.waitClosed());

    const auto m = metrics(nam, g);
    QCOMPARE(m.value("switchboard_token_expirations_total"), 1.0);
    QCOMPARE(m.value("switchboard_sse_connections"), 0.0);
}

void tst_GatewaySse::stalledStreamDropped()
{
    GatewayProcess g;
    QVERIFY(g.start({"--write-timeout", "500"}));
    RawSse stalled;
    QVERIFY(stalled.open(g.port(), "/sse?channels=big"));
    QVERIFY(stalled.waitFor("retry:"));
    stalled.stopReading();

    // Far more than the socket buffers hold: the gateway's write stops making progress.
    QNetworkAccessManager nam;
    const QString payload(400 * 1024, 'x');
    for (int i = 0; i < 60; ++i)
        QCOMPARE(publish(nam, g, {{"channel", "big"}, {"data", payload}}).status, 200);
    QTRY_COMPARE_WITH_TIMEOUT(metrics(nam, g).value("switchboard_sse_write_timeouts_total"), 1.0, 5000);
    QTRY_COMPARE_WITH_TIMEOUT(metrics(nam, g).value("switchboard_sse_connections"), 0.0, 5000);
}

void tst_GatewaySse::latestOnlyForStalledStream()
{
    // The SSE stream queues in the same outbox as WebSocket: a latest-only:id channel keeps one
    // pending event per sensor for a stream that stopped reading.
    GatewayProcess g;
    QVERIFY(g.start({"--outbox-frames", "16", "--channel-policy", "sensors/=latest-only:id", "--history", "=0"}));
    RawSse sse;
    QVERIFY(sse.open(g.port(), "/sse?channels=sensors/hall"));
    QVERIFY(sse.waitFor("retry:"));
    sse.stopReading();

    QNetworkAccessManager nam;
    const QString pad(32 * 1024, 'x');
    const QStringList sensors{"s0", "s1", "s2", "s3"};
    int published = 0;
    QDeadlineTimer deadline(60000);
    while (metrics(nam, g).value("switchboard_conflated_total") < 256 && !deadline.hasExpired()) {
        QJsonArray publications;
        for (int i = 0; i < 16; ++i)
            publications.append(QJsonObject{{"channel", "sensors/hall"},
                                            {"data", QJsonObject{{"id", sensors[i % 4]}, {"n", published + i}, {"pad", pad}}}});
        QCOMPARE(publish(nam, g, {{"publications", publications}}).status, 200);
        published += 16;
    }
    QJsonArray last;
    for (const QString &sensor : sensors)
        last.append(QJsonObject{{"channel", "sensors/hall"}, {"data", QJsonObject{{"id", sensor}, {"n", -1}}}});
    QCOMPARE(publish(nam, g, {{"publications", last}}).status, 200);
    published += 4;
    const double conflated = metrics(nam, g).value("switchboard_conflated_total");
    QVERIFY2(conflated >= 256, "the stream never stalled the gateway's writes");
    QCOMPARE(metrics(nam, g).value("switchboard_drops_total"), 0.0);

    sse.resumeReading();
    QTRY_COMPARE_WITH_TIMEOUT(int(sse.messageData().size()), published - int(conflated), 20000);
    const std::vector<QJsonObject> messages = sse.messageData();
    for (std::size_t i = messages.size() - 4; i < messages.size(); ++i)
        QCOMPARE(messages[i].value("n").toInt(), -1);
    QStringList lastSensors;
    for (std::size_t i = messages.size() - 4; i < messages.size(); ++i)
        lastSensors.append(messages[i].value("id").toString());
    lastSensors.sort();
    QCOMPARE(lastSensors, sensors);
}

QTEST_GUILESS_MAIN(tst_GatewaySse)
#include "tst_gatewaysse.moc"
