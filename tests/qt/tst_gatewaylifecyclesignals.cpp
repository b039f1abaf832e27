// The Qt Gateway's lifecycle signals over real sockets on 127.0.0.1 (OS-chosen port):
// clientConnected / clientDisconnected with the user and the close code, channelOccupied /
// channelVacated, memberAdded / memberRemoved, in the order they happen.

#include <switchboard/qt/Gateway.h>

#include <QJsonDocument>
#include <QJsonObject>
#include <QSignalSpy>
#include <QTest>
#include <QWebSocket>

#include <memory>

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
    bool connectWith(const QString &url, const QString &token, const QString &name = {})
    {
        socket.open(QUrl(url));
        if (!QTest::qWaitFor([this] { return socket.state() == QAbstractSocket::ConnectedState; }, 5000))
            return false;
        send(QJsonObject{{"op", "connect"}, {"version", 1}, {"token", token}, {"name", name}});
        return waitFor("welcome");
    }
    void send(const QJsonObject &frame) { socket.sendTextMessage(QString::fromUtf8(QJsonDocument(frame).toJson(QJsonDocument::Compact))); }
    bool waitFor(const QString &op)
    {
        return QTest::qWaitFor([&] {
            for (qsizetype i = 0; i < frames.size(); ++i) {
                if (frames[i].value("op").toString() == op) {
                    frames.removeAt(i);
                    return true;
                }
            }
            return false;
        }, 5000);
    }
    bool subscribe(const QString &channel)
    {
        send(QJsonObject{{"op", "subscribe"}, {"channel", channel}});
        return waitFor("subscribed");
    }

    QWebSocket socket;
    QList<QJsonObject> frames;
};

} // namespace

class TestGatewayLifecycleSignals : public QObject
{
    Q_OBJECT

private:
    std::unique_ptr<Gateway> m_gateway;
    QStringList m_events; // every lifecycle signal as one line, in arrival order

private Q_SLOTS:
    void init()
    {
        m_events.clear();
        m_gateway = std::make_unique<Gateway>();
        m_gateway->setStatsInterval(0);
        m_gateway->setTokens({
            {QStringLiteral("token-alice"), QVariantMap{{QStringLiteral("user"), QStringLiteral("alice")},
                                                        {QStringLiteral("info"), QVariantMap{{QStringLiteral("name"), QStringLiteral("Alice")}}},
                                                        {QStringLiteral("channels"), QStringList{QStringLiteral("**")}}}},
        });
        Gateway *g = m_gateway.get();
        connect(g, &Gateway::clientConnected, this, [this](const QString &id, const QString &user) {
            QVERIFY(!id.isEmpty());
            m_events << QStringLiteral("connected %1").arg(user);
        });
        connect(g, &Gateway::clientDisconnected, this, [this](const QString &id, const QString &user, int code) {
            QVERIFY(!id.isEmpty());
            m_events << QStringLiteral("disconnected %1 %2").arg(user).arg(code);
        });
        connect(g, &Gateway::channelOccupied, this, [this](const QString &c) { m_events << QStringLiteral("occupied %1").arg(c); });
        connect(g, &Gateway::channelVacated, this, [this](const QString &c) { m_events << QStringLiteral("vacated %1").arg(c); });
        connect(g, &Gateway::memberAdded, this, [this](const QString &c, const QString &user, const QVariant &info) {
            m_events << QStringLiteral("added %1 %2 %3").arg(c, user, info.toMap().value(QStringLiteral("name")).toString());
        });
        connect(g, &Gateway::memberRemoved, this, [this](const QString &c, const QString &user) {
            m_events << QStringLiteral("removed %1 %2").arg(c, user);
        });
    }

    void cleanup() { m_gateway.reset(); }

    void connectSubscribeClose()
    {
        QVERIFY(m_gateway->start());
        auto alice = std::make_unique<RawClient>();
        QVERIFY(alice->connectWith(m_gateway->url(), "token-alice", "dashboard"));
        QVERIFY(alice->subscribe("presence-room"));
        QVERIFY(alice->subscribe("news"));
        QTRY_COMPARE_WITH_TIMEOUT(m_events.size(), 4, 5000);
        QCOMPARE(m_events, (QStringList{"connected alice", "added presence-room alice Alice", "occupied presence-room",
                                        "occupied news"}));
        m_events.clear();
        // The client closes with its own code: the signal carries it.
        alice->socket.close(QWebSocketProtocol::CloseCode(4001), "bye");
        QTRY_COMPARE_WITH_TIMEOUT(m_events.size(), 4, 5000);
        QCOMPARE(m_events.last(), QStringLiteral("disconnected alice 4001"));
        QVERIFY(m_events.contains("vacated news"));
        QVERIFY(m_events.indexOf("removed presence-room alice") < m_events.indexOf("vacated presence-room"));
    }

    void serverCloseCarriesItsCode()
    {
        QVERIFY(m_gateway->start());
        RawClient anonymous;
        QVERIFY(anonymous.connectWith(m_gateway->url(), QString()));
        QTRY_COMPARE_WITH_TIMEOUT(m_events, QStringList{"connected "}, 5000);
        m_gateway->stop(); // 3000 to every client
        QTRY_COMPARE_WITH_TIMEOUT(m_events.size(), 2, 5000);
        QCOMPARE(m_events.last(), QStringLiteral("disconnected  3000"));
    }

    void handlerMayStopTheGateway()
    {
        // Signals are queued: a handler that stops the gateway runs outside the Hub.
        connect(m_gateway.get(), &Gateway::channelOccupied, this, [this] { m_gateway->stop(); });
        QVERIFY(m_gateway->start());
        RawClient alice;
        QVERIFY(alice.connectWith(m_gateway->url(), "token-alice"));
        alice.send(QJsonObject{{"op", "subscribe"}, {"channel", "news"}});
        QTRY_VERIFY_WITH_TIMEOUT(!m_gateway->running(), 5000);
        QTRY_VERIFY_WITH_TIMEOUT(m_events.contains("disconnected alice 3000"), 5000);
    }
};

QTEST_GUILESS_MAIN(TestGatewayLifecycleSignals)
#include "tst_gatewaylifecyclesignals.moc"
