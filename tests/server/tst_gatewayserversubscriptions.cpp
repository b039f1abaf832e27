// switchboard-gateway: server-side subscriptions through POST /api/subscribe and
// /api/unsubscribe (issue 11, seed 001), over real sockets.
#include "GatewayProcess.h"

#include <QDateTime>
#include <QtTest>

using namespace gatewaytest;

namespace {

QString tokenFor(const QString &user, const QJsonArray &channels = {})
{
    return makeToken(QJsonObject{{"sub", user},
                                 {"info", QJsonObject{{"name", user.toUpper()}}},
                                 {"channels", channels},
                                 {"exp", QDateTime::currentSecsSinceEpoch() + 3600}});
}

HttpResult post(QNetworkAccessManager &nam, const GatewayProcess &g, const QString &path, const QJsonObject &body,
                bool withKey = true)
{
    return http(nam, "POST", g.url(path), QJsonDocument(body).toJson(QJsonDocument::Compact), withKey);
}

/// Opens a session with `token` and returns its id from `welcome` (empty on failure).
QString connectAndGetSession(WsClient &client, const GatewayProcess &g, const QString &token)
{
    if (!client.open(g))
        return {};
    client.send({{"op", "connect"}, {"version", 1}, {"token", token}});
    const auto welcome = client.waitFor("welcome");
    return welcome ? welcome->value("session").toString() : QString();
}

} // namespace

class tst_GatewayServerSubscriptions : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase() { QVERIFY(m_gateway.start()); }

    void subscribeSessionDeliversThenUnsubscribeStops()
    {
        WsClient client;
        const QString session = connectAndGetSession(client, m_gateway, tokenFor("carol"));
        QVERIFY(!session.isEmpty());
        QCOMPARE(publish(m_nam, m_gateway, {{"channel", "feeds/one"}, {"event", "before"}, {"data", 1}}).status, 200);

        const auto subscribed = post(m_nam, m_gateway, "/api/subscribe", {{"channel", "feeds/one"}, {"session", session}});
        QCOMPARE(subscribed.status, 200);
        QCOMPARE(subscribed.json().value("sessions").toInt(), 1);
        const auto frame = client.waitFor("subscribed");
        QVERIFY(frame.has_value());
        QCOMPARE(frame->value("channel").toString(), QString("feeds/one"));
        QCOMPARE(frame->value("server").toBool(), true);
        QVERIFY(!frame->contains("ackId"));
        QCOMPARE(frame->value("offset").toInt(), 1); // the channel's position: one publication before
        QVERIFY(!frame->value("epoch").toString().isEmpty());

        QCOMPARE(publish(m_nam, m_gateway, {{"channel", "feeds/one"}, {"event", "after"}, {"data", 2}}).status, 200);
        const auto message = client.waitFor("message");
        QVERIFY(message.has_value());
        QCOMPARE(message->value("event").toString(), QString("after"));

        // Subscribing again is success (already subscribed), with no second frame.
        const auto again = post(m_nam, m_gateway, "/api/subscribe", {{"channel", "feeds/one"}, {"session", session}});
        QCOMPARE(again.status, 200);
        QCOMPARE(again.json().value("sessions").toInt(), 1);

        const auto unsubscribed = post(m_nam, m_gateway, "/api/unsubscribe", {{"channel", "feeds/one"}, {"session", session}});
        QCOMPARE(unsubscribed.status, 200);
        QCOMPARE(unsubscribed.json().value("sessions").toInt(), 1);
        const auto gone = client.waitFor("unsubscribed");
        QVERIFY(gone.has_value());
        QCOMPARE(gone->value("server").toBool(), true);
        QVERIFY(!client.waitFor("subscribed", -1, 0).has_value()); // the repeated subscribe sent nothing

        // Nothing more arrives: a publication, then a ping whose pong proves the order.
        QCOMPARE(publish(m_nam, m_gateway, {{"channel", "feeds/one"}, {"event", "late"}, {"data", 3}}).status, 200);
        client.send({{"op", "ping"}, {"ackId", 77}});
        QVERIFY(client.waitFor("pong", 77).has_value());
        QVERIFY(!client.waitFor("message", -1, 0).has_value());

        const auto twice = post(m_nam, m_gateway, "/api/unsubscribe", {{"channel", "feeds/one"}, {"session", session}});
        QCOMPARE(twice.status, 200);
        QCOMPARE(twice.json().value("sessions").toInt(), 0);
    }

    void subscribeUserReachesEveryConnectionOfTheUser()
    {
        WsClient first, second, other;
        QVERIFY(!connectAndGetSession(first, m_gateway, tokenFor("dave")).isEmpty());
        QVERIFY(!connectAndGetSession(second, m_gateway, tokenFor("dave")).isEmpty());
        QVERIFY(!connectAndGetSession(other, m_gateway, tokenFor("erin")).isEmpty());

        const auto result = post(m_nam, m_gateway, "/api/subscribe", {{"channel", "private-inbox/dave"}, {"user", "dave"}});
        QCOMPARE(result.status, 200);
        QCOMPARE(result.json().value("sessions").toInt(), 2);
        // A private channel: the server decided, no token pattern needed.
        const auto a = first.waitFor("subscribed");
        const auto b = second.waitFor("subscribed");
        QVERIFY(a && b);
        QCOMPARE(a->value("type").toString(), QString("private"));
        QCOMPARE(publish(m_nam, m_gateway, {{"channel", "private-inbox/dave"}, {"event", "mail"}, {"data", "hi"}}).status, 200);
        QVERIFY(first.waitFor("message").has_value());
        QVERIFY(second.waitFor("message").has_value());
        other.send({{"op", "ping"}, {"ackId", 5}});
        QVERIFY(other.waitFor("pong", 5).has_value());
        QVERIFY(!other.waitFor("subscribed", -1, 0).has_value());
        QVERIFY(!other.waitFor("message", -1, 0).has_value());

        // A user with no connection here: 0 sessions, not an error.
        const auto nobody = post(m_nam, m_gateway, "/api/subscribe", {{"channel", "news"}, {"user", "nobody"}});
        QCOMPARE(nobody.status, 200);
        QCOMPARE(nobody.json().value("sessions").toInt(), 0);

        const auto left = post(m_nam, m_gateway, "/api/unsubscribe", {{"channel", "private-inbox/dave"}, {"user", "dave"}});
        QCOMPARE(left.status, 200);
        QCOMPARE(left.json().value("sessions").toInt(), 2);
        QVERIFY(first.waitFor("unsubscribed").has_value());
        QVERIFY(second.waitFor("unsubscribed").has_value());
    }

    void presenceMemberIsTheSessionsUser()
    {
        WsClient client;
        const QString session = connectAndGetSession(client, m_gateway, tokenFor("frank"));
        QVERIFY(!session.isEmpty());
        const auto result = post(m_nam, m_gateway, "/api/subscribe", {{"channel", "presence-lobby"}, {"session", session}});
        QCOMPARE(result.status, 200);
        QVERIFY(client.waitFor("subscribed").has_value());
        const auto roster = client.waitFor("presence");
        QVERIFY(roster.has_value());
        QCOMPARE(roster->value("event").toString(), QString("presence:subscription_succeeded"));
        const QJsonArray members = roster->value("members").toArray();
        QCOMPARE(members.size(), 1);
        QCOMPARE(members[0].toObject().value("id").toString(), QString("frank"));
        QCOMPARE(members[0].toObject().value("info").toObject().value("name").toString(), QString("FRANK"));
        const auto presence = http(m_nam, "GET", m_gateway.url("/api/presence?channel=presence-lobby"));
        QCOMPARE(presence.json().value("members").toArray().size(), 1);
    }

    void refusals_data()
    {
        QTest::addColumn<QString>("path");
        QTest::addColumn<QByteArray>("body");
        QTest::addColumn<int>("status");
        QTest::newRow("not json") << "/api/subscribe" << QByteArray("{nope") << 400;
        QTest::newRow("not an object") << "/api/subscribe" << QByteArray("[1]") << 400;
        QTest::newRow("no channel") << "/api/subscribe" << QByteArray(R"({"user":"u"})") << 400;
        QTest::newRow("channel not a string") << "/api/subscribe" << QByteArray(R"({"channel":1,"user":"u"})") << 400;
        QTest::newRow("no target") << "/api/subscribe" << QByteArray(R"({"channel":"c"})") << 400;
        QTest::newRow("both targets") << "/api/subscribe" << QByteArray(R"({"channel":"c","user":"u","session":"s"})") << 400;
        QTest::newRow("empty user") << "/api/unsubscribe" << QByteArray(R"({"channel":"c","user":""})") << 400;
        QTest::newRow("bad filter") << "/api/subscribe" << QByteArray(R"({"channel":"c","user":"u","filter":[]})") << 400;
        QTest::newRow("invalid channel") << "/api/subscribe" << QByteArray(R"({"channel":"has space","user":"u"})") << 422;
        QTest::newRow("invalid channel (unsubscribe)") << "/api/unsubscribe" << QByteArray(R"({"channel":"","user":"u"})") << 422;
        QTest::newRow("unknown session") << "/api/subscribe" << QByteArray(R"({"channel":"c","session":"0123456789abcdef"})") << 404;
        QTest::newRow("unknown session (unsubscribe)") << "/api/unsubscribe" << QByteArray(R"({"channel":"c","session":"nope"})") << 404;
    }
    void refusals()
    {
        QFETCH(QString, path);
        QFETCH(QByteArray, body);
        QFETCH(int, status);
        const double before = metrics(m_nam, m_gateway).value("switchboard_api_subscription_refusals_total");
        const auto result = http(m_nam, "POST", m_gateway.url(path), body);
        QCOMPARE(result.status, status);
        QCOMPARE(result.json().value("error").toObject().value("code").toInt(), status);
        QVERIFY(!result.json().value("error").toObject().value("message").toString().isEmpty());
        QCOMPARE(metrics(m_nam, m_gateway).value("switchboard_api_subscription_refusals_total"), before + 1);
    }

    void needsTheApiKey()
    {
        const double before = metrics(m_nam, m_gateway).value("switchboard_api_auth_failures_total");
        const auto result = post(m_nam, m_gateway, "/api/subscribe", {{"channel", "c"}, {"user", "u"}}, false);
        QCOMPARE(result.status, 401);
        QCOMPARE(post(m_nam, m_gateway, "/api/unsubscribe", {{"channel", "c"}, {"user", "u"}}, false).status, 401);
        QCOMPARE(metrics(m_nam, m_gateway).value("switchboard_api_auth_failures_total"), before + 2);
        QCOMPARE(http(m_nam, "GET", m_gateway.url("/api/subscribe")).status, 405);
    }

    void successesAreCounted()
    {
        const double before = metrics(m_nam, m_gateway).value("switchboard_api_subscription_changes_total");
        QCOMPARE(post(m_nam, m_gateway, "/api/subscribe", {{"channel", "c"}, {"user", "u"}}).status, 200);
        QCOMPARE(post(m_nam, m_gateway, "/api/unsubscribe", {{"channel", "c"}, {"user", "u"}}).status, 200);
        QCOMPARE(metrics(m_nam, m_gateway).value("switchboard_api_subscription_changes_total"), before + 2);
    }

private:
    GatewayProcess m_gateway;
    QNetworkAccessManager m_nam;
};

QTEST_GUILESS_MAIN(tst_GatewayServerSubscriptions)
#include "tst_gatewayserversubscriptions.moc"
