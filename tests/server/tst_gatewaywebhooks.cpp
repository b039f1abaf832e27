// switchboard-gateway webhooks against a Python http.server backend started by the test
// (tests/server/webhook_backend.py): lifecycle events in order, signed and batched; a backend
// that is down then up, slow, answering garbage, 500 or 400; a full queue drops and counts.

#include "BackendTestSupport.h"

#include <QElapsedTimer>
#include <QMessageAuthenticationCode>
#include <QTcpServer>

using namespace gatewaytest;

namespace {

const QByteArray kWebhookSecret = "webhook-secret";

QString tokenFor(const QString &user)
{
    // score: a double whose shortest text a JSON parser may read one unit in the last place off.
    return userToken(user, {"**"}, {{"name", user.toUpper()}, {"score", 474.59380568556355}});
}

QStringList names(const QList<QJsonObject> &events)
{
    QStringList out;
    for (const auto &event : events) {
        QString line = event.value("name").toString();
        if (event.contains("channel"))
            line += ' ' + event.value("channel").toString();
        out << line;
    }
    return out;
}

} // namespace

class tst_GatewayWebhooks : public QObject
{
    Q_OBJECT

private slots:
    void eventsInOrderSignedAndBatched();
    void downThenUpGetsEventsAfterRetries();
    void slowBackendDoesNotDelayClients();
    void badAnswers_data();
    void badAnswers();
    void fullQueueDropsOldest();
    void refusesBadUrls();
    void shutdownSendsTheDisconnects();
};

void tst_GatewayWebhooks::eventsInOrderSignedAndBatched()
{
    WebhookBackend backend;
    QVERIFY(backend.start());
    GatewayProcess gateway;
    QVERIFY(gateway.start({"--webhook", backend.url(), "--webhook-secret", kWebhookSecret,
                           "--webhook-flush-interval", "300"}));

    WsClient alice;
    alice.socket().open(gateway.url("/ws", "ws"));
    QTRY_VERIFY_WITH_TIMEOUT(alice.socket().state() == QAbstractSocket::ConnectedState, 5000);
    alice.send(QJsonObject{{"op", "connect"}, {"version", 1}, {"token", tokenFor("alice")}, {"name", "dashboard"}});
    alice.send(QJsonObject{{"op", "subscribe"}, {"channel", "presence-room"}});
    alice.send(QJsonObject{{"op", "subscribe"}, {"channel", "news"}});
    QVERIFY(alice.waitFor("welcome"));
    QVERIFY(backend.waitForEvents(4));
    alice.socket().close(QWebSocketProtocol::CloseCode(4001), "bye");
    QVERIFY(backend.waitForEvents(8));

    const QList<QJsonObject> events = backend.events();
    QCOMPARE(names(events), (QStringList{"client_connected", "member_added presence-room", "channel_occupied presence-room",
                                         "channel_occupied news", "channel_vacated news", "member_removed presence-room",
                                         "channel_vacated presence-room", "client_disconnected"}));
    const QString session = events[0].value("session").toString();
    QVERIFY(!session.isEmpty());
    QCOMPARE(events[0].value("user").toString(), QStringLiteral("alice"));
    QCOMPARE(events[0].value("client").toString(), QStringLiteral("dashboard"));
    QCOMPARE(events[1].value("user").toString(), QStringLiteral("alice"));
    QCOMPARE(events[1].value("info").toObject().value("name").toString(), QStringLiteral("ALICE"));
    const double score = events[1].value("info").toObject().value("score").toDouble();
    QVERIFY2(score == 474.59380568556355, qPrintable(QString::number(score, 'g', 17))); // bit for bit
    QCOMPARE(events[7].value("session").toString(), session);
    QCOMPARE(events[7].value("user").toString(), QStringLiteral("alice"));
    QCOMPARE(events[7].value("code").toInt(), 4001);
    for (const auto &event : events)
        QVERIFY(event.value("time_ms").toDouble() > 1.6e12);

    // Batched: the four events of the connect and subscribes (well within 300 ms) share requests.
    const auto &requests = backend.requests();
    QVERIFY2(requests.size() <= 4, qPrintable(QString::number(requests.size())));
    QVERIFY(requests.first().events().size() >= 2);
    for (const WebhookRequest &request : requests) {
        QCOMPARE(request.path, QStringLiteral("/hook"));
        QCOMPARE(request.headers.value("content-type").toString(), QStringLiteral("application/json"));
        QVERIFY(!request.headers.value("x-switchboard-delivery").toString().isEmpty());
        QVERIFY(QJsonDocument::fromJson(request.body).object().value("time_ms").toDouble() > 1.6e12);
        const QByteArray expected = "sha256="
            + QMessageAuthenticationCode::hash(request.body, kWebhookSecret, QCryptographicHash::Sha256).toHex();
        QCOMPARE(request.headers.value("x-switchboard-signature").toString().toLatin1(), expected);
    }
    QNetworkAccessManager nam;
    const auto m = metrics(nam, gateway);
    QCOMPARE(m.value("switchboard_webhook_sent_total"), 8.0);
    QCOMPARE(m.value("switchboard_webhook_requests_total"), double(requests.size()));
    QCOMPARE(m.value("switchboard_webhook_failed_total"), 0.0);
    QCOMPARE(m.value("switchboard_webhook_queue_depth"), 0.0);
}

void tst_GatewayWebhooks::downThenUpGetsEventsAfterRetries()
{
    // A port nobody listens on (taken from the OS, then released).
    quint16 port = 0;
    {
        QTcpServer reserve;
        QVERIFY(reserve.listen(QHostAddress::LocalHost, 0));
        port = reserve.serverPort();
    }
    GatewayProcess gateway;
    QVERIFY(gateway.start({"--webhook", QStringLiteral("http://127.0.0.1:%1/hook").arg(port),
                           "--webhook-backoff-max", "200", "--webhook-retries", "100"}));
    WsClient client;
    QVERIFY(client.connectSession(gateway, tokenFor("bob")));
    QNetworkAccessManager nam;
    QVERIFY(waitForMetric(nam, gateway, "switchboard_webhook_retried_total", 2) >= 2);

    WebhookBackend backend;
    QVERIFY(backend.start({"--port", QString::number(port)}));
    QVERIFY(backend.waitForEvents(1));
    const QJsonObject event = backend.events().first();
    QCOMPARE(event.value("name").toString(), QStringLiteral("client_connected"));
    QCOMPARE(event.value("user").toString(), QStringLiteral("bob"));
    QCOMPARE(waitForMetric(nam, gateway, "switchboard_webhook_sent_total", 1), 1.0);
    QCOMPARE(metrics(nam, gateway).value("switchboard_webhook_failed_total"), 0.0);
}

void tst_GatewayWebhooks::slowBackendDoesNotDelayClients()
{
    WebhookBackend backend;
    QVERIFY(backend.start({"--mode", "slow", "--delay", "3"}));
    GatewayProcess gateway;
    QVERIFY(gateway.start({"--webhook", backend.url(), "--webhook-timeout", "10000", "--webhook-flush-interval", "10"}));
    WsClient listener;
    QVERIFY(listener.connectSession(gateway));
    listener.send(QJsonObject{{"op", "subscribe"}, {"channel", "news"}});
    QVERIFY(listener.waitFor("subscribed"));
    QVERIFY(backend.waitForRequests(1)); // the backend now sleeps on the first batch

    QNetworkAccessManager nam;
    QElapsedTimer clock;
    clock.start();
    for (int i = 0; i < 5; ++i) {
        WsClient other;
        QVERIFY(other.connectSession(gateway));
        QCOMPARE(publish(nam, gateway, QJsonObject{{"channel", "news"}, {"event", "tick"}, {"data", i}}).status, 200);
        QVERIFY(listener.waitFor("message", -1, 2000));
    }
    const qint64 elapsed = clock.elapsed();
    qInfo("5 connects and HTTP publishes delivered in %lld ms while the webhook backend sleeps", elapsed);
    QVERIFY2(elapsed < 2000, qPrintable(QStringLiteral("5 connects and deliveries took %1 ms").arg(elapsed)));
    QCOMPARE(backend.requests().size(), 1); // still the first, sleeping request
}

void tst_GatewayWebhooks::badAnswers_data()
{
    QTest::addColumn<QString>("mode");
    QTest::addColumn<int>("requests"); // attempts the backend sees
    QTest::addColumn<int>("retried");
    QTest::newRow("garbage is retried, then dropped") << "garbage" << 3 << 2;
    QTest::newRow("500 is retried, then dropped") << "error" << 3 << 2;
    QTest::newRow("400 is dropped at once") << "reject" << 1 << 0;
}

void tst_GatewayWebhooks::badAnswers()
{
    QFETCH(QString, mode);
    QFETCH(int, requests);
    QFETCH(int, retried);
    WebhookBackend backend;
    QVERIFY(backend.start({"--mode", mode}));
    GatewayProcess gateway;
    QVERIFY(gateway.start({"--webhook", backend.url(), "--webhook-retries", "2", "--webhook-backoff-max", "50",
                           "--webhook-flush-interval", "10"}));
    WsClient client;
    QVERIFY(client.connectSession(gateway));
    QNetworkAccessManager nam;
    QCOMPARE(waitForMetric(nam, gateway, "switchboard_webhook_failed_total", 1), 1.0);
    QCOMPARE(backend.requests().size(), requests);
    const auto m = metrics(nam, gateway);
    QCOMPARE(m.value("switchboard_webhook_retried_total"), double(retried));
    QCOMPARE(m.value("switchboard_webhook_sent_total"), 0.0);
    // Every attempt carried the same batch under the same delivery id.
    for (const WebhookRequest &request : backend.requests())
        QCOMPARE(request.headers.value("x-switchboard-delivery"), backend.requests().first().headers.value("x-switchboard-delivery"));
    // The gateway keeps serving.
    WsClient another;
    QVERIFY(another.connectSession(gateway));
}

void tst_GatewayWebhooks::fullQueueDropsOldest()
{
    WebhookBackend backend;
    QVERIFY(backend.start({"--mode", "slow", "--delay", "1.5"}));
    GatewayProcess gateway;
    QVERIFY(gateway.start({"--webhook", backend.url(), "--webhook-queue", "3", "--webhook-batch", "1"}));
    WsClient first;
    QVERIFY(first.connectSession(gateway, tokenFor("user0")));
    QVERIFY(backend.waitForRequests(1)); // in flight: the queue is empty again
    std::vector<std::unique_ptr<WsClient>> clients;
    for (int i = 1; i <= 5; ++i) {
        clients.push_back(std::make_unique<WsClient>());
        QVERIFY(clients.back()->connectSession(gateway, tokenFor(QStringLiteral("user%1").arg(i))));
    }
    QNetworkAccessManager nam;
    const auto m = metrics(nam, gateway);
    QCOMPARE(m.value("switchboard_webhook_dropped_total"), 2.0);
    QCOMPARE(m.value("switchboard_webhook_queue_depth"), 3.0);
    // The oldest waiting events (user1, user2) were dropped; the newest three arrive.
    QVERIFY(backend.waitForEvents(4, 20000));
    QStringList users;
    for (const auto &event : backend.events())
        users << event.value("user").toString();
    QCOMPARE(users, (QStringList{"user0", "user3", "user4", "user5"}));
}

void tst_GatewayWebhooks::refusesBadUrls()
{
    QVERIFY(everyRefusesToStart({{"--webhook", "ftp://127.0.0.1:1/hook"}, {"--webhook", "not a url"}}, "--webhook"));
}

void tst_GatewayWebhooks::shutdownSendsTheDisconnects()
{
    WebhookBackend backend;
    QVERIFY(backend.start());
    GatewayProcess gateway;
    // A long flush interval: only the shutdown's drain can send the last events in time.
    QVERIFY(gateway.start({"--webhook", backend.url(), "--webhook-flush-interval", "60000", "--webhook-batch", "1000"}));
    WsClient client;
    QVERIFY(client.connectSession(gateway, tokenFor("carol")));
    gateway.process().terminate(); // SIGTERM: sessions closed with 3000, then the webhook queue drained
    QVERIFY(gateway.process().waitForFinished(10000));
    QCOMPARE(gateway.process().exitCode(), 0);
    QVERIFY(backend.waitForEvents(2));
    const QList<QJsonObject> events = backend.events();
    QCOMPARE(names(events), (QStringList{"client_connected", "client_disconnected"}));
    QCOMPARE(events[1].value("user").toString(), QStringLiteral("carol"));
    QCOMPARE(events[1].value("code").toInt(), 3000);
}

QTEST_GUILESS_MAIN(tst_GatewayWebhooks)
#include "tst_gatewaywebhooks.moc"
