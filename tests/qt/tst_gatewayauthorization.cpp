// The Qt Gateway's authorization over real sockets on 127.0.0.1 (OS-chosen port): presence
// identity comes only from the token (core TokenAuthorizer), and an authorizer that throws denies.

#include <switchboard/Hub.h>
#include <switchboard/qt/Gateway.h>

#include <QElapsedTimer>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTest>
#include <QWebSocket>

#include <optional>
#include <stdexcept>
#include <vector>

using namespace switchboard;
using namespace switchboard::qt;

namespace {

/// A raw protocol client: sends frames as written, records every frame as JSON.
class RawClient {
public:
    RawClient()
    {
        QObject::connect(&socket, &QWebSocket::textMessageReceived, &socket, [this](const QString &text) {
            frames.append(QJsonDocument::fromJson(text.toUtf8()).object());
        });
    }
    bool connectWith(const QString &url, const QString &token)
    {
        socket.open(QUrl(url));
        if (!QTest::qWaitFor([this] { return socket.state() == QAbstractSocket::ConnectedState; }, 5000))
            return false;
        send(QJsonObject{{"op", "connect"}, {"version", 1}, {"token", token}});
        return waitFor("welcome").has_value();
    }
    void send(const QJsonObject &frame) { socket.sendTextMessage(QString::fromUtf8(QJsonDocument(frame).toJson(QJsonDocument::Compact))); }
    std::optional<QJsonObject> waitFor(const QString &op, int timeoutMs = 5000)
    {
        std::optional<QJsonObject> found; // what the wait found, or nothing when it timed out
        (void)QTest::qWaitFor([&] {
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

    QWebSocket socket;
    QList<QJsonObject> frames;
};

QJsonObject presenceSubscribe(const QString &claimedUser)
{
    return QJsonObject{{"op", "subscribe"}, {"channel", "presence-room"}, {"ackId", "s"},
                       {"channelData", QJsonObject{{"user_id", claimedUser}, {"user_info", QJsonObject{{"name", "Mallory"}}}}}};
}

} // namespace

class TestGatewayAuthorization : public QObject
{
    Q_OBJECT

private:
    std::unique_ptr<Gateway> m_gateway;

private Q_SLOTS:
    void init()
    {
        m_gateway = std::make_unique<Gateway>();
        m_gateway->setStatsInterval(0);
        m_gateway->setTokens({
            {QStringLiteral("token-alice"), QVariantMap{{QStringLiteral("user"), QStringLiteral("alice")},
                                                        {QStringLiteral("info"), QVariantMap{{QStringLiteral("name"), QStringLiteral("Alice")}}},
                                                        {QStringLiteral("channels"), QStringList{QStringLiteral("presence-room")}}}},
            // A token without a user, allowed into the presence channel by its pattern.
            {QStringLiteral("token-nobody"), QVariantMap{{QStringLiteral("channels"), QStringList{QStringLiteral("presence-room")}}}},
        });
    }

    void cleanup() { m_gateway.reset(); }

    void channelDataCannotImpersonate()
    {
        QVERIFY(m_gateway->start());
        RawClient nobody;
        QVERIFY(nobody.connectWith(m_gateway->url(), "token-nobody"));
        nobody.send(presenceSubscribe("alice"));
        const auto answer = nobody.waitFor("error");
        QVERIFY2(answer, "a presence join without a user in the token must be refused");
        QCOMPARE(answer->value("code").toInt(), 401);
        QCOMPARE(m_gateway->hub()->subscriberCount("presence-room"), std::size_t(0));
        QVERIFY(nobody.frames.isEmpty()); // no roster, no subscribed
    }

    void memberIsTheTokenUser()
    {
        QVERIFY(m_gateway->start());
        RawClient alice;
        QVERIFY(alice.connectWith(m_gateway->url(), "token-alice"));
        alice.send(presenceSubscribe("bob")); // channelData claims someone else: ignored
        QVERIFY(alice.waitFor("subscribed"));
        const auto roster = alice.waitFor("presence");
        QVERIFY(roster);
        const QJsonArray members = roster->value("members").toArray();
        QCOMPARE(members.size(), 1);
        QCOMPARE(members[0].toObject().value("id").toString(), QStringLiteral("alice"));
        QCOMPARE(members[0].toObject().value("info").toObject().value("name").toString(), QStringLiteral("Alice"));
        // After the roster, the newcomer hears its own member_added.
        const auto added = alice.waitFor("presence");
        QVERIFY2(added, "the newcomer did not hear its own member_added");
        QCOMPARE(added->value("event").toString(), QStringLiteral("presence:member_added"));
        QCOMPARE(added->value("member").toObject().value("id").toString(), QStringLiteral("alice"));
    }

    void throwingAuthorizerDenies()
    {
        int calls = 0;
        m_gateway->setAuthorizer([&calls](const AuthRequest &) -> AuthDecision {
            ++calls;
            throw std::runtime_error("directory unreachable");
        });
        QVERIFY(m_gateway->start());
        RawClient alice;
        QVERIFY(alice.connectWith(m_gateway->url(), "token-alice"));
        alice.send(presenceSubscribe("alice"));
        const auto answer = alice.waitFor("error");
        QVERIFY(answer);
        QCOMPARE(calls, 1);
        QVERIFY(answer->value("code").toInt() != 0);
        QCOMPARE(m_gateway->hub()->subscriberCount("presence-room"), std::size_t(0));
        QVERIFY(!alice.waitFor("subscribed", 100));
        // The gateway keeps serving: the same client can still use public channels.
        alice.send(QJsonObject{{"op", "subscribe"}, {"channel", "news"}});
        QVERIFY(alice.waitFor("subscribed"));
    }

    void asyncAuthorizerDoesNotStallOthers()
    {
        // The authorizer holds its answer (as a database call would); meanwhile another client
        // subscribes and receives a publication. Then the answer lets the first join through.
        std::vector<AuthAnswer> held;
        m_gateway->setAsyncAuthorizer([&held](const AuthRequest &request, AuthAnswer answer) {
            QCOMPARE(std::string(request.channel), std::string("presence-room"));
            held.push_back(std::move(answer));
        });
        QVERIFY(m_gateway->start());
        RawClient alice, bob;
        QVERIFY(alice.connectWith(m_gateway->url(), "token-alice"));
        QVERIFY(bob.connectWith(m_gateway->url(), "token-nobody"));
        alice.send(presenceSubscribe("alice"));
        QTRY_COMPARE_WITH_TIMEOUT(held.size(), std::size_t(1), 5000);

        bob.send(QJsonObject{{"op", "subscribe"}, {"channel", "news"}});
        QVERIFY(bob.waitFor("subscribed"));
        m_gateway->publish(QStringLiteral("news"), QStringLiteral("tick"), 1);
        QVERIFY(bob.waitFor("message"));
        QVERIFY(alice.frames.isEmpty()); // still waiting for its answer

        AuthDecision allowed;
        allowed.allowed = true;
        allowed.memberUserId = "alice";
        allowed.memberInfo = R"({"name":"Alice"})";
        held[0](allowed);
        QVERIFY(alice.waitFor("subscribed"));
        QCOMPARE(m_gateway->hub()->subscriberCount("presence-room"), std::size_t(1));
    }

    void asyncAuthorizerDeniesLater()
    {
        std::vector<AuthAnswer> held;
        m_gateway->setAsyncAuthorizer([&held](const AuthRequest &, AuthAnswer answer) { held.push_back(std::move(answer)); });
        QVERIFY(m_gateway->start());
        RawClient alice;
        QVERIFY(alice.connectWith(m_gateway->url(), "token-alice"));
        alice.send(presenceSubscribe("alice"));
        QTRY_COMPARE_WITH_TIMEOUT(held.size(), std::size_t(1), 5000);
        held[0](AuthDecision{});
        const auto answer = alice.waitFor("error");
        QVERIFY(answer);
        QCOMPARE(answer->value("code").toInt(), 401);
        QCOMPARE(m_gateway->hub()->subscriberCount("presence-room"), std::size_t(0));
    }

    void authorizationTimeoutRefusesUnansweredJoin()
    {
        // An authorizer that never answers: the join is refused 504 after `authorizationTimeout`.
        QCOMPARE(m_gateway->authorizationTimeout(), 10000);
        m_gateway->setAuthorizationTimeout(200);
        std::vector<AuthAnswer> held;
        m_gateway->setAsyncAuthorizer([&held](const AuthRequest &, AuthAnswer answer) { held.push_back(std::move(answer)); });
        QVERIFY(m_gateway->start());
        QCOMPARE(m_gateway->hub()->options().authorizationTimeout, std::chrono::milliseconds(200));
        RawClient alice;
        QVERIFY(alice.connectWith(m_gateway->url(), "token-alice"));
        QElapsedTimer t;
        t.start();
        alice.send(presenceSubscribe("alice"));
        const auto answer = alice.waitFor("error");
        QVERIFY(answer);
        QCOMPARE(answer->value("code").toInt(), 504);
        QVERIFY2(t.elapsed() >= 150 && t.elapsed() < 2000, qPrintable(QString::number(t.elapsed())));
        QCOMPARE(m_gateway->hub()->counters().authTimeouts, std::uint64_t(1));
        QCOMPARE(m_gateway->hub()->subscriberCount("presence-room"), std::size_t(0));
    }
};

QTEST_GUILESS_MAIN(TestGatewayAuthorization)
#include "tst_gatewayauthorization.moc"
