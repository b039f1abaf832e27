// switchboard-gateway recovery after an epoch change: a gateway restarted without a snapshot
// starts every stream in a new epoch; a client resuming with its old position (WebSocket
// `recover`, SSE `Last-Event-ID`) gets what history holds, flagged recovered false.
// And the latest value on subscribe (WebSocket `latest`, SSE `latest=1`): the newest publication
// right after `subscribed`, then live, counted in /metrics.
#include "GatewayProcess.h"

using namespace gatewaytest;

namespace {

/// The `data:` lines of a Server-Sent Events stream, one JSON object per event.
class SseReader {
public:
    SseReader(QNetworkAccessManager &nam, const QUrl &url, const QByteArray &lastEventId)
    {
        QNetworkRequest request(url);
        request.setRawHeader("Accept", "text/event-stream");
        request.setRawHeader("Last-Event-ID", lastEventId);
        m_reply.reset(nam.get(request));
        QObject::connect(m_reply.get(), &QNetworkReply::readyRead, m_reply.get(), [this] {
            m_open = true;
            m_buffer += m_reply->readAll();
            qsizetype end;
            while ((end = m_buffer.indexOf("\n\n")) >= 0) {
                for (const QByteArray &line : m_buffer.left(end).split('\n')) {
                    if (line.startsWith("data: "))
                        events.append(QJsonDocument::fromJson(line.mid(6)).object());
                }
                m_buffer.remove(0, end + 2);
            }
        });
    }
    bool waitForEvents(qsizetype count, int timeoutMs = 5000)
    {
        return QTest::qWaitFor([&] { return events.size() >= count; }, timeoutMs);
    }
    /// The stream has begun (its first bytes, the `retry:` line, come once every channel is
    /// joined): what is published from now on reaches it.
    bool waitForOpen(int timeoutMs = 5000)
    {
        return QTest::qWaitFor([&] { return m_open; }, timeoutMs);
    }
    QList<QJsonObject> events;

private:
    std::unique_ptr<QNetworkReply> m_reply;
    QByteArray m_buffer;
    bool m_open = false;
};

struct Published {
    int offset = 0;
    QString epoch;
};

Published publishText(QNetworkAccessManager &nam, const GatewayProcess &g, const QString &text)
{
    const HttpResult r = publish(nam, g, {{"channel", "feed"}, {"event", "tick"}, {"data", text}});
    const QJsonObject p = r.json()["publications"].toArray()[0].toObject();
    return {p["offset"].toInt(), p["epoch"].toString()};
}

/// A gateway that published old1, old2 (the client saw both), was restarted without a snapshot
/// and published new1, new2 in its new epoch. Returns the client's old position.
Published restartedGateway(GatewayProcess &g, QNetworkAccessManager &nam)
{
    if (!g.start())
        return {};
    publishText(nam, g, "old1");
    const Published seen = publishText(nam, g, "old2");
    g.kill();
    if (!g.start())
        return {};
    publishText(nam, g, "new1");
    publishText(nam, g, "new2");
    return seen;
}

} // namespace

class tst_GatewayRecovery : public QObject
{
    Q_OBJECT

private slots:
    void websocketRecoverAfterEpochChange();
    void sseLastEventIdAfterEpochChange();
    void websocketLatestValue();
    void sseLatestValue();
};

void tst_GatewayRecovery::websocketRecoverAfterEpochChange()
{
    GatewayProcess g;
    QNetworkAccessManager nam;
    const Published seen = restartedGateway(g, nam);
    QCOMPARE(seen.offset, 2);
    QVERIFY(!seen.epoch.isEmpty());

    WsClient client;
    QVERIFY(client.connectSession(g));
    client.send({{"op", "subscribe"}, {"channel", "feed"}, {"ackId", 1},
                 {"recover", QJsonObject{{"offset", seen.offset}, {"epoch", seen.epoch}}}});
    const auto subscribed = client.waitFor("subscribed", 1);
    QVERIFY(subscribed);
    QCOMPARE((*subscribed)["recovered"].toBool(true), false);
    QVERIFY((*subscribed)["epoch"].toString() != seen.epoch);
    QCOMPARE((*subscribed)["offset"].toInt(), 2);
    const QJsonArray replayed = (*subscribed)["publications"].toArray();
    QCOMPARE(replayed.size(), 2);
    QCOMPARE(replayed[0].toObject()["data"].toString(), QStringLiteral("new1"));
    QCOMPARE(replayed[1].toObject()["data"].toString(), QStringLiteral("new2"));
}

void tst_GatewayRecovery::sseLastEventIdAfterEpochChange()
{
    GatewayProcess g;
    QNetworkAccessManager nam;
    const Published seen = restartedGateway(g, nam);
    QCOMPARE(seen.offset, 2);

    SseReader sse(nam, g.url("/sse?channels=feed"), "feed:2:" + seen.epoch.toLatin1());
    QVERIFY2(sse.waitForEvents(2), "the new epoch's publications are replayed");
    QCOMPARE(sse.events[0]["data"].toString(), QStringLiteral("new1"));
    QCOMPARE(sse.events[1]["data"].toString(), QStringLiteral("new2"));
    // Then live.
    publishText(nam, g, "new3");
    QVERIFY(sse.waitForEvents(3));
    QCOMPARE(sse.events[2]["data"].toString(), QStringLiteral("new3"));
}

QTEST_GUILESS_MAIN(tst_GatewayRecovery)
#include "tst_gatewayrecovery.moc"

void tst_GatewayRecovery::websocketLatestValue()
{
    GatewayProcess g;
    QVERIFY(g.start());
    QNetworkAccessManager nam;
    publishText(nam, g, "v1");
    const Published newest = publishText(nam, g, "v2");

    WsClient client;
    QVERIFY(client.connectSession(g));
    client.send({{"op", "subscribe"}, {"channel", "feed"}, {"ackId", 1}, {"latest", true}});
    const auto subscribed = client.waitFor("subscribed", 1);
    QVERIFY(subscribed);
    QCOMPARE((*subscribed)["offset"].toInt(), 2);
    QVERIFY((*subscribed)["publications"].toArray().isEmpty());
    const auto latest = client.waitFor("message");
    QVERIFY(latest);
    QCOMPARE(client.frames().size(), 0); // nothing else came with it
    QCOMPARE((*latest)["data"].toString(), QStringLiteral("v2"));
    QCOMPARE((*latest)["offset"].toInt(), newest.offset);
    QCOMPARE((*latest)["epoch"].toString(), newest.epoch);
    QCOMPARE((*latest)["latest"].toBool(), true);
    // The first `message` the socket received is the latest one (frames arrive in order).
    publishText(nam, g, "v3");
    const auto live = client.waitFor("message");
    QVERIFY(live);
    QCOMPARE((*live)["data"].toString(), QStringLiteral("v3"));
    QVERIFY(!live->contains("latest"));

    // A channel nobody published to: `subscribed` alone. A non-boolean `latest`: error 400.
    client.send({{"op", "subscribe"}, {"channel", "empty"}, {"ackId", 2}, {"latest", true}});
    QVERIFY(client.waitFor("subscribed", 2));
    client.send({{"op", "subscribe"}, {"channel", "feed2"}, {"ackId", 3}, {"latest", 1}});
    const auto refused = client.waitFor("error", 3);
    QVERIFY(refused);
    QCOMPARE((*refused)["code"].toInt(), 400);
    QVERIFY(!client.waitFor("message", -1, 200));
    QCOMPARE(metrics(nam, g).value("switchboard_latest_delivered_total"), 1.0);
}

void tst_GatewayRecovery::sseLatestValue()
{
    GatewayProcess g;
    QVERIFY(g.start());
    QNetworkAccessManager nam;
    publishText(nam, g, "v1");
    const Published newest = publishText(nam, g, "v2");

    SseReader sse(nam, g.url("/sse?channels=feed&latest=1"), {});
    QVERIFY2(sse.waitForEvents(1), "the newest publication is the first event");
    QCOMPARE(sse.events[0]["data"].toString(), QStringLiteral("v2"));
    QCOMPARE(sse.events[0]["offset"].toInt(), newest.offset);
    QCOMPARE(sse.events[0]["epoch"].toString(), newest.epoch);
    QCOMPARE(sse.events[0]["latest"].toBool(), true);
    publishText(nam, g, "v3");
    QVERIFY(sse.waitForEvents(2));
    QCOMPARE(sse.events[1]["data"].toString(), QStringLiteral("v3"));
    QCOMPARE(sse.events.size(), 2);

    // Without it nothing is replayed; a bad value is refused.
    SseReader plain(nam, g.url("/sse?channels=feed"), {});
    QVERIFY(plain.waitForOpen());
    publishText(nam, g, "v4");
    QVERIFY(plain.waitForEvents(1));
    QCOMPARE(plain.events[0]["data"].toString(), QStringLiteral("v4"));
    const HttpResult bad = http(nam, "GET", g.url("/sse?channels=feed&latest=yes"), {}, false);
    QCOMPARE(bad.status, 400);
    QCOMPARE(metrics(nam, g).value("switchboard_latest_delivered_total"), 1.0);
}
