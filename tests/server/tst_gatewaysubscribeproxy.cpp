// switchboard-gateway --subscribe-proxy against a Python http.server backend started by the test
// (tests/server/subscribe_backend.py, which answers by a word in the channel name): private and
// presence joins allowed by the backend (its info in the roster and member_added frames, token
// channel patterns not consulted), denied (403), a backend that answers garbage, non-JSON or 500
// (502), is down (502), is slow (504, other clients keep publishing and receiving), the
// concurrency limit (503), a session that leaves while its join waits, the
// --authorization-timeout deadline; every outcome counted.

#include "BackendTestSupport.h"

#include <QElapsedTimer>
#include <QTemporaryDir>

#include <algorithm>

using namespace gatewaytest;

namespace {

/// A token whose channel patterns allow only `news`: private and presence joins pass only
/// because the subscribe proxy allows them.
QString tokenFor(const QString &user)
{
    return userToken(user, {"news"}, {{"name", user.toUpper()}});
}

WebhookBackend subscribeBackend() { return WebhookBackend(QStringLiteral(SWITCHBOARD_SUBSCRIBE_BACKEND)); }

/// Connects with a token and a client name; the welcome frame (empty object on failure).
QJsonObject connectAs(WsClient &client, const GatewayProcess &gateway, const QString &user, const QString &name = {})
{
    return connectWithToken(client, gateway, tokenFor(user), name);
}

void subscribe(WsClient &client, const QString &channel, int ackId, const QJsonObject &extra = {})
{
    QJsonObject frame{{"op", "subscribe"}, {"channel", channel}, {"ackId", ackId}};
    for (auto it = extra.begin(); it != extra.end(); ++it)
        frame.insert(it.key(), it.value());
    client.send(frame);
}

/// The answer to subscribe `ackId`: the `subscribed` or `error` frame; empty object when none came.
QJsonObject answerTo(WsClient &client, int ackId, int timeoutMs = 5000)
{
    QJsonObject answer;
    (void)QTest::qWaitFor([&] {
        for (qsizetype i = 0; i < client.frames().size(); ++i) {
            const QJsonObject &f = client.frames()[i];
            const QString op = f.value("op").toString();
            if ((op == "subscribed" || op == "error") && f.value("ackId").toInt() == ackId) {
                answer = client.frames().takeAt(i);
                return true;
            }
        }
        return false;
    }, timeoutMs);
    return answer;
}

/// The next presence frame with this event on this channel (consumed); empty when none came.
QJsonObject presenceFrame(WsClient &client, const QString &event, const QString &channel, int timeoutMs = 5000)
{
    QJsonObject frame;
    (void)QTest::qWaitFor([&] {
        for (qsizetype i = 0; i < client.frames().size(); ++i) {
            const QJsonObject &f = client.frames()[i];
            if (f.value("op") == "presence" && f.value("event") == event && f.value("channel") == channel) {
                frame = client.frames().takeAt(i);
                return true;
            }
        }
        return false;
    }, timeoutMs);
    return frame;
}

QJsonObject memberOf(const QJsonObject &roster, const QString &id)
{
    for (const QJsonValue &m : roster.value("members").toArray())
        if (m.toObject().value("id").toString() == id)
            return m.toObject();
    return {};
}

double metricValue(QNetworkAccessManager &nam, const GatewayProcess &g, const QString &name)
{
    return metrics(nam, g).value(name, -1);
}

} // namespace

class tst_GatewaySubscribeProxy : public QObject
{
    Q_OBJECT

private slots:
    void allowedPresenceJoinCarriesBackendInfo();
    void backendMayNameTheMember();
    void expiringAuthorizationIsRefreshedOrEnds();
    void refusals_data();
    void refusals();
    void backendDown();
    void slowBackendTimesOutOthersUnaffected();
    void concurrencyLimitRefusesBusy();
    void sessionLeavesWhileJoinPending();
    void authorizationTimeoutFlag();
    void configFileKeys();
    void sseRefusals();
    void publicChannelsSkipTheProxy();
    void refusesBadUrlsAndOptions();
};

void tst_GatewaySubscribeProxy::allowedPresenceJoinCarriesBackendInfo()
{
    WebhookBackend backend = subscribeBackend();
    QVERIFY(backend.start());
    GatewayProcess gateway;
    QVERIFY(gateway.start({"--subscribe-proxy", backend.url("/subscribe")}));
    WsClient alice;
    const QJsonObject welcome = connectAs(alice, gateway, "alice", "dashboard");
    QVERIFY(!welcome.isEmpty());
    // score: a double whose shortest text a JSON parser may read one unit in the last place off.
    const QJsonObject channelData{{"user_id", "someone-else"},
                                  {"user_info", QJsonObject{{"seat", 4}, {"score", 474.59380568556355}}}};
    subscribe(alice, "presence-lobby", 1, {{"auth", "sig-1"}, {"channelData", channelData}});
    const QJsonObject subscribed = answerTo(alice, 1);
    QCOMPARE(subscribed.value("op").toString(), QStringLiteral("subscribed"));
    QCOMPARE(subscribed.value("type").toString(), QStringLiteral("presence"));

    // The roster shows alice (the token's user, not channelData's) with the backend's info.
    const QJsonObject roster = presenceFrame(alice, "presence:subscription_succeeded", "presence-lobby");
    const QJsonObject info = memberOf(roster, "alice").value("info").toObject();
    QCOMPARE(info.value("role").toString(), QStringLiteral("moderator"));
    QCOMPARE(info.value("user").toString(), QStringLiteral("alice"));
    QCOMPARE(info.value("auth").toString(), QStringLiteral("sig-1"));
    QCOMPARE(info.value("data").toObject(), channelData);
    const double score = info.value("data").toObject().value("user_info").toObject().value("score").toDouble();
    QVERIFY2(score == 474.59380568556355, qPrintable(QString::number(score, 'g', 17))); // bit for bit
    QCOMPARE(info.value("client").toString(), QStringLiteral("dashboard"));
    QCOMPARE(info.value("type").toString(), QStringLiteral("presence"));
    // And so does her own member_added (the newcomer is told about itself too).
    const QJsonObject self = presenceFrame(alice, "presence:member_added", "presence-lobby");
    QCOMPARE(self.value("member").toObject().value("id").toString(), QStringLiteral("alice"));
    QCOMPARE(self.value("member").toObject().value("info").toObject(), info);

    // Bob joins: alice is told, with bob's backend info.
    WsClient bob;
    QVERIFY(!connectAs(bob, gateway, "bob").isEmpty());
    subscribe(bob, "presence-lobby", 2);
    QCOMPARE(answerTo(bob, 2).value("op").toString(), QStringLiteral("subscribed"));
    const QJsonObject added = presenceFrame(alice, "presence:member_added", "presence-lobby");
    QCOMPARE(added.value("member").toObject().value("id").toString(), QStringLiteral("bob"));
    QCOMPARE(added.value("member").toObject().value("info").toObject().value("role").toString(), QStringLiteral("moderator"));
    QVERIFY(added.value("member").toObject().value("info").toObject().value("client").isNull());

    // A private channel: allowed too (the token's patterns allow only `news`), publications flow.
    subscribe(bob, "private-orders", 3);
    QCOMPARE(answerTo(bob, 3).value("op").toString(), QStringLiteral("subscribed"));
    QNetworkAccessManager nam;
    QCOMPARE(publish(nam, gateway, QJsonObject{{"channel", "private-orders"}, {"event", "created"}, {"data", QJsonObject{{"n", 1}}}}).status, 200);
    QVERIFY(bob.waitFor("message").has_value());

    // What the backend received.
    QVERIFY(backend.waitForRequests(3));
    const WebhookRequest &first = backend.requests().first();
    QCOMPARE(first.path, QStringLiteral("/subscribe"));
    QCOMPARE(first.headers.value("content-type").toString(), QStringLiteral("application/json"));
    const QJsonObject body = QJsonDocument::fromJson(first.body).object();
    QCOMPARE(body.value("channel").toString(), QStringLiteral("presence-lobby"));
    QCOMPARE(body.value("type").toString(), QStringLiteral("presence"));
    QCOMPARE(body.value("user").toString(), QStringLiteral("alice"));
    QCOMPARE(body.value("info").toObject().value("name").toString(), QStringLiteral("ALICE"));
    QCOMPARE(body.value("session").toString(), welcome.value("session").toString());
    QCOMPARE(body.value("client").toString(), QStringLiteral("dashboard"));
    QCOMPARE(body.value("auth").toString(), QStringLiteral("sig-1"));
    QCOMPARE(body.value("data").toObject(), channelData);
    const QJsonObject privateBody = QJsonDocument::fromJson(backend.requests().at(2).body).object();
    QCOMPARE(privateBody.value("type").toString(), QStringLiteral("private"));
    QVERIFY(privateBody.value("auth").isNull());
    QVERIFY(privateBody.value("data").isNull());

    const auto m = metrics(nam, gateway);
    QCOMPARE(m.value("switchboard_subscribe_proxy_requests_total"), 3.0);
    QCOMPARE(m.value("switchboard_subscribe_proxy_allowed_total"), 3.0);
    QCOMPARE(m.value("switchboard_subscribe_proxy_denied_total"), 0.0);
    QCOMPARE(m.value("switchboard_subscribe_proxy_in_flight"), 0.0);
    QCOMPARE(m.value("switchboard_subscribe_proxy_seconds_count"), 3.0);
}

void tst_GatewaySubscribeProxy::backendMayNameTheMember()
{
    WebhookBackend backend = subscribeBackend();
    QVERIFY(backend.start());
    GatewayProcess gateway;
    QVERIFY(gateway.start({"--subscribe-proxy", backend.url("/subscribe")}));
    WsClient alice;
    QVERIFY(!connectAs(alice, gateway, "alice").isEmpty());
    subscribe(alice, "presence-renamed", 1);
    QCOMPARE(answerTo(alice, 1).value("op").toString(), QStringLiteral("subscribed"));
    const QJsonObject roster = presenceFrame(alice, "presence:subscription_succeeded", "presence-renamed");
    QCOMPARE(memberOf(roster, "backend-alice").value("info").toObject(), (QJsonObject{{"badge", "renamed"}}));
    QVERIFY(memberOf(roster, "alice").isEmpty());
}

void tst_GatewaySubscribeProxy::expiringAuthorizationIsRefreshedOrEnds()
{
    WebhookBackend backend = subscribeBackend();
    QVERIFY(backend.start());
    GatewayProcess gateway;
    QVERIFY(gateway.start({"--subscribe-proxy", backend.url("/subscribe")}));
    WsClient alice;
    QVERIFY(!connectAs(alice, gateway, "alice").isEmpty());
    alice.send({{"op", "subscribe"}, {"channel", "private-expiring"}, {"auth", "a1"}, {"ackId", 1}});
    QCOMPARE(answerTo(alice, 1).value("op").toString(), QStringLiteral("subscribed"));
    // 3 s granted: told 1.5 s before the end; a refresh asks the backend again.
    const auto hint = alice.waitFor("expiring", -1, 5000);
    QVERIFY(hint);
    QCOMPARE((*hint)["channel"].toString(), QStringLiteral("private-expiring"));
    alice.send({{"op", "refresh"}, {"channel", "private-expiring"}, {"auth", "a2"}, {"ackId", 2}});
    QVERIFY(alice.waitFor("ack", 2));
    QTest::qWait(2000); // past the first grant's end
    QNetworkAccessManager nam;
    QCOMPARE(publish(nam, gateway, {{"channel", "private-expiring"}, {"event", "e"}, {"data", 1}}).status, 200);
    QVERIFY(alice.waitFor("message"));
    // The backend refuses the next refresh: the subscription ends at the second grant's end.
    QVERIFY(alice.waitFor("expiring", -1, 5000));
    alice.send({{"op", "refresh"}, {"channel", "private-expiring"}, {"auth", "revoked"}, {"ackId", 3}});
    const QJsonObject refused = answerTo(alice, 3);
    QCOMPARE(refused.value("code").toInt(), 403);
    QCOMPARE(refused.value("message").toString(), QStringLiteral("access revoked"));
    const auto expired = alice.waitFor("error", -1, 5000);
    QVERIFY(expired);
    QCOMPARE((*expired)["code"].toInt(), 401);
    QCOMPARE((*expired)["channel"].toString(), QStringLiteral("private-expiring"));
    const auto unsubscribed = alice.waitFor("unsubscribed", -1, 5000);
    QVERIFY(unsubscribed);
    QCOMPARE((*unsubscribed)["server"].toBool(), true);
    QVERIFY(!alice.disconnected());
    QCOMPARE(metricValue(nam, gateway, "switchboard_channel_authorization_refreshes_total"), 1.0);
    QCOMPARE(metricValue(nam, gateway, "switchboard_channel_authorization_refresh_failures_total"), 1.0);
    QCOMPARE(metricValue(nam, gateway, "switchboard_channel_authorization_expirations_total"), 1.0);
}

void tst_GatewaySubscribeProxy::refusals_data()
{
    QTest::addColumn<QString>("channel");
    QTest::addColumn<int>("code");
    QTest::addColumn<QString>("message");
    QTest::addColumn<QString>("metric");
    QTest::newRow("allow false") << "private-deny" << 403 << "not in this team" << "switchboard_subscribe_proxy_denied_total";
    QTest::newRow("403") << "presence-forbid" << 403 << "members only" << "switchboard_subscribe_proxy_denied_total";
    QTest::newRow("401 text") << "private-unauth" << 401 << "subscribe proxy denied the join" << "switchboard_subscribe_proxy_denied_total";
    QTest::newRow("2xx not JSON") << "private-notjson" << 502 << "backend answered invalid JSON"
                                  << "switchboard_subscribe_proxy_failed_total{reason=\"invalid_answer\"}";
    QTest::newRow("2xx without allow") << "private-noallow" << 502 << "backend answered invalid JSON"
                                       << "switchboard_subscribe_proxy_failed_total{reason=\"invalid_answer\"}";
    QTest::newRow("not HTTP") << "private-garbage" << 502 << "backend answered invalid HTTP"
                              << "switchboard_subscribe_proxy_failed_total{reason=\"invalid_answer\"}";
    QTest::newRow("500") << "presence-crash" << 502 << "backend answered HTTP 500"
                         << "switchboard_subscribe_proxy_failed_total{reason=\"status\"}";
}

void tst_GatewaySubscribeProxy::refusals()
{
    QFETCH(QString, channel);
    QFETCH(int, code);
    QFETCH(QString, message);
    QFETCH(QString, metric);
    WebhookBackend backend = subscribeBackend();
    QVERIFY(backend.start());
    GatewayProcess gateway;
    gateway.captureLog();
    QVERIFY(gateway.start({"--subscribe-proxy", backend.url("/subscribe")}));
    WsClient alice;
    QVERIFY(!connectAs(alice, gateway, "alice").isEmpty());
    subscribe(alice, channel, 1);
    const QJsonObject error = answerTo(alice, 1);
    QCOMPARE(error.value("op").toString(), QStringLiteral("error"));
    QCOMPARE(error.value("code").toInt(), code);
    QCOMPARE(error.value("message").toString(), message);
    QCOMPARE(error.value("channel").toString(), channel);
    // The refusal is logged with the peer and user, like every error frame.
    QVERIFY(!gateway.waitForLog(QRegularExpression(QStringLiteral("127\\.0\\.0\\.1.*alice.*error %1").arg(code))).isEmpty());
    // The connection keeps working, and so does the proxy.
    subscribe(alice, "private-ok", 2);
    QCOMPARE(answerTo(alice, 2).value("op").toString(), QStringLiteral("subscribed"));

    QNetworkAccessManager nam;
    const auto m = metrics(nam, gateway);
    QCOMPARE(m.value(metric), 1.0);
    QCOMPARE(m.value("switchboard_subscribe_proxy_requests_total"), 2.0);
    QCOMPARE(m.value("switchboard_subscribe_proxy_allowed_total"), 1.0);
    // Only a backend's "no" is an authorization failure; its failures are not.
    QCOMPARE(m.value("switchboard_auth_failures_total"), code == 403 || code == 401 ? 1.0 : 0.0);
}

void tst_GatewaySubscribeProxy::backendDown()
{
    const quint16 port = unusedPort();
    QVERIFY(port != 0);
    GatewayProcess gateway;
    gateway.captureLog();
    QVERIFY(gateway.start({"--subscribe-proxy", QStringLiteral("http://127.0.0.1:%1/subscribe").arg(port)}));
    WsClient bob;
    QVERIFY(!connectAs(bob, gateway, "bob").isEmpty());
    subscribe(bob, "private-orders", 1);
    const QJsonObject error = answerTo(bob, 1);
    QCOMPARE(error.value("op").toString(), QStringLiteral("error"));
    QCOMPARE(error.value("code").toInt(), 502);
    QCOMPARE(error.value("name").toString(), QStringLiteral("bad_gateway"));
    QCOMPARE(error.value("message").toString(), QStringLiteral("backend unreachable"));
    QVERIFY(!gateway.waitForLog(QRegularExpression("subscribe proxy: channel \"private-orders\" of user \"bob\" session \\S+: 502 backend unreachable")).isEmpty());
    QNetworkAccessManager nam;
    QCOMPARE(metricValue(nam, gateway, "switchboard_subscribe_proxy_failed_total{reason=\"unreachable\"}"), 1.0);
    // Public channels and the session itself are unaffected.
    subscribe(bob, "news", 2);
    QCOMPARE(answerTo(bob, 2).value("op").toString(), QStringLiteral("subscribed"));
    bob.send(QJsonObject{{"op", "ping"}, {"ackId", 9}});
    QVERIFY(bob.waitFor("pong", 9));
}

void tst_GatewaySubscribeProxy::slowBackendTimesOutOthersUnaffected()
{
    WebhookBackend backend = subscribeBackend();
    QVERIFY(backend.start({"--delay", "3"}));
    GatewayProcess gateway;
    QVERIFY(gateway.start({"--subscribe-proxy", backend.url("/subscribe"), "--subscribe-proxy-timeout", "500"}));
    WsClient alice;
    WsClient bob;
    WsClient carol;
    QVERIFY(!connectAs(alice, gateway, "alice").isEmpty());
    QVERIFY(!connectAs(bob, gateway, "bob").isEmpty());
    QVERIFY(!connectAs(carol, gateway, "carol").isEmpty());
    subscribe(carol, "news", 1);
    QCOMPARE(answerTo(carol, 1).value("op").toString(), QStringLiteral("subscribed"));
    subscribe(bob, "news", 1);
    QCOMPARE(answerTo(bob, 1).value("op").toString(), QStringLiteral("subscribed"));

    QElapsedTimer slowTimer;
    slowTimer.start();
    subscribe(alice, "private-slow", 1);
    QVERIFY(backend.waitForRequests(1));
    // While alice's join waits for the backend, bob publishes on another channel and carol
    // receives it promptly.
    QList<qint64> roundTrips;
    for (int i = 0; i < 5; ++i) {
        QElapsedTimer t;
        t.start();
        bob.send(QJsonObject{{"op", "publish"}, {"channel", "news"}, {"event", "tick"}, {"data", QJsonObject{{"n", i}}}, {"ackId", 100 + i}});
        QVERIFY(bob.waitFor("ack", 100 + i));
        const auto message = carol.waitFor("message");
        QVERIFY(message.has_value());
        roundTrips << t.elapsed();
        QCOMPARE(message->value("data").toObject().value("n").toInt(), i);
    }
    const QJsonObject error = answerTo(alice, 1, 5000);
    const qint64 slowElapsed = slowTimer.elapsed();
    QCOMPARE(error.value("op").toString(), QStringLiteral("error"));
    QCOMPARE(error.value("code").toInt(), 504);
    QCOMPARE(error.value("message").toString(), QStringLiteral("backend timed out"));
    QVERIFY2(slowElapsed >= 450 && slowElapsed < 2500, qPrintable(QString::number(slowElapsed)));
    std::sort(roundTrips.begin(), roundTrips.end());
    qInfo("504 after %lld ms; bob's publish -> carol's delivery meanwhile (ms, sorted): %s", slowElapsed,
          qPrintable([&] { QStringList s; for (qint64 v : roundTrips) s << QString::number(v); return s.join(' '); }()));
    QVERIFY2(roundTrips.last() < 400, qPrintable(QString::number(roundTrips.last())));

    QNetworkAccessManager nam;
    const auto m = metrics(nam, gateway);
    QCOMPARE(m.value("switchboard_subscribe_proxy_timeouts_total"), 1.0);
    QCOMPARE(m.value("switchboard_subscribe_proxy_in_flight"), 0.0);
    QCOMPARE(m.value("switchboard_auth_timeouts_total"), 0.0); // the proxy's deadline, not the Hub's
}

void tst_GatewaySubscribeProxy::concurrencyLimitRefusesBusy()
{
    WebhookBackend backend = subscribeBackend();
    QVERIFY(backend.start({"--delay", "1"}));
    GatewayProcess gateway;
    QVERIFY(gateway.start({"--subscribe-proxy", backend.url("/subscribe"), "--subscribe-proxy-concurrency", "1"}));
    WsClient alice;
    WsClient bob;
    QVERIFY(!connectAs(alice, gateway, "alice").isEmpty());
    QVERIFY(!connectAs(bob, gateway, "bob").isEmpty());
    subscribe(alice, "private-slow", 1);
    QVERIFY(backend.waitForRequests(1)); // alice's join holds the one slot
    QElapsedTimer t;
    t.start();
    subscribe(bob, "private-orders", 2);
    const QJsonObject busy = answerTo(bob, 2);
    const qint64 busyMs = t.elapsed();
    QCOMPARE(busy.value("op").toString(), QStringLiteral("error"));
    QCOMPARE(busy.value("code").toInt(), 503);
    QCOMPARE(busy.value("message").toString(), QStringLiteral("subscribe proxy busy"));
    QVERIFY2(busyMs < 500, qPrintable(QString::number(busyMs))); // at once, not after alice's answer
    QNetworkAccessManager nam;
    auto m = metrics(nam, gateway);
    QCOMPARE(m.value("switchboard_subscribe_proxy_busy_total"), 1.0);
    QCOMPARE(m.value("switchboard_subscribe_proxy_in_flight"), 1.0);

    // Alice's join completes; the slot is free again and bob's retry passes.
    QCOMPARE(answerTo(alice, 1, 5000).value("op").toString(), QStringLiteral("subscribed"));
    subscribe(bob, "private-orders", 3);
    QCOMPARE(answerTo(bob, 3).value("op").toString(), QStringLiteral("subscribed"));
    QCOMPARE(backend.requests().size(), 2); // the busy join never reached the backend
    m = metrics(nam, gateway);
    QCOMPARE(m.value("switchboard_subscribe_proxy_requests_total"), 3.0);
    QCOMPARE(m.value("switchboard_subscribe_proxy_in_flight"), 0.0);
}

void tst_GatewaySubscribeProxy::sessionLeavesWhileJoinPending()
{
    WebhookBackend backend = subscribeBackend();
    QVERIFY(backend.start({"--delay", "1"}));
    GatewayProcess gateway;
    QVERIFY(gateway.start({"--subscribe-proxy", backend.url("/subscribe")}));
    QNetworkAccessManager nam;
    {
        WsClient alice;
        QVERIFY(!connectAs(alice, gateway, "alice").isEmpty());
        subscribe(alice, "presence-slow", 1);
        QVERIFY(backend.waitForRequests(1));
        alice.socket().close();
        QVERIFY(QTest::qWaitFor([&] { return metricValue(nam, gateway, "switchboard_sessions") == 0; }, 5000));
    }
    // The backend answers "allow" after alice left: the answer is dropped and counted, nobody
    // joins the channel, and the gateway goes on serving.
    QVERIFY(QTest::qWaitFor([&] { return metricValue(nam, gateway, "switchboard_subscribe_proxy_abandoned_total") == 1; }, 5000));
    const auto m = metrics(nam, gateway);
    QCOMPARE(m.value("switchboard_subscribe_proxy_in_flight"), 0.0);
    QCOMPARE(m.value("switchboard_channels"), 0.0);
    WsClient bob;
    QVERIFY(!connectAs(bob, gateway, "bob").isEmpty());
    subscribe(bob, "presence-lobby", 2);
    QCOMPARE(answerTo(bob, 2).value("op").toString(), QStringLiteral("subscribed"));
    const QJsonObject roster = presenceFrame(bob, "presence:subscription_succeeded", "presence-lobby");
    QCOMPARE(roster.value("members").toArray().size(), 1); // bob alone: alice never joined
}

void tst_GatewaySubscribeProxy::authorizationTimeoutFlag()
{
    WebhookBackend backend = subscribeBackend();
    QVERIFY(backend.start({"--delay", "2"}));
    GatewayProcess gateway;
    QVERIFY(gateway.start({"--subscribe-proxy", backend.url("/subscribe"), "--authorization-timeout", "300"}));
    WsClient alice;
    QVERIFY(!connectAs(alice, gateway, "alice").isEmpty());
    QElapsedTimer t;
    t.start();
    subscribe(alice, "private-slow", 1);
    const QJsonObject error = answerTo(alice, 1);
    const qint64 elapsed = t.elapsed();
    QCOMPARE(error.value("op").toString(), QStringLiteral("error"));
    QCOMPARE(error.value("code").toInt(), 504);
    QCOMPARE(error.value("name").toString(), QStringLiteral("authorization_timeout"));
    QVERIFY2(elapsed >= 250 && elapsed < 1500, qPrintable(QString::number(elapsed)));
    QNetworkAccessManager nam;
    QCOMPARE(metricValue(nam, gateway, "switchboard_auth_timeouts_total"), 1.0);
    // The backend's late "allow" changes nothing.
    QVERIFY(QTest::qWaitFor([&] { return metricValue(nam, gateway, "switchboard_subscribe_proxy_allowed_total") == 1; }, 5000));
    QCOMPARE(metricValue(nam, gateway, "switchboard_channels"), 0.0);
    QVERIFY(!answerTo(alice, 1, 200).value("op").isString());
}

void tst_GatewaySubscribeProxy::configFileKeys()
{
    WebhookBackend backend = subscribeBackend();
    QVERIFY(backend.start({"--delay", "2"}));
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    QFile config(dir.filePath("gateway.json"));
    QVERIFY(config.open(QIODevice::WriteOnly));
    config.write(QJsonDocument(QJsonObject{{"subscribeProxy", backend.url("/subscribe")},
                                           {"subscribeProxyTimeoutMs", 4000},
                                           {"subscribeProxyConcurrency", 1},
                                           {"authorizationTimeoutMs", 300}}).toJson());
    config.close();
    GatewayProcess gateway;
    gateway.captureLog();
    QVERIFY(gateway.start({"--config", config.fileName()}));
    QVERIFY(!gateway.waitForLog(QRegularExpression("subscribe proxy: http://127\\.0\\.0\\.1:\\d+/subscribe authorizes private and presence joins, "
                                                   "timeout 4000 ms, 1 in flight at most, authorization deadline 300 ms")).isEmpty());
    WsClient alice;
    WsClient bob;
    QVERIFY(!connectAs(alice, gateway, "alice").isEmpty());
    QVERIFY(!connectAs(bob, gateway, "bob").isEmpty());
    subscribe(alice, "private-slow", 1);
    QVERIFY(backend.waitForRequests(1));
    subscribe(bob, "private-slow", 2);
    QCOMPARE(answerTo(bob, 2).value("code").toInt(), 503); // concurrency 1
    QCOMPARE(answerTo(alice, 1).value("code").toInt(), 504); // the Hub's 300 ms deadline
}

void tst_GatewaySubscribeProxy::sseRefusals()
{
    // SSE streams on private channels ask the same backend; its refusals become HTTP statuses.
    WebhookBackend backend = subscribeBackend();
    QVERIFY(backend.start());
    GatewayProcess gateway;
    QVERIFY(gateway.start({"--subscribe-proxy", backend.url("/subscribe")}));
    QNetworkAccessManager nam;
    const QString token = tokenFor("alice");
    const auto sse = [&](const QString &channel) {
        return http(nam, "GET", gateway.url(QStringLiteral("/sse?channels=%1&token=%2").arg(channel, token)), {}, false);
    };
    QCOMPARE(sse("private-deny").status, 403);
    QCOMPARE(sse("private-crash").status, 502);
    QCOMPARE(sse("private-garbage").status, 502);
    QVERIFY(backend.waitForRequests(3));
    const QJsonObject body = QJsonDocument::fromJson(backend.requests().first().body).object();
    QCOMPARE(body.value("channel").toString(), QStringLiteral("private-deny"));
    QCOMPARE(body.value("user").toString(), QStringLiteral("alice"));
    const auto m = metrics(nam, gateway);
    QCOMPARE(m.value("switchboard_subscribe_proxy_denied_total"), 1.0);
    QCOMPARE(m.value("switchboard_subscribe_proxy_failed_total{reason=\"status\"}"), 1.0);
    QCOMPARE(m.value("switchboard_subscribe_proxy_failed_total{reason=\"invalid_answer\"}"), 1.0);
}

void tst_GatewaySubscribeProxy::publicChannelsSkipTheProxy()
{
    WebhookBackend backend = subscribeBackend();
    QVERIFY(backend.start());
    GatewayProcess gateway;
    QVERIFY(gateway.start({"--subscribe-proxy", backend.url("/subscribe")}));
    WsClient anonymous;
    QVERIFY(anonymous.connectSession(gateway));
    subscribe(anonymous, "news", 1);
    QCOMPARE(answerTo(anonymous, 1).value("op").toString(), QStringLiteral("subscribed"));
    // An anonymous presence join the backend allows: the member is the session.
    subscribe(anonymous, "presence-open", 2);
    QCOMPARE(answerTo(anonymous, 2).value("op").toString(), QStringLiteral("subscribed"));
    QVERIFY(backend.waitForRequests(1));
    QCOMPARE(backend.requests().size(), 1);
    const QJsonObject body = QJsonDocument::fromJson(backend.requests().first().body).object();
    QCOMPARE(body.value("channel").toString(), QStringLiteral("presence-open"));
    QVERIFY(body.value("user").isNull());
    QVERIFY(body.value("info").isNull());
    QVERIFY(body.value("client").isNull());
}

void tst_GatewaySubscribeProxy::refusesBadUrlsAndOptions()
{
    const QList<QStringList> cases{{"--subscribe-proxy", "ftp://127.0.0.1:1/subscribe"},
                                   {"--subscribe-proxy", "not a url"},
                                   {"--subscribe-proxy", "http://127.0.0.1:1/s", "--subscribe-proxy-concurrency", "0"},
                                   {"--subscribe-proxy", "http://127.0.0.1:1/s", "--subscribe-proxy-timeout", "0"}};
    QVERIFY(everyRefusesToStart(cases, "--subscribe-proxy"));
}

QTEST_MAIN(tst_GatewaySubscribeProxy)
#include "tst_gatewaysubscribeproxy.moc"
