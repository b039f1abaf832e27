// switchboard-gateway connection tokens: private and presence joins need a valid token whose
// channel patterns match; invalid tokens close the connection with 3501; a session told its token
// expires (`expiring`) sends a fresh one (`refresh`) and stays.
#include "GatewayProcess.h"

#include <QDateTime>

using namespace gatewaytest;

namespace {

qint64 nowSeconds() { return QDateTime::currentSecsSinceEpoch(); }

QJsonObject claims(const QString &sub, const QJsonArray &channels, qint64 exp)
{
    return {{"sub", sub}, {"info", QJsonObject{{"name", sub.toUpper()}}}, {"channels", channels}, {"exp", exp}};
}

} // namespace

class tst_GatewayAuth : public QObject
{
    Q_OBJECT

private slots:
    void join_data();
    void join();
    void badTokenClosesWith3501_data();
    void badTokenClosesWith3501();
    void expiredTokenClosesWith3004();
    void tokenRefreshedInPlace();
    void presenceRosterAndApi();
    void sseTokenForPrivateChannels();
};

void tst_GatewayAuth::join_data()
{
    QTest::addColumn<QString>("token");
    QTest::addColumn<QString>("channel");
    QTest::addColumn<int>("error"); // 0: subscribed

    const QString teamToken = makeToken(claims("alice", {"private-team/*", "presence-lobby"}, nowSeconds() + 3600));
    QTest::newRow("private, matching pattern") << teamToken << "private-team/dev" << 0;
    QTest::newRow("private, wrong channel") << teamToken << "private-other/dev" << 401;
    QTest::newRow("private, pattern too shallow") << teamToken << "private-team/dev/x" << 401;
    QTest::newRow("presence, matching") << teamToken << "presence-lobby" << 0;
    QTest::newRow("presence, wrong channel") << teamToken << "presence-kitchen" << 401;
    QTest::newRow("private, no token") << QString() << "private-team/dev" << 401;
    QTest::newRow("presence, no token") << QString() << "presence-lobby" << 401;
    QTest::newRow("public, no token") << QString() << "public/news" << 0;
    const QString everything = makeToken(claims("root", {"**"}, nowSeconds() + 60));
    QTest::newRow("private, ** pattern") << everything << "private-a/b/c" << 0;
    const QString noSub = makeToken(QJsonObject{{"channels", QJsonArray{"**"}}});
    QTest::newRow("presence needs a user id") << noSub << "presence-lobby" << 401;
    QTest::newRow("private without user id") << noSub << "private-x" << 0;
}

void tst_GatewayAuth::join()
{
    QFETCH(QString, token);
    QFETCH(QString, channel);
    QFETCH(int, error);
    GatewayProcess g;
    QVERIFY(g.start());
    WsClient client;
    QVERIFY(client.connectSession(g, token));
    client.send({{"op", "subscribe"}, {"channel", channel}, {"ackId", 7}});
    if (error == 0) {
        const auto subscribed = client.waitFor("subscribed", 7);
        QVERIFY(subscribed);
        QCOMPARE((*subscribed)["channel"].toString(), channel);
    } else {
        const auto refused = client.waitFor("error", 7);
        QVERIFY(refused);
        QCOMPARE((*refused)["code"].toInt(), error);
        QNetworkAccessManager nam;
        QCOMPARE(metrics(nam, g).value("switchboard_auth_failures_total"), 1.0);
    }
}

void tst_GatewayAuth::badTokenClosesWith3501_data()
{
    QTest::addColumn<QString>("token");
    const QJsonObject ok = claims("bob", {"**"}, nowSeconds() + 3600);
    QTest::newRow("wrong secret") << makeToken(ok, "another-secret");
    QTest::newRow("garbage") << QStringLiteral("not-a-token");
    QString tampered = makeToken(ok);
    tampered[tampered.indexOf('.') + 3] = tampered[tampered.indexOf('.') + 3] == 'A' ? 'B' : 'A';
    QTest::newRow("tampered claims") << tampered;
    QTest::newRow("bad pattern") << makeToken(claims("bob", {"a/**/b"}, nowSeconds() + 3600));
    // exp past what milliseconds since the epoch can hold (found by fuzz/fuzz_token).
    QJsonObject huge = ok;
    huge["exp"] = 1e300;
    QTest::newRow("exp out of range") << makeToken(huge);
    huge["exp"] = 9.3e15;
    QTest::newRow("exp overflowing milliseconds") << makeToken(huge);
}

void tst_GatewayAuth::badTokenClosesWith3501()
{
    QFETCH(QString, token);
    GatewayProcess g;
    QVERIFY(g.start());
    WsClient client;
    QVERIFY(client.open(g));
    client.send({{"op", "connect"}, {"version", 1}, {"token", token}});
    QCOMPARE(client.waitClosed(), 3501);
    QVERIFY(!client.waitFor("welcome", -1, 0));
    QNetworkAccessManager nam;
    QCOMPARE(metrics(nam, g).value("switchboard_auth_failures_total"), 1.0);
}

void tst_GatewayAuth::expiredTokenClosesWith3004()
{
    // A good signature past its `exp`: 3004 tells the client to fetch a fresh token and reconnect,
    // where 3501 would make it give up.
    GatewayProcess g;
    QVERIFY(g.start());
    WsClient client;
    QVERIFY(client.open(g));
    client.send({{"op", "connect"}, {"version", 1}, {"token", makeToken(claims("bob", {"**"}, nowSeconds() - 10))}});
    QCOMPARE(client.waitClosed(), 3004);
    QVERIFY(!client.waitFor("welcome", -1, 0));
    QNetworkAccessManager nam;
    const auto m = metrics(nam, g);
    QCOMPARE(m.value("switchboard_token_expirations_total"), 1.0);
    QCOMPARE(m.value("switchboard_auth_failures_total"), 0.0);

    // An expired token with a bad signature is just a bad token.
    WsClient forged;
    QVERIFY(forged.open(g));
    forged.send({{"op", "connect"}, {"version", 1}, {"token", makeToken(claims("bob", {"**"}, nowSeconds() - 10), "other")}});
    QCOMPARE(forged.waitClosed(), 3501);
}

void tst_GatewayAuth::tokenRefreshedInPlace()
{
    GatewayProcess g;
    QVERIFY(g.start({"--token-refresh-hint", "1500"}));
    WsClient client;
    // JWT expiries are whole seconds: 3 s from now is 2-3 s of lifetime, the hint 1.5 s before.
    QVERIFY(client.connectSession(g, makeToken(claims("bob", {"private-team/*"}, nowSeconds() + 3))));
    client.send({{"op", "subscribe"}, {"channel", "private-team/dev"}, {"ackId", 1}});
    QVERIFY(client.waitFor("subscribed", 1));
    const auto hint = client.waitFor("expiring", -1, 5000);
    QVERIFY(hint);
    QVERIFY((*hint)["in"].toInt() > 0 && (*hint)["in"].toInt() <= 1500);

    // Another user's token, a forged one: refused, the session stays (for now).
    client.send({{"op", "refresh"}, {"token", makeToken(claims("mallory", {"**"}, nowSeconds() + 600))}, {"ackId", 2}});
    client.send({{"op", "refresh"}, {"token", makeToken(claims("bob", {"**"}, nowSeconds() + 600), "other")}, {"ackId", 3}});
    const auto otherUser = client.waitFor("error", 2);
    const auto forged = client.waitFor("error", 3);
    QVERIFY(otherUser && forged);
    QCOMPARE((*otherUser)["code"].toInt(), 403);
    QCOMPARE((*forged)["code"].toInt(), 401);

    client.send({{"op", "refresh"}, {"token", makeToken(claims("bob", {"private-team/*"}, nowSeconds() + 600))}, {"ackId", 4}});
    QVERIFY(client.waitFor("ack", 4));
    // Past the first token's expiry: still connected, still subscribed.
    QTest::qWait(3500);
    QVERIFY(!client.disconnected());
    QNetworkAccessManager nam;
    QVERIFY(publish(nam, g, {{"channel", "private-team/dev"}, {"event", "e"}, {"data", 1}}).status == 200);
    QVERIFY(client.waitFor("message"));
    const auto m = metrics(nam, g);
    QCOMPARE(m.value("switchboard_token_refresh_hints_total"), 1.0);
    QCOMPARE(m.value("switchboard_token_refreshes_total"), 1.0);
    QCOMPARE(m.value("switchboard_token_refresh_failures_total"), 2.0);
    QCOMPARE(m.value("switchboard_token_expirations_total"), 0.0);

    // A session that does not refresh still closes 3004 at its expiry.
    WsClient idle;
    QVERIFY(idle.connectSession(g, makeToken(claims("carol", {}, nowSeconds() + 2))));
    QVERIFY(idle.waitFor("expiring", -1, 5000));
    QCOMPARE(idle.waitClosed(5000), 3004);
}

void tst_GatewayAuth::presenceRosterAndApi()
{
    GatewayProcess g;
    QVERIFY(g.start());
    const QJsonArray patterns{"presence-room/*"};
    WsClient alice, bob;
    QVERIFY(alice.connectSession(g, makeToken(claims("alice", patterns, nowSeconds() + 600))));
    QVERIFY(bob.connectSession(g, makeToken(claims("bob", patterns, nowSeconds() + 600))));
    alice.send({{"op", "subscribe"}, {"channel", "presence-room/1"}, {"ackId", 1}});
    QVERIFY(alice.waitFor("subscribed", 1));
    bob.send({{"op", "subscribe"}, {"channel", "presence-room/1"}, {"ackId", 1}});
    QVERIFY(bob.waitFor("subscribed", 1));
    // Bob, the newcomer, gets the roster and then his own member_added.
    const auto bobRoster = bob.waitFor("presence");
    QVERIFY(bobRoster);
    QCOMPARE((*bobRoster)["event"].toString(), "presence:subscription_succeeded");
    const auto bobAdded = bob.waitFor("presence");
    QVERIFY2(bobAdded, "the newcomer did not hear its own member_added");
    QCOMPARE((*bobAdded)["event"].toString(), "presence:member_added");
    QCOMPARE((*bobAdded)["member"].toObject()["id"].toString(), "bob");
    // Alice hears Bob arrive, with the info from his token.
    std::optional<QJsonObject> added;
    QDeadlineTimer deadline(5000);
    while (!deadline.hasExpired()) {
        added = alice.waitFor("presence", -1, int(deadline.remainingTime()));
        if (!added || ((*added)["event"].toString() == "presence:member_added"
                       && (*added)["member"].toObject()["id"].toString() == "bob"))
            break; // (alice's own member_added came first)
    }
    QVERIFY(added);
    QCOMPARE((*added)["member"].toObject()["id"].toString(), "bob");
    QCOMPARE((*added)["member"].toObject()["info"].toObject()["name"].toString(), "BOB");

    QNetworkAccessManager nam;
    const auto r = http(nam, "GET", g.url("/api/presence?channel=presence-room/1"));
    QCOMPARE(r.status, 200);
    const auto members = r.json()["members"].toArray();
    QCOMPARE(members.size(), 2);
    QStringList ids{members[0].toObject()["id"].toString(), members[1].toObject()["id"].toString()};
    ids.sort();
    QCOMPARE(ids, (QStringList{"alice", "bob"}));
}

void tst_GatewayAuth::sseTokenForPrivateChannels()
{
    GatewayProcess g;
    QVERIFY(g.start());
    QNetworkAccessManager nam;
    const auto refused = http(nam, "GET", g.url("/sse?channels=private-ops"), {}, false);
    QCOMPARE(refused.status, 401);
    const auto badToken = http(nam, "GET", g.url("/sse?channels=private-ops&token=x.y.z"), {}, false);
    QCOMPARE(badToken.status, 401);

    const QString token = makeToken(claims("ops", {"private-ops"}, nowSeconds() + 600));
    QNetworkRequest request(g.url("/sse?channels=private-ops&token=" + token));
    std::unique_ptr<QNetworkReply> reply(nam.get(request));
    QByteArray received;
    QObject::connect(reply.get(), &QNetworkReply::readyRead, reply.get(), [&] { received += reply->readAll(); });
    QTRY_VERIFY_WITH_TIMEOUT(received.contains("retry:"), 5000);
    QCOMPARE(publish(nam, g, {{"channel", "private-ops"}, {"event", "page"}, {"data", "disk full"}}).status, 200);
    QTRY_VERIFY_WITH_TIMEOUT(received.contains("disk full"), 5000);
}

QTEST_MAIN(tst_GatewayAuth)
#include "tst_gatewayauth.moc"
