// switchboard-gateway delivery paths: WebSocket subscribe + HTTP publish, SSE with filter and
// Last-Event-ID resume, HTTP API answers and bad input, /metrics reflecting the traffic.
#include "GatewayProcess.h"

#include <QElapsedTimer>
#include <QStandardPaths>
#include <QTcpSocket>
#include <QTemporaryDir>

using namespace gatewaytest;

namespace {

struct SseEvent {
    QByteArray id;
    QByteArray event;
    QJsonObject data;
};

/// A Server-Sent Events stream read through QNetworkAccessManager.
class SseClient {
public:
    SseClient(QNetworkAccessManager &nam, const QUrl &url, const QByteArray &lastEventId = {})
    {
        QNetworkRequest request(url);
        request.setRawHeader("Accept", "text/event-stream");
        if (!lastEventId.isEmpty())
            request.setRawHeader("Last-Event-ID", lastEventId);
        m_reply.reset(nam.get(request));
        QObject::connect(m_reply.get(), &QNetworkReply::readyRead, m_reply.get(), [this] {
            m_buffer += m_reply->readAll();
            int end;
            while ((end = m_buffer.indexOf("\n\n")) >= 0) {
                const QByteArray block = m_buffer.left(end);
                m_buffer.remove(0, end + 2);
                SseEvent e;
                QByteArray data;
                for (const QByteArray &line : block.split('\n')) {
                    if (line.startsWith("id: ")) e.id = line.mid(4);
                    else if (line.startsWith("event: ")) e.event = line.mid(7);
                    else if (line.startsWith("data: ")) data += line.mid(6);
                }
                if (!data.isEmpty()) {
                    e.data = QJsonDocument::fromJson(data).object();
                    events.append(e);
                }
            }
        });
    }
    bool waitForEvents(int count, int timeoutMs = 5000)
    {
        QDeadlineTimer deadline(timeoutMs);
        while (events.size() < count && !deadline.hasExpired())
            QTest::qWait(5);
        return events.size() >= count;
    }
    int status() const { return m_reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt(); }
    QList<SseEvent> events;

private:
    std::unique_ptr<QNetworkReply> m_reply;
    QByteArray m_buffer;
};

bool subscribe(WsClient &c, const QString &channel, int ackId)
{
    c.send({{"op", "subscribe"}, {"channel", channel}, {"ackId", ackId}});
    return c.waitFor("subscribed", ackId).has_value();
}

/// Waits until /metrics shows `name` >= `value`.
bool waitMetric(QNetworkAccessManager &nam, const GatewayProcess &g, const QString &name, double value)
{
    QDeadlineTimer deadline(5000);
    while (!deadline.hasExpired()) {
        if (metrics(nam, g).value(name) >= value)
            return true;
        QTest::qWait(20);
    }
    return false;
}

} // namespace

class tst_GatewayDelivery : public QObject
{
    Q_OBJECT

private slots:
    void websocketReceivesHttpPublish();
    void doublesArriveAsPublished();
    void batchPublishReachesEveryChannel();
    void sseFilterAndResume();
    void subscribeAndUnsubscribeAreIdempotent();
    void historyAndChannels();
    void channelsListsHistoryWithoutSubscribers();
    void apiRefusesBadRequests_data();
    void apiRefusesBadRequests();
    void malformedHttpIsAnswered400();
    void metricsReflectTraffic();
    void fanOutIsWrittenInOneRound_data();
    void fanOutIsWrittenInOneRound();
    void healthAndStaticFiles();
    void tlsServesWssAndHttps();
};

void tst_GatewayDelivery::websocketReceivesHttpPublish()
{
    GatewayProcess g;
    QVERIFY(g.start());
    WsClient client;
    QVERIFY(client.connectSession(g));
    QVERIFY(subscribe(client, "news", 1));

    QNetworkAccessManager nam;
    const auto r = publish(nam, g, {{"channel", "news"}, {"event", "update"}, {"data", QJsonObject{{"n", 1}}}});
    QCOMPARE(r.status, 200);
    QCOMPARE(r.json()["publications"].toArray()[0].toObject()["offset"].toInt(), 1);
    const auto message = client.waitFor("message");
    QVERIFY(message);
    QCOMPARE((*message)["channel"].toString(), "news");
    QCOMPARE((*message)["event"].toString(), "update");
    QCOMPARE((*message)["data"].toObject()["n"].toInt(), 1);
    QCOMPARE((*message)["offset"].toInt(), 1);
}

void tst_GatewayDelivery::doublesArriveAsPublished()
{
    // Doubles whose text the JSON library of the gateway's build once read one unit in the last
    // place off: a WebSocket and an SSE subscriber get the publisher's value, bit for bit.
    const double values[] = {474.59380568556355, 1.3927926388013963E-143, 5.409760742964738E124, 0.1 + 0.2};
    GatewayProcess g;
    QVERIFY(g.start());
    WsClient client;
    QVERIFY(client.connectSession(g));
    QVERIFY(subscribe(client, "readings", 1));
    QNetworkAccessManager nam;
    SseClient sse(nam, g.url("/sse?channels=readings"));
    QTRY_COMPARE_WITH_TIMEOUT(sse.status(), 200, 5000);

    QJsonArray published;
    for (const double v : values)
        published.append(v);
    QCOMPARE(publish(nam, g, {{"channel", "readings"}, {"event", "e"}, {"data", QJsonObject{{"v", published}}}}).status,
             200);
    const auto message = client.waitFor("message");
    QVERIFY(message);
    QVERIFY(sse.waitForEvents(1));
    const QJsonArray overWebSocket = (*message)["data"].toObject()["v"].toArray();
    const QJsonArray overSse = sse.events[0].data["data"].toObject()["v"].toArray();
    QCOMPARE(overWebSocket.size(), published.size());
    QCOMPARE(overSse.size(), published.size());
    for (qsizetype i = 0; i < published.size(); ++i) {
        // Exact comparisons: QCOMPARE on doubles would accept a neighbour.
        QVERIFY2(overWebSocket[i].toDouble() == values[i], qPrintable(QString::number(overWebSocket[i].toDouble(), 'g', 17)));
        QVERIFY2(overSse[i].toDouble() == values[i], qPrintable(QString::number(overSse[i].toDouble(), 'g', 17)));
    }
}

void tst_GatewayDelivery::batchPublishReachesEveryChannel()
{
    GatewayProcess g;
    QVERIFY(g.start());
    WsClient a, b;
    QVERIFY(a.connectSession(g));
    QVERIFY(b.connectSession(g));
    QVERIFY(subscribe(a, "alpha", 1));
    QVERIFY(subscribe(b, "beta", 1));
    QNetworkAccessManager nam;
    const QJsonObject batch{{"publications", QJsonArray{
        QJsonObject{{"channels", QJsonArray{"alpha", "beta"}}, {"event", "both"}, {"data", 1}},
        QJsonObject{{"channel", "beta"}, {"event", "only-beta"}, {"data", "x"}}}}};
    const auto r = publish(nam, g, batch);
    QCOMPARE(r.status, 200);
    QCOMPARE(r.json()["publications"].toArray().size(), 3);
    QCOMPARE(a.waitFor("message")->value("event").toString(), "both");
    QCOMPARE(b.waitFor("message")->value("event").toString(), "both");
    QCOMPARE(b.waitFor("message")->value("event").toString(), "only-beta");
    QVERIFY(!a.waitFor("message", -1, 200)); // nothing else for alpha
}

void tst_GatewayDelivery::sseFilterAndResume()
{
    GatewayProcess g;
    QVERIFY(g.start());
    QNetworkAccessManager nam;
    const QUrl url = g.url("/sse?channels=incidents,system&filter=severity=SEV-1");
    std::optional<SseClient> sse;
    sse.emplace(nam, url);
    QTRY_COMPARE_WITH_TIMEOUT(sse->status(), 200, 5000);

    auto incident = [&](const char *severity, int n) {
        return publish(nam, g, {{"channel", "incidents"}, {"event", "incident_created"},
                                {"data", QJsonObject{{"severity", severity}, {"n", n}}}}).status;
    };
    QCOMPARE(incident("SEV-1", 1), 200);
    QCOMPARE(incident("SEV-2", 2), 200); // filtered out
    QCOMPARE(incident("SEV-1", 3), 200);
    QVERIFY(sse->waitForEvents(2));
    QCOMPARE(sse->events[0].data["data"].toObject()["n"].toInt(), 1);
    QCOMPARE(sse->events[1].data["data"].toObject()["n"].toInt(), 3);
    QVERIFY(sse->events[0].id.startsWith("incidents:1:"));
    QVERIFY(sse->events[1].id.startsWith("incidents:3:"));
    const QByteArray resumeFrom = sse->events[0].id;
    sse.reset(); // the client goes away

    QCOMPARE(incident("SEV-1", 4), 200);
    QCOMPARE(incident("SEV-3", 5), 200);
    // Resuming after n=1 replays n=3 and n=4 from history (n=2, n=5 filtered), then goes live.
    SseClient resumed(nam, url, resumeFrom);
    QVERIFY(resumed.waitForEvents(2));
    QCOMPARE(resumed.events[0].data["data"].toObject()["n"].toInt(), 3);
    QCOMPARE(resumed.events[1].data["data"].toObject()["n"].toInt(), 4);
    QCOMPARE(incident("SEV-1", 6), 200);
    QVERIFY(resumed.waitForEvents(3));
    QCOMPARE(resumed.events[2].data["data"].toObject()["n"].toInt(), 6);
    QVERIFY(resumed.events[2].id.startsWith("incidents:6:"));
    QVERIFY(!resumed.waitForEvents(4, 200));
}

void tst_GatewayDelivery::subscribeAndUnsubscribeAreIdempotent()
{
    GatewayProcess g;
    QVERIFY(g.start());
    QNetworkAccessManager nam;
    WsClient c;
    QVERIFY(c.connectSession(g));
    QVERIFY(subscribe(c, "room/1", 1));
    QCOMPARE(publish(nam, g, {{"channel", "room/1"}, {"event", "e"}, {"data", 1}}).status, 200);
    QVERIFY(c.waitFor("message"));
    // A second subscribe answers subscribed at the current position; still one subscription.
    c.send({{"op", "subscribe"}, {"channel", "room/1"}, {"ackId", 2}});
    const auto again = c.waitFor("subscribed", 2);
    QVERIFY2(again, "a second subscribe was not answered with subscribed");
    QCOMPARE(again->value("offset").toInt(), 1);
    QVERIFY(!again->value("epoch").toString().isEmpty());
    QCOMPARE(publish(nam, g, {{"channel", "room/1"}, {"event", "e"}, {"data", 2}}).status, 200);
    QVERIFY(c.waitFor("message"));
    QVERIFY(!c.waitFor("message", -1, 200)); // delivered once
    // Unsubscribing twice: unsubscribed both times, no error.
    c.send({{"op", "unsubscribe"}, {"channel", "room/1"}, {"ackId", 3}});
    QVERIFY(c.waitFor("unsubscribed", 3));
    c.send({{"op", "unsubscribe"}, {"channel", "room/1"}, {"ackId", 4}});
    QVERIFY2(c.waitFor("unsubscribed", 4), "a second unsubscribe was not answered with unsubscribed");
    QVERIFY(!c.waitFor("error", -1, 100));
}

void tst_GatewayDelivery::historyAndChannels()
{
    GatewayProcess g;
    QVERIFY(g.start());
    WsClient client;
    QVERIFY(client.connectSession(g));
    QVERIFY(subscribe(client, "room/1", 1));
    QNetworkAccessManager nam;
    for (int i = 1; i <= 3; ++i)
        QCOMPARE(publish(nam, g, {{"channel", "room/1"}, {"event", "e"}, {"data", i}}).status, 200);
    const auto all = http(nam, "GET", g.url("/api/history?channel=room/1"));
    QCOMPARE(all.status, 200);
    QCOMPARE(all.json()["publications"].toArray().size(), 3);
    QCOMPARE(all.json()["offset"].toInt(), 3);
    const QString epoch = all.json()["epoch"].toString();
    const auto since = http(nam, "GET", g.url("/api/history?channel=room/1&since=1&epoch=" + epoch));
    QCOMPARE(since.status, 200);
    const auto pubs = since.json()["publications"].toArray();
    QCOMPARE(pubs.size(), 2);
    QCOMPARE(pubs[0].toObject()["data"].toInt(), 2);
    QVERIFY(since.json()["complete"].toBool());

    const auto channels = http(nam, "GET", g.url("/api/channels"));
    QCOMPARE(channels.status, 200);
    const auto list = channels.json()["channels"].toArray();
    QCOMPARE(list.size(), 1);
    QCOMPARE(list[0].toObject()["name"].toString(), "room/1");
    QCOMPARE(list[0].toObject()["subscribers"].toInt(), 1);
}

void tst_GatewayDelivery::channelsListsHistoryWithoutSubscribers()
{
    // /api/channels lists the channels with subscribers and those with history (0 subscribers):
    // `news` was published to with nobody subscribed, `room/1`'s last subscriber left; both keep
    // history. `brief/` keeps it for 1 s only: it drops out of the list when it expires.
    GatewayProcess g;
    QVERIFY(g.start({"--history", "=100:300", "--history", "brief/=10:1"}));
    QNetworkAccessManager nam;
    {
        WsClient client;
        QVERIFY(client.connectSession(g));
        QVERIFY(subscribe(client, "room/1", 1));
        QCOMPARE(publish(nam, g, {{"channel", "room/1"}, {"event", "e"}, {"data", 1}}).status, 200);
    }
    QCOMPARE(publish(nam, g, {{"channel", "news"}, {"event", "e"}, {"data", 1}}).status, 200);
    QCOMPARE(publish(nam, g, {{"channel", "brief/x"}, {"event", "e"}, {"data", 1}}).status, 200);
    const auto listed = [&] {
        QMap<QString, int> subscribers;
        const auto answer = http(nam, "GET", g.url("/api/channels"));
        for (const QJsonValue &c : answer.json()["channels"].toArray())
            subscribers.insert(c.toObject()["name"].toString(), c.toObject()["subscribers"].toInt());
        return subscribers;
    };
    QTRY_COMPARE_WITH_TIMEOUT(listed(), (QMap<QString, int>{{"brief/x", 0}, {"news", 0}, {"room/1", 0}}), 5000);
    const auto news = http(nam, "GET", g.url("/api/channels")).json()["channels"].toArray()[1].toObject();
    QCOMPARE(news["type"].toString(), "public");
    QCOMPARE(news["published"].toInt(), 0); // fanned out on this node: to nobody
    QTRY_COMPARE_WITH_TIMEOUT(listed(), (QMap<QString, int>{{"news", 0}, {"room/1", 0}}), 5000);
}

void tst_GatewayDelivery::apiRefusesBadRequests_data()
{
    QTest::addColumn<QByteArray>("method");
    QTest::addColumn<QString>("path");
    QTest::addColumn<QByteArray>("body");
    QTest::addColumn<bool>("withKey");
    QTest::addColumn<int>("status");
    QTest::newRow("no key") << QByteArray("POST") << "/api/publish" << QByteArray(R"({"channel":"a","data":1})") << false << 401;
    QTest::newRow("bad json") << QByteArray("POST") << "/api/publish" << QByteArray("{nope") << true << 400;
    QTest::newRow("no channel") << QByteArray("POST") << "/api/publish" << QByteArray(R"({"data":1})") << true << 400;
    QTest::newRow("bad channel") << QByteArray("POST") << "/api/publish" << QByteArray(R"({"channel":"a b","data":1})") << true << 422;
    QTest::newRow("bad event") << QByteArray("POST") << "/api/publish" << QByteArray(R"({"channel":"a","event":"a b","data":1})") << true << 422;
    QTest::newRow("too large") << QByteArray("POST") << "/api/publish" << QByteArray(R"({"channel":"a","data":")") + QByteArray(5000, 'x') + "\"}" << true << 413;
    QTest::newRow("wrong method") << QByteArray("GET") << "/api/publish" << QByteArray() << true << 405;
    QTest::newRow("unknown endpoint") << QByteArray("GET") << "/api/nope" << QByteArray() << true << 404;
    QTest::newRow("presence of public") << QByteArray("GET") << "/api/presence?channel=news" << QByteArray() << true << 400;
    QTest::newRow("history without channel") << QByteArray("GET") << "/api/history" << QByteArray() << true << 422;
}

void tst_GatewayDelivery::apiRefusesBadRequests()
{
    QFETCH(QByteArray, method);
    QFETCH(QString, path);
    QFETCH(QByteArray, body);
    QFETCH(bool, withKey);
    QFETCH(int, status);
    GatewayProcess g;
    QVERIFY(g.start({"--max-body-size", "4096"}));
    QNetworkAccessManager nam;
    const auto r = http(nam, method, g.url(path), body, withKey);
    QCOMPARE(r.status, status);
    QVERIFY(r.json().contains("error"));
    QCOMPARE(http(nam, "GET", g.url("/healthz"), {}, false).status, 200); // still serving
    if (status == 401)
        QCOMPARE(metrics(nam, g).value("switchboard_api_auth_failures_total"), 1.0);
    if (status == 413)
        QCOMPARE(metrics(nam, g).value("switchboard_http_body_too_large_total"), 1.0);
}

void tst_GatewayDelivery::malformedHttpIsAnswered400()
{
    GatewayProcess g;
    QVERIFY(g.start());
    QTcpSocket socket;
    socket.connectToHost(QHostAddress::LocalHost, g.port());
    QVERIFY(socket.waitForConnected(5000));
    socket.write("THIS IS NOT HTTP\r\n\r\n");
    QByteArray answer;
    QDeadlineTimer deadline(5000);
    while (!answer.contains("\r\n\r\n") && !deadline.hasExpired() && socket.waitForReadyRead(int(deadline.remainingTime())))
        answer += socket.readAll();
    QVERIFY2(answer.startsWith("HTTP/1.1 400"), answer.constData());
    QNetworkAccessManager nam;
    QCOMPARE(metrics(nam, g).value("switchboard_http_malformed_total"), 1.0);
}

void tst_GatewayDelivery::metricsReflectTraffic()
{
    GatewayProcess g;
    QVERIFY(g.start());
    QNetworkAccessManager nam;
    WsClient a, b;
    QVERIFY(a.connectSession(g));
    QVERIFY(b.connectSession(g));
    QVERIFY(subscribe(a, "m", 1));
    QVERIFY(subscribe(b, "m", 1));
    a.send({{"op", "bogus"}}); // unknown op: error frame, counted
    QVERIFY(a.waitFor("error"));
    for (int i = 0; i < 5; ++i)
        QCOMPARE(publish(nam, g, {{"channel", "m"}, {"data", i}}).status, 200);
    for (int i = 0; i < 5; ++i) {
        QVERIFY(a.waitFor("message"));
        QVERIFY(b.waitFor("message"));
    }
    QVERIFY(waitMetric(nam, g, "switchboard_frames_out_total", 2 + 2 + 1 + 10)); // welcomes, subscribed, error, messages
    const auto m = metrics(nam, g);
    QCOMPARE(m.value("switchboard_websocket_connections"), 2.0);
    QCOMPARE(m.value("switchboard_sessions"), 2.0);
    QCOMPARE(m.value("switchboard_channels"), 1.0);
    QCOMPARE(m.value("switchboard_frames_in_total"), 5.0); // 2 connect, 2 subscribe, 1 bogus
    QCOMPARE(m.value("switchboard_api_publications_total"), 5.0);
    QCOMPARE(m.value("switchboard_publications_total"), 5.0);
    QCOMPARE(m.value("switchboard_hub_frames_out_total") >= 10.0, true);
    QCOMPARE(m.value("switchboard_protocol_errors_total"), 1.0);
    QCOMPARE(m.value("switchboard_fanout_seconds_count"), 5.0);
    QVERIFY(m.value("switchboard_bytes_out_total") > 10 * 40);
    QVERIFY(m.value("switchboard_bytes_in_total") > 0);
    QVERIFY(m.value("switchboard_socket_writes_total") >= 1);
    QCOMPARE(m.value(R"(switchboard_fanout_seconds_bucket{le="+Inf"})"), 5.0);
}

void tst_GatewayDelivery::fanOutIsWrittenInOneRound_data()
{
    QTest::addColumn<int>("ioThreads");
    QTest::newRow("one io thread") << 1;
    QTest::newRow("two io threads") << 2;
}

// The sessions a publication reaches are written in rounds (FlushRounds), a handler of each io
// thread, not one posted handler per session.
void tst_GatewayDelivery::fanOutIsWrittenInOneRound()
{
    QFETCH(int, ioThreads);
    const QByteArray previous = qgetenv("SWITCHBOARD_TEST_GATEWAY_IO_THREADS");
    qputenv("SWITCHBOARD_TEST_GATEWAY_IO_THREADS", QByteArray::number(ioThreads));
    GatewayProcess g;
    const bool started = g.start();
    if (previous.isNull())
        qunsetenv("SWITCHBOARD_TEST_GATEWAY_IO_THREADS");
    else
        qputenv("SWITCHBOARD_TEST_GATEWAY_IO_THREADS", previous);
    QVERIFY(started);

    constexpr int kSubscribers = 20;
    constexpr int kPublications = 4;
    std::vector<std::unique_ptr<WsClient>> clients;
    for (int i = 0; i < kSubscribers; ++i) {
        clients.push_back(std::make_unique<WsClient>());
        QVERIFY(clients.back()->connectSession(g));
        QVERIFY(subscribe(*clients.back(), "round", 1));
    }
    QNetworkAccessManager nam;
    const auto before = metrics(nam, g);
    for (int i = 0; i < kPublications; ++i)
        QCOMPARE(publish(nam, g, {{"channel", "round"}, {"data", i}}).status, 200);
    for (auto &c : clients)
        for (int i = 0; i < kPublications; ++i)
            QVERIFY(c->waitFor("message"));
    QVERIFY(waitMetric(nam, g, "switchboard_frames_out_total",
                       before.value("switchboard_frames_out_total") + kSubscribers * kPublications));
    const auto after = metrics(nam, g);
    // Each io thread counts what its sessions wrote (ThreadWriteCounters); /metrics adds them up.
    auto delta = [&](const char *name) { return after.value(name) - before.value(name); };
    QCOMPARE(delta("switchboard_frames_out_total"), double(kSubscribers * kPublications));
    QCOMPARE(delta("switchboard_write_batch_frames_sum"), double(kSubscribers * kPublications));
    QCOMPARE(delta(R"(switchboard_write_batch_frames_bucket{le="+Inf"})"), delta("switchboard_write_batch_frames_count"));
    const double writes = delta("switchboard_socket_writes_total");
    QVERIFY2(delta("switchboard_write_batch_frames_count") >= kSubscribers && delta("switchboard_write_batch_frames_count") <= writes,
             qPrintable(QString::number(writes)));
    QVERIFY(delta("switchboard_bytes_out_total") > kSubscribers * kPublications * 20);
    const double roundsRun = after.value("switchboard_flush_rounds_total") - before.value("switchboard_flush_rounds_total");
    if (ioThreads == 1) {
        // Each HTTP publish is one handler: one round writes every subscriber.
        QVERIFY2(roundsRun >= 1 && roundsRun <= kPublications, qPrintable(QString::number(roundsRun)));
    } else {
        // Connections alternate between the threads, so both shards run rounds. The HTTP
        // session's own shard gets one round per publish; the other shard's round may start
        // while the fan-out still adds to it (then the rest waits for the next): fewer rounds
        // than sessions written, however the threads interleave.
        QVERIFY2(roundsRun >= 2 && roundsRun < kSubscribers * kPublications, qPrintable(QString::number(roundsRun)));
    }
}

void tst_GatewayDelivery::healthAndStaticFiles()
{
    const QString dir = QDir::temp().filePath(QStringLiteral("sb-static-%1").arg(QCoreApplication::applicationPid()));
    QVERIFY(QDir().mkpath(dir + "/app"));
    {
        QFile index(dir + "/index.html");
        QVERIFY(index.open(QIODevice::WriteOnly));
        index.write("<h1>switchboard</h1>");
        QFile js(dir + "/app/client.js");
        QVERIFY(js.open(QIODevice::WriteOnly));
        js.write("export {};");
    }
    GatewayProcess g;
    QVERIFY(g.start({"--static", dir}));
    QNetworkAccessManager nam;
    QCOMPARE(http(nam, "GET", g.url("/healthz"), {}, false).status, 200);
    const auto index = http(nam, "GET", g.url("/"), {}, false);
    QCOMPARE(index.status, 200);
    QCOMPARE(index.body, QByteArray("<h1>switchboard</h1>"));
    QCOMPARE(http(nam, "GET", g.url("/app/client.js"), {}, false).body, QByteArray("export {};"));
    QCOMPARE(http(nam, "GET", g.url("/missing.txt"), {}, false).status, 404);
    QCOMPARE(http(nam, "GET", g.url("/app/%2E%2E/%2E%2E/etc/passwd"), {}, false).status, 404);
    QDir(dir).removeRecursively();
}

void tst_GatewayDelivery::tlsServesWssAndHttps()
{
    const QString openssl = QStandardPaths::findExecutable("openssl");
    if (openssl.isEmpty())
        QSKIP("the openssl program is needed to make a test certificate");
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const QString cert = dir.filePath("cert.pem"), key = dir.filePath("key.pem");
    QProcess make;
    testsupport::dieWithTest(make);
    make.start(openssl, {"req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                         "-days", "1", "-subj", "/CN=127.0.0.1"});
    QVERIFY(make.waitForFinished(30000));
    QCOMPARE(make.exitCode(), 0);

    GatewayProcess g;
    QVERIFY(g.start({"--tls-cert", cert, "--tls-key", key}));
    WsClient client;
    QVERIFY(client.connectSession(g, {}, "wss"));
    QVERIFY(subscribe(client, "secure", 1));
    QNetworkAccessManager nam;
    const auto r = http(nam, "POST", g.url("/api/publish", "https"), R"({"channel":"secure","data":"over tls"})");
    QCOMPARE(r.status, 200);
    const auto message = client.waitFor("message");
    QVERIFY(message);
    QCOMPARE((*message)["data"].toString(), "over tls");
    // Plain HTTP on the TLS port fails the handshake and is counted, nothing else.
    auto failures = [&] {
        return parseMetrics(http(nam, "GET", g.url("/metrics", "https"), {}, false).body)
            .value("switchboard_tls_handshake_failures_total");
    };
    const double before = failures();
    QElapsedTimer timer;
    timer.start();
    QCOMPARE(http(nam, "GET", g.url("/healthz"), {}, false).status, 0);
    qInfo("plain request on the TLS port answered in %lld ms", timer.elapsed());
    // Qt retries a GET once when the connection drops before an answer: one or two handshakes.
    QTRY_VERIFY_WITH_TIMEOUT(failures() >= before + 1, 5000);
    QVERIFY(failures() <= before + 2);
    QCOMPARE(http(nam, "GET", g.url("/healthz", "https"), {}, false).status, 200);
}

QTEST_MAIN(tst_GatewayDelivery)
#include "tst_gatewaydelivery.moc"
