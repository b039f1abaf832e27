// switchboard-gateway limits, each with its documented code: message size (close 1009), invalid
// UTF-8 (close 1007), rate (error 429, then close 3005), channels per session (error 431),
// max connections (close 3003 / HTTP 503), bad frames (error frames, connection kept).
#include "GatewayProcess.h"
#include "RawWebSocket.h"

using namespace gatewaytest;


class tst_GatewayLimits : public QObject
{
    Q_OBJECT

private slots:
    void oversizeMessageCloses1009();
    void invalidUtf8Closes1007();
    void rateLimitThenFlood3005();
    void channelsPerSession431();
    void maxConnections3003();
    void badFramesGetErrors_data();
    void badFramesGetErrors();
    void foreignOriginRefused403();
    void outboxPolicy_data();
    void outboxPolicy();
};

void tst_GatewayLimits::oversizeMessageCloses1009()
{
    GatewayProcess g;
    QVERIFY(g.start({"--max-frame-size", "1024"}));
    WsClient client;
    QVERIFY(client.connectSession(g));
    client.send({{"op", "ping"}, {"ackId", 1}, {"pad", QString(900, 'x')}}); // under the limit
    QVERIFY(client.waitFor("pong", 1));
    client.send({{"op", "ping"}, {"ackId", 2}, {"pad", QString(2000, 'x')}});
    QCOMPARE(client.waitClosed(), 1009);
    QNetworkAccessManager nam;
    QCOMPARE(metrics(nam, g).value("switchboard_oversize_frames_total"), 1.0);
}

void tst_GatewayLimits::invalidUtf8Closes1007()
{
    GatewayProcess g;
    QVERIFY(g.start());
    RawWebSocket raw;
    QVERIFY(raw.open(g.port()));
    raw.sendText(QByteArray("{\"op\":\"ping\",\"x\":\"\xC3\x28\"}"));
    QCOMPARE(raw.waitCloseCode(), 1007);
    QNetworkAccessManager nam;
    QCOMPARE(metrics(nam, g).value("switchboard_invalid_utf8_total"), 1.0);
    QCOMPARE(http(nam, "GET", g.url("/healthz"), {}, false).status, 200);
}

void tst_GatewayLimits::rateLimitThenFlood3005()
{
    GatewayProcess g;
    QVERIFY(g.start({"--rate", "5", "--rate-burst", "5"}));
    WsClient client;
    QVERIFY(client.connectSession(g));
    for (int i = 0; i < 100; ++i)
        client.send({{"op", "ping"}, {"ackId", i + 1}});
    QCOMPARE(client.waitClosed(), 3005);
    const auto error = client.waitFor("error", -1, 0);
    QVERIFY(error);
    QCOMPARE((*error)["code"].toInt(), 429);
    QNetworkAccessManager nam;
    const auto m = metrics(nam, g);
    QVERIFY(m.value("switchboard_rate_limited_total") >= 1);
    QCOMPARE(m.value("switchboard_flood_disconnects_total"), 1.0);
}

void tst_GatewayLimits::channelsPerSession431()
{
    GatewayProcess g;
    QVERIFY(g.start({"--channels-per-session", "2"}));
    WsClient client;
    QVERIFY(client.connectSession(g));
    for (int i = 1; i <= 2; ++i) {
        client.send({{"op", "subscribe"}, {"channel", QStringLiteral("c%1").arg(i)}, {"ackId", i}});
        QVERIFY(client.waitFor("subscribed", i));
    }
    client.send({{"op", "subscribe"}, {"channel", "c3"}, {"ackId", 3}});
    const auto error = client.waitFor("error", 3);
    QVERIFY(error);
    QCOMPARE((*error)["code"].toInt(), 431);
    QNetworkAccessManager nam;
    QCOMPARE(http(nam, "GET", g.url("/sse?channels=a,b,c"), {}, false).status, 400);
}

void tst_GatewayLimits::maxConnections3003()
{
    GatewayProcess g;
    QVERIFY(g.start({"--max-connections", "2"}));
    WsClient a, b, c;
    QVERIFY(a.connectSession(g));
    QVERIFY(b.connectSession(g));
    c.open(g); // the upgrade succeeds, then the server closes with "server full"
    QCOMPARE(c.waitClosed(), 3003);
    QNetworkAccessManager nam;
    QCOMPARE(http(nam, "GET", g.url("/sse?channels=x"), {}, false).status, 503);
    QCOMPARE(metrics(nam, g).value("switchboard_rejected_server_full_total"), 2.0);
    // A slot frees up when a client leaves.
    a.socket().close();
    QTRY_COMPARE_WITH_TIMEOUT(metrics(nam, g).value("switchboard_websocket_connections"), 1.0, 5000);
    WsClient d;
    QVERIFY(d.connectSession(g));
}

void tst_GatewayLimits::badFramesGetErrors_data()
{
    QTest::addColumn<QByteArray>("frame");
    QTest::addColumn<bool>("binary");
    QTest::addColumn<int>("code");
    QTest::newRow("not json") << QByteArray("{nope") << false << 400;
    QTest::newRow("unknown op") << QByteArray(R"({"op":"teleport","ackId":5})") << false << 405;
    QTest::newRow("missing channel") << QByteArray(R"({"op":"subscribe","ackId":5})") << false << 400;
    QTest::newRow("bad channel name") << QByteArray(R"({"op":"subscribe","channel":"a b","ackId":5})") << false << 422;
    QTest::newRow("binary frame") << QByteArray("\x01\x02") << true << 400;
}

void tst_GatewayLimits::badFramesGetErrors()
{
    QFETCH(QByteArray, frame);
    QFETCH(bool, binary);
    QFETCH(int, code);
    GatewayProcess g;
    QVERIFY(g.start());
    WsClient client;
    QVERIFY(client.connectSession(g));
    if (binary)
        client.socket().sendBinaryMessage(frame);
    else
        client.socket().sendTextMessage(QString::fromUtf8(frame));
    const auto error = client.waitFor("error");
    QVERIFY(error);
    QCOMPARE((*error)["code"].toInt(), code);
    client.send({{"op", "ping"}, {"ackId", 9}});
    QVERIFY(client.waitFor("pong", 9)); // still connected
    QNetworkAccessManager nam;
    QCOMPARE(metrics(nam, g).value("switchboard_protocol_errors_total"), 1.0);
}

void tst_GatewayLimits::foreignOriginRefused403()
{
    GatewayProcess g;
    QVERIFY(g.start({"--allowed-origin", "http://panel.example"}));
    QNetworkAccessManager nam;
    auto get = [&](const QByteArray &origin) {
        QNetworkRequest request(g.url("/sse?channels=x"));
        request.setRawHeader("Origin", origin);
        std::unique_ptr<QNetworkReply> reply(nam.get(request));
        QByteArray received;
        QObject::connect(reply.get(), &QNetworkReply::readyRead, reply.get(), [&] { received += reply->readAll(); });
        QDeadlineTimer deadline(5000);
        while (!reply->isFinished() && !received.contains("retry:") && !deadline.hasExpired())
            QTest::qWait(5);
        return reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
    };
    QCOMPARE(get("http://evil.example"), 403);
    QCOMPARE(get("http://panel.example"), 200);
    QWebSocket evil(QStringLiteral("http://evil.example"));
    QSignalSpy failed(&evil, &QWebSocket::disconnected);
    evil.open(g.url("/ws", "ws"));
    QVERIFY(failed.wait(5000));
    QCOMPARE(metrics(nam, g).value("switchboard_rejected_origin_total"), 2.0);
}

void tst_GatewayLimits::outboxPolicy_data()
{
    QTest::addColumn<QString>("policy");
    QTest::newRow("drop") << "drop";
    QTest::newRow("disconnect") << "disconnect";
}

void tst_GatewayLimits::outboxPolicy()
{
    QFETCH(QString, policy);
    GatewayProcess g;
    QVERIFY(g.start({"--outbox-frames", "8", "--outbox-policy", policy}));
    RawWebSocket client;
    QVERIFY(client.open(g.port()));
    client.sendText(R"({"op":"connect","version":1})");
    QVERIFY(client.waitForOp("welcome"));
    client.sendText(R"({"op":"subscribe","channel":"burst","ackId":1})");
    QVERIFY(client.waitForOp("subscribed"));

    // The client stops reading. Once the kernel's socket buffers are full, every further frame
    // stays in the gateway's 8-frame outbox, so publishing 512 KiB batches until the policy's
    // counter moves overflows it whatever the speed of the io thread: no race on timing.
    client.pauseReading();
    const QString counter = policy == "drop" ? "switchboard_drops_total" : "switchboard_slow_disconnects_total";
    const QString pad(32 * 1024, 'x');
    QNetworkAccessManager nam;
    int published = 0;
    QDeadlineTimer deadline(30000);
    while (metrics(nam, g).value(counter) == 0 && !deadline.hasExpired()) {
        QJsonArray publications;
        for (int i = 0; i < 16; ++i)
            publications.append(QJsonObject{{"channel", "burst"}, {"data", QJsonObject{{"n", published + i}, {"pad", pad}}}});
        QCOMPARE(publish(nam, g, {{"publications", publications}}).status, 200);
        published += 16;
    }
    qInfo("%s after %d publications of 32 KiB", qPrintable(counter), published);
    QVERIFY2(metrics(nam, g).value(counter) > 0, "the outbox never overflowed");
    client.resumeReading();

    if (policy == "disconnect") {
        QCOMPARE(client.waitCloseCode(10000), 3001);
        QCOMPARE(metrics(nam, g).value(counter), 1.0);
        return;
    }
    // drop: the client stays; every publication either arrives before the pong that answers a
    // later ping, in order, or was dropped and counted.
    client.sendText(R"({"op":"ping","ackId":2})");
    int messages = 0;
    int lastN = -1;
    QDeadlineTimer readDeadline(20000);
    while (true) {
        const auto frame = client.nextFrame(int(std::max<qint64>(readDeadline.remainingTime(), 0)));
        QVERIFY2(frame, "no pong after the burst");
        QCOMPARE(frame->opcode, quint8(0x1));
        const QJsonObject object = QJsonDocument::fromJson(frame->payload).object();
        const QString op = object.value("op").toString();
        if (op == "pong")
            break;
        QCOMPARE(op, QStringLiteral("message"));
        const int n = object.value("data").toObject().value("n").toInt();
        QVERIFY(n > lastN);
        lastN = n;
        ++messages;
    }
    QVERIFY2(messages < published, qPrintable(QString::number(messages)));
    const auto m = metrics(nam, g);
    QCOMPARE(m.value("switchboard_drops_total"), double(published - messages));
    QCOMPARE(m.value("switchboard_websocket_connections"), 1.0);
}

QTEST_MAIN(tst_GatewayLimits)
#include "tst_gatewaylimits.moc"
