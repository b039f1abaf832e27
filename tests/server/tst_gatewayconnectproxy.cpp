// switchboard-gateway --connect-proxy against a Python http.server backend started by the test
// (tests/server/connect_backend.py, which answers by the connect frame's data.mode): accepted as
// a user whose info shows in presence, what the backend is sent (and which headers), a valid
// gateway token needing no backend, anonymous, refusals (3501), a backend that answers garbage,
// non-JSON, no user, 500, is down, is slow (3008 while another client keeps publishing and
// receiving), the concurrency limit, a client leaving while its connect waits; every outcome
// counted.

#include "BackendTestSupport.h"

#include <QElapsedTimer>
#include <QNetworkRequest>

#include <algorithm>

using namespace gatewaytest;

namespace {

WebhookBackend connectBackend() { return WebhookBackend(QStringLiteral(SWITCHBOARD_CONNECT_BACKEND)); }

/// Opens the WebSocket with extra upgrade request headers.
bool openWith(WsClient &client, const GatewayProcess &gateway, const QList<std::pair<QByteArray, QByteArray>> &headers)
{
    QNetworkRequest request(gateway.url("/ws", "ws"));
    for (const auto &[name, value] : headers)
        request.setRawHeader(name, value);
    client.socket().open(request);
    QDeadlineTimer deadline(5000);
    while (client.socket().state() != QAbstractSocket::ConnectedState && !client.disconnected() && !deadline.hasExpired())
        QTest::qWait(5);
    if (client.socket().state() != QAbstractSocket::ConnectedState)
        qWarning("cannot open: %s", qPrintable(client.socket().errorString()));
    return client.socket().state() == QAbstractSocket::ConnectedState;
}

/// Waits for welcome; returns early (empty) when the server closes the connection instead.
QJsonObject waitWelcome(WsClient &client, int timeoutMs = 8000)
{
    QDeadlineTimer deadline(timeoutMs);
    while (!deadline.hasExpired()) {
        if (auto welcome = client.waitFor("welcome", -1, 0))
            return *welcome;
        if (client.disconnected())
            return client.waitFor("welcome", -1, 0).value_or(QJsonObject{});
        QTest::qWait(5);
    }
    return {};
}

/// Sends `connect` with data {mode, user} (and `token` when given).
void sendConnect(WsClient &client, const QString &mode, const QString &user = {}, const QString &token = {})
{
    QJsonObject connect{{"op", "connect"}, {"version", 1}, {"name", "app/2"},
                        {"data", QJsonObject{{"mode", mode}, {"user", user}}}};
    if (!token.isEmpty())
        connect.insert("token", token);
    client.send(connect);
}

/// Opens and connects through the proxy with data.mode = `mode`; the welcome frame, or an empty
/// object when the connection was refused (then `closeCode` says how).
QJsonObject connectVia(WsClient &client, const GatewayProcess &gateway, const QString &mode, const QString &user = {})
{
    if (!client.open(gateway))
        return {};
    sendConnect(client, mode, user);
    return waitWelcome(client);
}

QString tokenFor(const QString &user)
{
    return userToken(user);
}

/// The `disconnect` frame's reason (empty when none came).
QString disconnectReason(WsClient &client)
{
    return client.waitFor("disconnect", -1, 1000).value_or(QJsonObject{}).value("reason").toString();
}

} // namespace

class tst_GatewayConnectProxy : public QObject
{
    Q_OBJECT

private slots:
    void acceptsAsUserWithInfoInPresence();
    void validGatewayTokenNeedsNoBackend();
    void anonymous();
    void refusals_data();
    void refusals();
    void longRefusalReasonCutBeforeACharacter();
    void backendFailures_data();
    void backendFailures();
    void backendDown();
    void slowBackendTimesOutOthersUnaffected();
    void concurrencyLimitRefusesAtOnce();
    void clientLeavingWhilePending();
    void refusesBadUrlsAndOptions();
};

void tst_GatewayConnectProxy::acceptsAsUserWithInfoInPresence()
{
    WebhookBackend backend = connectBackend();
    QVERIFY(backend.start());
    GatewayProcess gateway;
    QVERIFY(gateway.start({"--connect-proxy", backend.url("/auth")}));
    WsClient alice;
    QVERIFY(openWith(alice, gateway, {{"Cookie", "sid=abc123"}, {"Origin", "https://app.example"},
                                      {"X-Forwarded-For", "203.0.113.9"}, {"User-Agent", "tst/1"},
                                      {"X-Internal-Secret", "never-forwarded"}}));
    sendConnect(alice, "accept", "alice");
    // Frames sent before welcome are handled after it, in order.
    alice.send({{"op", "subscribe"}, {"channel", "presence-lobby"}, {"ackId", 1}});
    const std::optional<QJsonObject> welcome = waitWelcome(alice);
    QVERIFY(!welcome->isEmpty());
    QCOMPARE(welcome->value("user").toString(), QStringLiteral("alice"));
    QVERIFY(alice.waitFor("subscribed", 1));
    // The backend's info is the presence info.
    const auto roster = alice.waitFor("presence");
    QVERIFY(roster);
    const QJsonArray members = roster->value("members").toArray();
    QCOMPARE(members.size(), 1);
    QCOMPARE(members[0].toObject().value("id").toString(), QStringLiteral("alice"));
    QCOMPARE(members[0].toObject().value("info").toObject().value("name").toString(), QStringLiteral("ALICE"));
    QCOMPARE(members[0].toObject().value("info").toObject().value("cookie").toString(), QStringLiteral("sid=abc123"));
    // Bit for bit (QCOMPARE on doubles would accept a neighbour): the backend's double as it wrote it.
    const double score = members[0].toObject().value("info").toObject().value("score").toDouble();
    QVERIFY2(score == 474.59380568556355, qPrintable(QString::number(score, 'g', 17)));

    QVERIFY(backend.waitForRequests(1));
    const WebhookRequest &request = backend.requests().first();
    QCOMPARE(request.path, QStringLiteral("/auth"));
    const QJsonObject body = QJsonDocument::fromJson(request.body).object();
    QCOMPARE(body.value("session").toString(), welcome->value("session").toString());
    QCOMPARE(body.value("client").toString(), QStringLiteral("app/2"));
    QVERIFY(body.value("token").isNull());
    QCOMPARE(body.value("data").toObject(), (QJsonObject{{"mode", "accept"}, {"user", "alice"}}));
    QCOMPARE(body.value("transport").toString(), QStringLiteral("websocket"));
    QCOMPARE(body.value("remote").toString(), QStringLiteral("127.0.0.1"));
    const QJsonObject headers = body.value("headers").toObject();
    QCOMPARE(headers.value("cookie").toString(), QStringLiteral("sid=abc123"));
    QCOMPARE(headers.value("origin").toString(), QStringLiteral("https://app.example"));
    QCOMPARE(headers.value("x-forwarded-for").toString(), QStringLiteral("203.0.113.9"));
    QCOMPARE(headers.value("user-agent").toString(), QStringLiteral("tst/1"));
    QVERIFY2(!headers.contains("x-internal-secret"), request.body.constData()); // a fixed selection only
    QVERIFY(!headers.contains("sec-websocket-key"));

    QNetworkAccessManager nam;
    const auto m = metrics(nam, gateway);
    QCOMPARE(m.value("switchboard_connect_proxy_requests_total"), 1.0);
    QCOMPARE(m.value("switchboard_connect_proxy_accepted_total"), 1.0);
    QCOMPARE(m.value("switchboard_connect_proxy_in_flight"), 0.0);
    QCOMPARE(m.value("switchboard_connect_proxy_seconds_count"), 1.0);
}

void tst_GatewayConnectProxy::validGatewayTokenNeedsNoBackend()
{
    WebhookBackend backend = connectBackend();
    QVERIFY(backend.start());
    GatewayProcess gateway;
    QVERIFY(gateway.start({"--connect-proxy", backend.url("/auth")}));
    WsClient bob;
    QVERIFY(bob.open(gateway));
    sendConnect(bob, "deny", {}, tokenFor("bob")); // the backend would refuse: it is not asked
    const auto welcome = bob.waitFor("welcome");
    QVERIFY(welcome);
    QCOMPARE(welcome->value("user").toString(), QStringLiteral("bob"));
    // A token the gateway does not know goes to the backend, which decides.
    WsClient carol;
    QVERIFY(carol.open(gateway));
    sendConnect(carol, "accept", "carol", QStringLiteral("opaque-app-session-token"));
    QVERIFY(carol.waitFor("welcome"));
    QVERIFY(backend.waitForRequests(1));
    QCOMPARE(QJsonDocument::fromJson(backend.requests().first().body).object().value("token").toString(),
             QStringLiteral("opaque-app-session-token"));
    QNetworkAccessManager nam;
    QCOMPARE(metrics(nam, gateway).value("switchboard_connect_proxy_requests_total"), 1.0);
}

void tst_GatewayConnectProxy::anonymous()
{
    WebhookBackend backend = connectBackend();
    QVERIFY(backend.start());
    GatewayProcess gateway;
    QVERIFY(gateway.start({"--connect-proxy", backend.url("/auth")}));
    WsClient guest;
    const QJsonObject welcome = connectVia(guest, gateway, "anonymous");
    QVERIFY(!welcome.isEmpty());
    QCOMPARE(welcome.value("user").toString(), QString());
    // Anonymous: public channels only.
    guest.send({{"op", "subscribe"}, {"channel", "private-x"}, {"ackId", 1}});
    QCOMPARE(guest.waitFor("error", 1).value_or(QJsonObject{}).value("code").toInt(), 401);
}

void tst_GatewayConnectProxy::refusals_data()
{
    QTest::addColumn<QString>("mode");
    QTest::addColumn<QString>("reason");
    QTest::newRow("allow false") << "deny" << "banned";
    QTest::newRow("401") << "unauth" << "bad cookie";
    QTest::newRow("no data") << "" << "no session";
}

void tst_GatewayConnectProxy::refusals()
{
    QFETCH(QString, mode);
    QFETCH(QString, reason);
    WebhookBackend backend = connectBackend();
    QVERIFY(backend.start());
    GatewayProcess gateway;
    gateway.captureLog();
    QVERIFY(gateway.start({"--connect-proxy", backend.url("/auth")}));
    WsClient client;
    QVERIFY(connectVia(client, gateway, mode).isEmpty());
    QCOMPARE(client.waitClosed(), 3501);
    QCOMPARE(disconnectReason(client), reason);
    QVERIFY(!gateway.waitForLog(QRegularExpression("refused websocket invalid_token: peer 127\\.0\\.0\\.1:\\d+: close 3501 \\(" + reason + "\\)")).isEmpty());
    QNetworkAccessManager nam;
    const auto m = metrics(nam, gateway);
    QCOMPARE(m.value("switchboard_connect_proxy_refused_total"), 1.0);
    QCOMPARE(m.value("switchboard_auth_failures_total"), 1.0);
}

void tst_GatewayConnectProxy::longRefusalReasonCutBeforeACharacter()
{
    // The backend's reason is kept to 200 bytes; a cut inside a character would make the
    // disconnect frame invalid UTF-8, which a client refuses (closing with 1007, reason unread).
    WebhookBackend backend = connectBackend();
    QVERIFY(backend.start());
    GatewayProcess gateway;
    QVERIFY(gateway.start({"--connect-proxy", backend.url("/auth")}));
    WsClient client;
    QVERIFY(connectVia(client, gateway, "denylong").isEmpty());
    QCOMPARE(client.waitClosed(), 3501);
    QCOMPARE(disconnectReason(client), QString(199, QLatin1Char('r')));
}

void tst_GatewayConnectProxy::backendFailures_data()
{
    QTest::addColumn<QString>("mode");
    QTest::addColumn<QString>("message");
    QTest::addColumn<QString>("reason");
    QTest::newRow("not HTTP") << "garbage" << "connect proxy unavailable" << "invalid_answer";
    QTest::newRow("2xx not JSON") << "notjson" << "connect proxy answered invalid JSON" << "invalid_answer";
    QTest::newRow("2xx without user") << "nouser" << "connect proxy answered without a valid user" << "invalid_answer";
    QTest::newRow("500") << "crash" << "connect proxy unavailable" << "status";
}

void tst_GatewayConnectProxy::backendFailures()
{
    QFETCH(QString, mode);
    QFETCH(QString, message);
    QFETCH(QString, reason);
    WebhookBackend backend = connectBackend();
    QVERIFY(backend.start());
    GatewayProcess gateway;
    QVERIFY(gateway.start({"--connect-proxy", backend.url("/auth")}));
    WsClient client;
    QVERIFY(connectVia(client, gateway, mode).isEmpty());
    QCOMPARE(client.waitClosed(), 3008);
    const auto disconnect = client.waitFor("disconnect", -1, 1000);
    QVERIFY(disconnect);
    QCOMPARE(disconnect->value("reason").toString(), message);
    QCOMPARE(disconnect->value("reconnect").toBool(), true);
    // The proxy keeps working.
    WsClient next;
    QVERIFY(!connectVia(next, gateway, "accept", "dan").isEmpty());
    QNetworkAccessManager nam;
    const auto m = metrics(nam, gateway);
    QCOMPARE(m.value(QStringLiteral("switchboard_connect_proxy_failed_total{reason=\"%1\"}").arg(reason)), 1.0);
    QCOMPARE(m.value("switchboard_connect_proxy_requests_total"), 2.0);
    QCOMPARE(m.value("switchboard_connect_proxy_accepted_total"), 1.0);
}

void tst_GatewayConnectProxy::backendDown()
{
    const quint16 port = unusedPort();
    QVERIFY(port != 0);
    GatewayProcess gateway;
    gateway.captureLog();
    QVERIFY(gateway.start({"--connect-proxy", QStringLiteral("http://127.0.0.1:%1/auth").arg(port)}));
    WsClient client;
    QVERIFY(connectVia(client, gateway, "accept", "eve").isEmpty());
    QCOMPARE(client.waitClosed(), 3008);
    QCOMPARE(disconnectReason(client), QStringLiteral("connect proxy unavailable"));
    QVERIFY(!gateway.waitForLog(QRegularExpression("connect proxy: peer 127\\.0\\.0\\.1 session \\S+: connect proxy unavailable \\(cannot connect")).isEmpty());
    QVERIFY(!gateway.waitForLog(QRegularExpression("refused websocket auth_unavailable: peer 127\\.0\\.0\\.1:\\d+: close 3008")).isEmpty());
    QNetworkAccessManager nam;
    QCOMPARE(metrics(nam, gateway).value("switchboard_connect_proxy_failed_total{reason=\"unreachable\"}"), 1.0);
}

void tst_GatewayConnectProxy::slowBackendTimesOutOthersUnaffected()
{
    WebhookBackend backend = connectBackend();
    QVERIFY(backend.start({"--delay", "3"}));
    GatewayProcess gateway;
    QVERIFY(gateway.start({"--connect-proxy", backend.url("/auth"), "--connect-proxy-timeout", "500"}));
    WsClient bob; // connected with a gateway token: no backend involved
    QVERIFY(bob.connectSession(gateway, tokenFor("bob")));
    bob.send({{"op", "subscribe"}, {"channel", "news"}, {"ackId", 1}});
    QVERIFY(bob.waitFor("subscribed", 1));

    QElapsedTimer slowTimer;
    slowTimer.start();
    WsClient alice;
    QVERIFY(alice.open(gateway));
    sendConnect(alice, "slow", "alice");
    QVERIFY(backend.waitForRequests(1));
    // While alice's connect waits for the backend, bob publishes and receives promptly.
    QList<qint64> roundTrips;
    for (int i = 0; i < 5; ++i) {
        QElapsedTimer t;
        t.start();
        bob.send({{"op", "publish"}, {"channel", "news"}, {"event", "tick"}, {"data", i}, {"ackId", 100 + i}});
        QVERIFY(bob.waitFor("message"));
        QVERIFY(bob.waitFor("ack", 100 + i));
        roundTrips << t.elapsed();
    }
    QCOMPARE(alice.waitClosed(5000), 3008);
    const qint64 slowElapsed = slowTimer.elapsed();
    QCOMPARE(disconnectReason(alice), QStringLiteral("connect proxy timed out"));
    QVERIFY2(slowElapsed >= 450 && slowElapsed < 2500, qPrintable(QString::number(slowElapsed)));
    std::sort(roundTrips.begin(), roundTrips.end());
    qInfo("3008 after %lld ms; bob's publish round trips meanwhile (ms, sorted): %s", slowElapsed,
          qPrintable([&] { QStringList s; for (qint64 v : roundTrips) s << QString::number(v); return s.join(' '); }()));
    QVERIFY2(roundTrips.last() < 400, qPrintable(QString::number(roundTrips.last())));

    QNetworkAccessManager nam;
    const auto m = metrics(nam, gateway);
    QCOMPARE(m.value("switchboard_connect_proxy_timeouts_total"), 1.0);
    QCOMPARE(m.value("switchboard_connect_proxy_in_flight"), 0.0);
    QCOMPARE(m.value("switchboard_sessions"), 1.0); // bob only
}

void tst_GatewayConnectProxy::concurrencyLimitRefusesAtOnce()
{
    WebhookBackend backend = connectBackend();
    QVERIFY(backend.start({"--delay", "1"}));
    GatewayProcess gateway;
    QVERIFY(gateway.start({"--connect-proxy", backend.url("/auth"), "--connect-proxy-concurrency", "1"}));
    WsClient alice;
    QVERIFY(alice.open(gateway));
    sendConnect(alice, "slow", "alice");
    QVERIFY(backend.waitForRequests(1)); // alice's connect holds the one slot
    QElapsedTimer t;
    t.start();
    WsClient carol;
    QVERIFY(connectVia(carol, gateway, "accept", "carol").isEmpty());
    QCOMPARE(carol.waitClosed(), 3008);
    const qint64 busyMs = t.elapsed();
    QCOMPARE(disconnectReason(carol), QStringLiteral("connect proxy busy"));
    QVERIFY2(busyMs < 700, qPrintable(QString::number(busyMs))); // at once, not after alice's answer
    QNetworkAccessManager nam;
    auto m = metrics(nam, gateway);
    QCOMPARE(m.value("switchboard_connect_proxy_busy_total"), 1.0);
    QCOMPARE(m.value("switchboard_connect_proxy_in_flight"), 1.0);

    // Alice's connect completes; the slot is free again.
    QVERIFY(alice.waitFor("welcome", -1, 5000));
    WsClient dan;
    QVERIFY(!connectVia(dan, gateway, "accept", "dan").isEmpty());
    QCOMPARE(backend.requests().size(), 2); // the busy connect never reached the backend
    m = metrics(nam, gateway);
    QCOMPARE(m.value("switchboard_connect_proxy_requests_total"), 3.0);
    QCOMPARE(m.value("switchboard_connect_proxy_in_flight"), 0.0);
}

void tst_GatewayConnectProxy::clientLeavingWhilePending()
{
    WebhookBackend backend = connectBackend();
    QVERIFY(backend.start({"--delay", "0.5"}));
    GatewayProcess gateway;
    QVERIFY(gateway.start({"--connect-proxy", backend.url("/auth")}));
    WsClient alice;
    QVERIFY(alice.open(gateway));
    sendConnect(alice, "slow", "alice");
    alice.send({{"op", "subscribe"}, {"channel", "presence-lobby"}, {"ackId", 1}});
    QVERIFY(backend.waitForRequests(1));
    alice.socket().close();
    QNetworkAccessManager nam;
    // The backend's late answer finds nobody: no session, nobody in presence, the slot released.
    QVERIFY(QTest::qWaitFor([&] {
        const auto m = metrics(nam, gateway);
        return m.value("switchboard_connect_proxy_in_flight", -1) == 0 && m.value("switchboard_websocket_connections", -1) == 0;
    }, 5000));
    const auto m = metrics(nam, gateway);
    QCOMPARE(m.value("switchboard_sessions"), 0.0);
    QCOMPARE(m.value("switchboard_connect_proxy_accepted_total"), 1.0);
    WsClient bob;
    QVERIFY(!connectVia(bob, gateway, "accept", "bob").isEmpty());
    bob.send({{"op", "subscribe"}, {"channel", "presence-lobby"}, {"ackId", 2}});
    const auto roster = bob.waitFor("presence");
    QVERIFY(roster);
    QCOMPARE(roster->value("members").toArray().size(), 1); // bob alone
}

void tst_GatewayConnectProxy::refusesBadUrlsAndOptions()
{
    const QList<QStringList> cases{{"--connect-proxy", "ftp://127.0.0.1:1/auth"},
                                   {"--connect-proxy", "not a url"},
                                   {"--connect-proxy", "http://127.0.0.1:1/auth", "--connect-proxy-concurrency", "0"},
                                   {"--connect-proxy", "http://127.0.0.1:1/auth", "--connect-proxy-timeout", "0"}};
    QVERIFY(everyRefusesToStart(cases, "--connect-proxy"));
}

QTEST_MAIN(tst_GatewayConnectProxy)
#include "tst_gatewayconnectproxy.moc"
