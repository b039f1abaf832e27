// switchboard-gateway --rpc-proxy against a Python http.server backend started by the test
// (tests/server/rpc_backend.py, which answers by topic): replies and user context, a backend that
// answers garbage, non-JSON, 4xx/5xx with or without a JSON error, is down, is slow (504, other
// clients unaffected), the concurrency limit (503), fire-and-forget requests; every failure counted.

#include "BackendTestSupport.h"

#include <QElapsedTimer>

#include <algorithm>

using namespace gatewaytest;

namespace {

QString tokenFor(const QString &user)
{
    return userToken(user, {"**"}, {{"name", user.toUpper()}});
}

WebhookBackend rpcBackend() { return WebhookBackend(QStringLiteral(SWITCHBOARD_RPC_BACKEND)); }

/// Connects with a token and a client name; the welcome frame (empty object on failure).
QJsonObject connectAs(WsClient &client, const GatewayProcess &gateway, const QString &user, const QString &name = {})
{
    return connectWithToken(client, gateway, tokenFor(user), name);
}

void request(WsClient &client, const QString &topic, const QJsonValue &payload, int ackId)
{
    client.send(QJsonObject{{"op", "request"}, {"topic", topic}, {"payload", payload}, {"ackId", ackId}});
}

/// The reply frame for `ackId` (after its ack); empty object when none came in time.
QJsonObject replyTo(WsClient &client, int ackId, int timeoutMs = 5000)
{
    if (!client.waitFor("ack", ackId, timeoutMs))
        return {};
    return client.waitFor("reply", ackId, timeoutMs).value_or(QJsonObject{});
}

} // namespace

class tst_GatewayRpcProxy : public QObject
{
    Q_OBJECT

private slots:
    void withoutProxyTopicsAre404();
    void replyCarriesUserSessionAndClient();
    void backendErrors_data();
    void backendErrors();
    void backendDown();
    void slowBackendTimesOutOthersUnaffected();
    void concurrencyLimitAnswersBusy();
    void fireAndForget();
    void refusesBadUrlsAndOptions();
};

void tst_GatewayRpcProxy::withoutProxyTopicsAre404()
{
    GatewayProcess gateway;
    QVERIFY(gateway.start());
    WsClient alice;
    QVERIFY(!connectAs(alice, gateway, "alice").isEmpty());
    request(alice, "echo", 1, 1);
    const QJsonObject reply = replyTo(alice, 1);
    QCOMPARE(reply.value("topic").toString(), QStringLiteral("error"));
    QCOMPARE(reply.value("payload").toObject().value("status").toInt(), 404);
}

void tst_GatewayRpcProxy::replyCarriesUserSessionAndClient()
{
    WebhookBackend backend = rpcBackend();
    QVERIFY(backend.start());
    GatewayProcess gateway;
    QVERIFY(gateway.start({"--rpc-proxy", backend.url("/rpc")}));
    WsClient alice;
    const QJsonObject welcome = connectAs(alice, gateway, "alice", "dashboard");
    QVERIFY(!welcome.isEmpty());
    request(alice, "echo", QJsonObject{{"sku", "A-1"}, {"qty", 2}}, 1);
    const QJsonObject reply = replyTo(alice, 1);
    QCOMPARE(reply.value("topic").toString(), QStringLiteral("echo"));
    const QJsonObject echoed = reply.value("payload").toObject();
    QCOMPARE(echoed.value("topic").toString(), QStringLiteral("echo"));
    QCOMPARE(echoed.value("payload").toObject(), (QJsonObject{{"sku", "A-1"}, {"qty", 2}}));
    QCOMPARE(echoed.value("user").toString(), QStringLiteral("alice"));
    QCOMPARE(echoed.value("session").toString(), welcome.value("session").toString());
    QCOMPARE(echoed.value("client").toString(), QStringLiteral("dashboard"));
    QCOMPARE(echoed.value("info").toObject().value("name").toString(), QStringLiteral("ALICE"));
    QCOMPARE(echoed.value("reply").toBool(), true);

    // An anonymous client (no token): user null.
    WsClient anonymous;
    QVERIFY(anonymous.connectSession(gateway));
    request(anonymous, "echo", QJsonValue::Null, 2);
    const QJsonObject anonymousReply = replyTo(anonymous, 2);
    QVERIFY(anonymousReply.value("payload").toObject().value("user").isNull());
    QVERIFY(anonymousReply.value("payload").toObject().value("payload").isNull());

    QVERIFY(backend.waitForRequests(2));
    const WebhookRequest &first = backend.requests().first();
    QCOMPARE(first.path, QStringLiteral("/rpc"));
    QCOMPARE(first.headers.value("content-type").toString(), QStringLiteral("application/json"));

    QNetworkAccessManager nam;
    const auto m = metrics(nam, gateway);
    QCOMPARE(m.value("switchboard_rpc_requests_total"), 2.0);
    QCOMPARE(m.value("switchboard_rpc_failed_total{reason=\"unreachable\"}"), 0.0);
    QCOMPARE(m.value("switchboard_rpc_failed_total{reason=\"invalid_answer\"}"), 0.0);
    QCOMPARE(m.value("switchboard_rpc_failed_total{reason=\"status\"}"), 0.0);
    QCOMPARE(m.value("switchboard_rpc_in_flight"), 0.0);
    QCOMPARE(m.value("switchboard_rpc_seconds_count"), 2.0);
}

void tst_GatewayRpcProxy::backendErrors_data()
{
    QTest::addColumn<QString>("topic");
    QTest::addColumn<int>("status");
    QTest::addColumn<QString>("message");
    QTest::addColumn<QString>("trace");
    QTest::addColumn<QString>("reason");
    QTest::newRow("2xx not JSON") << "notjson" << 502 << "backend answered invalid JSON" << "" << "invalid_answer";
    QTest::newRow("not HTTP") << "garbage" << 502 << "backend answered invalid HTTP" << "" << "invalid_answer";
    QTest::newRow("422 with JSON error") << "reject" << 422 << "sku unknown" << "validate.py:12" << "status";
    QTest::newRow("500 with JSON error") << "crash" << 500 << "database down" << "" << "status";
    QTest::newRow("503 text") << "plain503" << 503 << "backend answered HTTP 503" << "" << "status";
}

void tst_GatewayRpcProxy::backendErrors()
{
    QFETCH(QString, topic);
    QFETCH(int, status);
    QFETCH(QString, message);
    QFETCH(QString, trace);
    QFETCH(QString, reason);
    WebhookBackend backend = rpcBackend();
    QVERIFY(backend.start());
    GatewayProcess gateway;
    QVERIFY(gateway.start({"--rpc-proxy", backend.url("/rpc")}));
    WsClient alice;
    QVERIFY(!connectAs(alice, gateway, "alice").isEmpty());
    request(alice, topic, 1, 1);
    const QJsonObject reply = replyTo(alice, 1);
    QCOMPARE(reply.value("topic").toString(), QStringLiteral("error"));
    const QJsonObject error = reply.value("payload").toObject();
    QCOMPARE(error.value("status").toInt(), status);
    QCOMPARE(error.value("message").toString(), message);
    QCOMPARE(error.value("trace").toString(), trace);
    // The connection keeps working, and so does the proxy.
    request(alice, "echo", 2, 2);
    QCOMPARE(replyTo(alice, 2).value("payload").toObject().value("payload").toInt(), 2);

    QNetworkAccessManager nam;
    const auto m = metrics(nam, gateway);
    QCOMPARE(m.value(QStringLiteral("switchboard_rpc_failed_total{reason=\"%1\"}").arg(reason)), 1.0);
    QCOMPARE(m.value("switchboard_rpc_requests_total"), 2.0);
}

void tst_GatewayRpcProxy::backendDown()
{
    const quint16 port = unusedPort();
    QVERIFY(port != 0);
    GatewayProcess gateway;
    gateway.captureLog();
    QVERIFY(gateway.start({"--rpc-proxy", QStringLiteral("http://127.0.0.1:%1/rpc").arg(port)}));
    WsClient bob;
    QVERIFY(!connectAs(bob, gateway, "bob").isEmpty());
    request(bob, "orders.create", QJsonObject{{"sku", "A-1"}}, 1);
    const QJsonObject reply = replyTo(bob, 1);
    QCOMPARE(reply.value("topic").toString(), QStringLiteral("error"));
    QCOMPARE(reply.value("payload").toObject().value("status").toInt(), 502);
    QCOMPARE(reply.value("payload").toObject().value("message").toString(), QStringLiteral("backend unreachable"));
    QVERIFY(!gateway.waitForLog(QRegularExpression("rpc proxy: topic \"orders.create\" of user \"bob\" session \\S+: 502 backend unreachable")).isEmpty());
    QNetworkAccessManager nam;
    QCOMPARE(metrics(nam, gateway).value("switchboard_rpc_failed_total{reason=\"unreachable\"}"), 1.0);
    // The log line keeps 100 bytes of a topic, never half a character.
    request(bob, QString(99, QLatin1Char('t')) + QStringLiteral("\u00e9 tail"), QJsonObject{}, 2);
    QCOMPARE(replyTo(bob, 2).value("payload").toObject().value("status").toInt(), 502);
    QVERIFY(!gateway.waitForLog(QRegularExpression("rpc proxy: topic \"t{99}\" of user \"bob\"")).isEmpty());
    bob.send(QJsonObject{{"op", "ping"}, {"ackId", 9}});
    QVERIFY(bob.waitFor("pong", 9));
}

void tst_GatewayRpcProxy::slowBackendTimesOutOthersUnaffected()
{
    WebhookBackend backend = rpcBackend();
    QVERIFY(backend.start({"--delay", "3"}));
    GatewayProcess gateway;
    QVERIFY(gateway.start({"--rpc-proxy", backend.url("/rpc"), "--rpc-timeout", "500"}));
    WsClient alice;
    WsClient bob;
    QVERIFY(!connectAs(alice, gateway, "alice").isEmpty());
    QVERIFY(!connectAs(bob, gateway, "bob").isEmpty());

    QElapsedTimer slowTimer;
    slowTimer.start();
    request(alice, "slow", 1, 1);
    QVERIFY(alice.waitFor("ack", 1));
    // While alice's request waits for the backend, bob's requests are answered promptly.
    QList<qint64> roundTrips;
    for (int i = 0; i < 5; ++i) {
        QElapsedTimer t;
        t.start();
        request(bob, "echo", i, 100 + i);
        const QJsonObject reply = replyTo(bob, 100 + i);
        roundTrips << t.elapsed();
        QCOMPARE(reply.value("payload").toObject().value("payload").toInt(), i);
    }
    const QJsonObject reply = alice.waitFor("reply", 1, 5000).value_or(QJsonObject{});
    const qint64 slowElapsed = slowTimer.elapsed();
    QCOMPARE(reply.value("topic").toString(), QStringLiteral("error"));
    QCOMPARE(reply.value("payload").toObject().value("status").toInt(), 504);
    QCOMPARE(reply.value("payload").toObject().value("message").toString(), QStringLiteral("backend timed out"));
    QVERIFY2(slowElapsed >= 450 && slowElapsed < 2500, qPrintable(QString::number(slowElapsed)));
    std::sort(roundTrips.begin(), roundTrips.end());
    qInfo("504 after %lld ms; bob's echo round trips meanwhile (ms, sorted): %s", slowElapsed,
          qPrintable([&] { QStringList s; for (qint64 v : roundTrips) s << QString::number(v); return s.join(' '); }()));
    QVERIFY2(roundTrips.last() < 400, qPrintable(QString::number(roundTrips.last())));

    QNetworkAccessManager nam;
    const auto m = metrics(nam, gateway);
    QCOMPARE(m.value("switchboard_rpc_timeouts_total"), 1.0);
    QCOMPARE(m.value("switchboard_rpc_in_flight"), 0.0);
}

void tst_GatewayRpcProxy::concurrencyLimitAnswersBusy()
{
    WebhookBackend backend = rpcBackend();
    QVERIFY(backend.start({"--delay", "1"}));
    GatewayProcess gateway;
    QVERIFY(gateway.start({"--rpc-proxy", backend.url("/rpc"), "--rpc-concurrency", "1", "--rpc-timeout", "5000"}));
    WsClient alice;
    WsClient bob;
    QVERIFY(!connectAs(alice, gateway, "alice").isEmpty());
    QVERIFY(!connectAs(bob, gateway, "bob").isEmpty());
    request(alice, "slow", 1, 1);
    QVERIFY(backend.waitForRequests(1)); // alice's request holds the one slot
    QElapsedTimer t;
    t.start();
    request(bob, "echo", 2, 2);
    const QJsonObject busy = replyTo(bob, 2);
    const qint64 busyMs = t.elapsed();
    QCOMPARE(busy.value("topic").toString(), QStringLiteral("error"));
    QCOMPARE(busy.value("payload").toObject().value("status").toInt(), 503);
    QCOMPARE(busy.value("payload").toObject().value("message").toString(), QStringLiteral("rpc proxy busy"));
    QVERIFY2(busyMs < 500, qPrintable(QString::number(busyMs))); // at once, not after alice's answer
    QNetworkAccessManager nam;
    auto m = metrics(nam, gateway);
    QCOMPARE(m.value("switchboard_rpc_busy_total"), 1.0);
    QCOMPARE(m.value("switchboard_rpc_in_flight"), 1.0);

    // Alice's request completes; the slot is free again.
    QCOMPARE(alice.waitFor("reply", 1, 5000).value_or(QJsonObject{}).value("topic").toString(), QStringLiteral("slow"));
    request(bob, "echo", 3, 3);
    QCOMPARE(replyTo(bob, 3).value("topic").toString(), QStringLiteral("echo"));
    QCOMPARE(backend.requests().size(), 2); // the busy request never reached the backend
    m = metrics(nam, gateway);
    QCOMPARE(m.value("switchboard_rpc_requests_total"), 3.0);
    QCOMPARE(m.value("switchboard_rpc_in_flight"), 0.0);
}

void tst_GatewayRpcProxy::fireAndForget()
{
    WebhookBackend backend = rpcBackend();
    QVERIFY(backend.start());
    GatewayProcess gateway;
    QVERIFY(gateway.start({"--rpc-proxy", backend.url("/rpc")}));
    WsClient alice;
    QVERIFY(!connectAs(alice, gateway, "alice").isEmpty());
    alice.send(QJsonObject{{"op", "request"}, {"topic", "echo"}, {"payload", QJsonObject{{"n", 1}}}});
    alice.send(QJsonObject{{"op", "request"}, {"topic", "crash"}}); // its error is not sent either
    QVERIFY(backend.waitForRequests(2));
    QNetworkAccessManager nam;
    QVERIFY(QTest::qWaitFor([&] { return metrics(nam, gateway).value("switchboard_rpc_seconds_count") >= 2; }, 5000));
    // A later request with an ackId is answered; by then nothing else arrived.
    request(alice, "echo", 2, 2);
    QCOMPARE(replyTo(alice, 2).value("topic").toString(), QStringLiteral("echo"));
    for (const QJsonObject &frame : alice.frames())
        QVERIFY2(frame.value("op") != "reply" && frame.value("op") != "ack" && frame.value("op") != "error",
                 QJsonDocument(frame).toJson().constData());
    // The two requests run concurrently on the proxy: the backend may see either one first.
    QJsonObject body;
    for (const WebhookRequest &r : backend.requests())
        if (const QJsonObject o = QJsonDocument::fromJson(r.body).object(); o.value("topic") == "echo" && o.value("reply") == false)
            body = o;
    QCOMPARE(body.value("topic").toString(), QStringLiteral("echo"));
    QCOMPARE(body.value("payload").toObject().value("n").toInt(), 1);
    QCOMPARE(body.value("user").toString(), QStringLiteral("alice"));
    QCOMPARE(body.value("reply").toBool(true), false);
    QCOMPARE(metrics(nam, gateway).value("switchboard_rpc_failed_total{reason=\"status\"}"), 1.0);
}

void tst_GatewayRpcProxy::refusesBadUrlsAndOptions()
{
    const QList<QStringList> cases{{"--rpc-proxy", "ftp://127.0.0.1:1/rpc"},
                                   {"--rpc-proxy", "not a url"},
                                   {"--rpc-proxy", "http://127.0.0.1:1/rpc", "--rpc-concurrency", "0"},
                                   {"--rpc-proxy", "http://127.0.0.1:1/rpc", "--rpc-timeout", "0"}};
    QVERIFY(everyRefusesToStart(cases, "--rpc-"));
}

QTEST_MAIN(tst_GatewayRpcProxy)
#include "tst_gatewayrpcproxy.moc"
