// The Qt Gateway's server-side subscriptions (issue 11, seed 001) over real sockets on 127.0.0.1
// (OS-chosen port): subscribeSession / subscribeUser and the unsubscribes, called from C++ and
// through the meta-object system as QML does.

#include <switchboard/qt/Gateway.h>

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QSignalSpy>
#include <QTest>
#include <QWebSocket>

#include <memory>
#include <optional>

using namespace switchboard::qt;

namespace {

class RawClient {
public:
    RawClient()
    {
        QObject::connect(&socket, &QWebSocket::textMessageReceived, &socket, [this](const QString &text) {
            frames.append(QJsonDocument::fromJson(text.toUtf8()).object());
        });
    }
    /// Connects with `token`; the session id from `welcome`, empty on failure.
    QString connectWith(const QString &url, const QString &token)
    {
        socket.open(QUrl(url));
        if (!QTest::qWaitFor([this] { return socket.state() == QAbstractSocket::ConnectedState; }, 5000))
            return {};
        send(QJsonObject{{"op", "connect"}, {"version", 1}, {"token", token}});
        const auto welcome = waitFor("welcome");
        return welcome ? welcome->value("session").toString() : QString();
    }
    void send(const QJsonObject &frame) { socket.sendTextMessage(QString::fromUtf8(QJsonDocument(frame).toJson(QJsonDocument::Compact))); }
    std::optional<QJsonObject> waitFor(const QString &op, int timeoutMs = 5000)
    {
        std::optional<QJsonObject> found;
        (void)QTest::qWaitFor([&] { // `found` says whether it came
            for (qsizetype i = 0; i < frames.size(); ++i) {
                if (frames[i].value("op").toString() == op) {
                    found = frames.takeAt(i);
                    return true;
                }
            }
            return false;
        }, timeoutMs);
        return found;
    }
    /// A ping answered proves every frame sent before it has arrived.
    bool roundTrip(int ackId)
    {
        send(QJsonObject{{"op", "ping"}, {"ackId", ackId}});
        return QTest::qWaitFor([&] {
            for (const auto &f : frames)
                if (f.value("op").toString() == "pong" && f.value("ackId").toInt() == ackId)
                    return true;
            return false;
        }, 5000);
    }
    bool has(const QString &op) const
    {
        return std::any_of(frames.begin(), frames.end(), [&](const QJsonObject &f) { return f.value("op").toString() == op; });
    }

    QWebSocket socket;
    QList<QJsonObject> frames;
};

QVariantMap tokenOf(const QString &user)
{
    return QVariantMap{{QStringLiteral("user"), user},
                       {QStringLiteral("info"), QVariantMap{{QStringLiteral("name"), user.toUpper()}}},
                       {QStringLiteral("channels"), QStringList{QStringLiteral("public-only")}}};
}

} // namespace

class TestGatewayServerSubscriptions : public QObject
{
    Q_OBJECT

private:
    std::unique_ptr<Gateway> m_gateway;

private Q_SLOTS:
    void init()
    {
        m_gateway = std::make_unique<Gateway>();
        m_gateway->setStatsInterval(0);
        m_gateway->setTokens({{QStringLiteral("t-alice"), tokenOf("alice")},
                              {QStringLiteral("t-alice2"), tokenOf("alice")},
                              {QStringLiteral("t-bob"), tokenOf("bob")}});
    }
    void cleanup() { m_gateway.reset(); }

    void subscribeSessionThenUnsubscribe()
    {
        QVERIFY(m_gateway->start());
        RawClient client;
        const QString session = client.connectWith(m_gateway->url(), "t-bob");
        QVERIFY(!session.isEmpty());

        QCOMPARE(m_gateway->subscribeSession(session, "news"), 1);
        const auto subscribed = client.waitFor("subscribed");
        QVERIFY(subscribed.has_value());
        QCOMPARE(subscribed->value("channel").toString(), QString("news"));
        QCOMPARE(subscribed->value("server").toBool(), true);
        QVERIFY(!subscribed->contains("ackId"));
        QCOMPARE(m_gateway->subscribeSession(session, "news"), 1); // idempotent

        m_gateway->publish("news", "headline", QVariantMap{{"n", 1}});
        const auto message = client.waitFor("message");
        QVERIFY(message.has_value());
        QCOMPARE(message->value("event").toString(), QString("headline"));

        QCOMPARE(m_gateway->unsubscribeSession(session, "news"), 1);
        const auto unsubscribed = client.waitFor("unsubscribed");
        QVERIFY(unsubscribed.has_value());
        QCOMPARE(unsubscribed->value("server").toBool(), true);
        m_gateway->publish("news", "late", QVariantMap{});
        QVERIFY(client.roundTrip(9));
        QVERIFY(!client.has("message"));
        QVERIFY(!client.has("subscribed")); // the repeated subscribe sent nothing
        QCOMPARE(m_gateway->unsubscribeSession(session, "news"), 0);
    }

    void subscribeUserOnPresenceChannelFromQml()
    {
        QVERIFY(m_gateway->start());
        RawClient a1, a2, bob;
        QVERIFY(!a1.connectWith(m_gateway->url(), "t-alice").isEmpty());
        QVERIFY(!a2.connectWith(m_gateway->url(), "t-alice2").isEmpty());
        QVERIFY(!bob.connectWith(m_gateway->url(), "t-bob").isEmpty());

        // As QML calls it. The token allows no presence channel: the server decided anyway.
        int affected = -2;
        QVERIFY(QMetaObject::invokeMethod(m_gateway.get(), "subscribeUser", Q_RETURN_ARG(int, affected),
                                          Q_ARG(QString, "alice"), Q_ARG(QString, "presence-room")));
        QCOMPARE(affected, 2);
        for (RawClient *client : {&a1, &a2}) {
            const auto subscribed = client->waitFor("subscribed");
            QVERIFY(subscribed.has_value());
            QCOMPARE(subscribed->value("type").toString(), QString("presence"));
            const auto roster = client->waitFor("presence");
            QVERIFY(roster.has_value());
            const QJsonArray members = roster->value("members").toArray();
            QCOMPARE(members.size(), 1); // one member, alice, with two connections
            QCOMPARE(members[0].toObject().value("id").toString(), QString("alice"));
            QCOMPARE(members[0].toObject().value("info").toObject().value("name").toString(), QString("ALICE"));
        }
        QVERIFY(bob.roundTrip(3));
        QVERIFY(!bob.has("subscribed"));

        QCOMPARE(m_gateway->subscribeUser("nobody", "news"), 0);
        QVERIFY(QMetaObject::invokeMethod(m_gateway.get(), "unsubscribeUser", Q_RETURN_ARG(int, affected),
                                          Q_ARG(QString, "alice"), Q_ARG(QString, "presence-room")));
        QCOMPARE(affected, 2);
        QVERIFY(a1.waitFor("unsubscribed").has_value());
        QVERIFY(a2.waitFor("unsubscribed").has_value());
    }

    void refusalsAreReported()
    {
        QSignalSpy errors(m_gateway.get(), &Gateway::errorOccurred);
        QCOMPARE(m_gateway->subscribeUser("alice", "news"), -1); // never started
        QVERIFY(m_gateway->start());
        RawClient client;
        const QString session = client.connectWith(m_gateway->url(), "t-bob");
        QVERIFY(!session.isEmpty());
        QCOMPARE(m_gateway->subscribeSession(session, "bad/*"), -1);
        QCOMPARE(m_gateway->subscribeSession("no-such-session", "news"), -1);
        QCOMPARE(m_gateway->unsubscribeSession("no-such-session", "news"), -1);
        QCOMPARE(m_gateway->subscribeUser(QString(), "news"), -1);
        QCOMPARE(errors.size(), 5);
        QVERIFY(errors.at(1).at(0).toString().contains("invalid channel name"));
        QVERIFY(errors.at(2).at(0).toString().contains("no session"));
        m_gateway->stop();
        QCOMPARE(m_gateway->subscribeUser("bob", "news"), -1);
        QVERIFY(errors.last().at(0).toString().contains("stopped"));
    }
};

QTEST_MAIN(TestGatewayServerSubscriptions)
#include "tst_gatewayserversubscriptions.moc"
