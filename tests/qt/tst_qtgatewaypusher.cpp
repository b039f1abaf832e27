// The Qt gateway's Pusher Channels endpoint (`/app/{key}?protocol=7`, docs/pusher.md) and the
// auth helper for applications that host it (switchboard/qtws/QtPusherAuth.h):
//   - the helper reproduces Pusher's documented signatures (the vectors of tst_pusherprotocol);
//   - the real pusher-js 8 (tests/qt/pusher_qtgateway/pusher_qtgateway.js, in Node) against a
//     Gateway with `pusherApps`, next to a native Qt Client on the same channels, every
//     private/presence signature answered by this test with pusherAuthResponse();
//   - invalid `pusherApps` make start() fail with errorString.
// Node and the pinned pusher-js come from tests/server/pusher_interop's `npm ci` (SWITCHBOARD_NODE
// and NODE_PATH from ctest); without them the interop case fails, it never skips.

#include <switchboard/PusherProtocol.h>
#include <switchboard/qt/Channel.h>
#include <switchboard/qt/Client.h>
#include <switchboard/qt/Gateway.h>
#include <switchboard/qtws/QtPusherAuth.h>
#include <switchboard/qtws/QtWebSocketGateway.h>

#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QSignalSpy>
#include <QTest>
#include <QWebSocket>

using namespace switchboard;
using namespace switchboard::qt;

class TestQtGatewayPusher : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void authHelperMatchesPusherDocumentation()
    {
        // Pusher's authentication signature documentation (also tst_pusherprotocol's vectors).
        const PusherApp app{"1", "278d425bdf160c739803", "7ad3773142a6692b25b8"};
        QCOMPARE(qtws::pusherChannelAuth(app, QStringLiteral("1234.1234"), QStringLiteral("private-foobar")),
                 QStringLiteral("278d425bdf160c739803:58df8b0c36d6982b82c3ecf6b4662e34fe8c25bba48f5369f135bf843651c3a4"));
        const QByteArray channelData = R"({"user_id":10,"user_info":{"name":"Mr. Channels"}})";
        const QJsonObject presence = qtws::pusherAuthResponse(app, QStringLiteral("1234.1234"), QStringLiteral("presence-foobar"), channelData);
        QCOMPARE(presence.value("auth").toString(),
                 QStringLiteral("278d425bdf160c739803:31935e7d86dba64c2a90aed31fdc61869f9b22ba9d8863bba239c03ca481bc80"));
        QCOMPARE(presence.value("channel_data").toString().toUtf8(), channelData);
        QVERIFY(!qtws::pusherAuthResponse(app, "1234.1234", "private-foobar").contains("channel_data"));
        // What the core checks with: the helper's signature verifies, a changed byte does not.
        const std::string auth = qtws::pusherChannelAuth(app, "1234.1234", "private-foobar").toStdString();
        QVERIFY(verifyPusherAuth(qtws::qtHmacSha256(), app.key, app.secret, "1234.1234", "private-foobar", {}, auth));
        QVERIFY(!verifyPusherAuth(qtws::qtHmacSha256(), app.key, app.secret, "1234.1235", "private-foobar", {}, auth));
        QCOMPARE(qtws::pusherChannelData("alice", QJsonObject{{"name", "Alice"}}),
                 QByteArray(R"({"user_id":"alice","user_info":{"name":"Alice"}})"));
    }

    void invalidAppsRefuseToStart()
    {
        Gateway gateway;
        gateway.setStatsInterval(0);
        gateway.setPusherApps({QVariantMap{{"id", "1"}, {"key", "k/1"}, {"secret", "s"}}});
        QVERIFY(!gateway.start());
        QVERIFY(gateway.errorString().contains("pusherApps"));
        Gateway duplicate;
        duplicate.setPusherApps({QVariantMap{{"id", "1"}, {"key", "k"}, {"secret", "s"}},
                                 QVariantMap{{"id", "2"}, {"key", "k"}, {"secret", "t"}}});
        QVERIFY(!duplicate.start());
        QVERIFY(duplicate.errorString().contains("unique"));
    }

    void stopClosesPusherConnections4100()
    {
        Gateway gateway;
        gateway.setStatsInterval(0);
        gateway.setPusherApps({QVariantMap{{"id", "1"}, {"key", "k"}, {"secret", "s"}}});
        QVERIFY2(gateway.start(), qPrintable(gateway.errorString()));
        QWebSocket socket;
        QStringList events;
        connect(&socket, &QWebSocket::textMessageReceived, this, [&](const QString &text) {
            const QJsonObject frame = QJsonDocument::fromJson(text.toUtf8()).object();
            const QJsonValue data = frame.value("data");
            const QJsonObject body = data.isString() ? QJsonDocument::fromJson(data.toString().toUtf8()).object() : data.toObject();
            events << frame.value("event").toString() + (body.contains("code") ? " " + QString::number(body.value("code").toInt()) : QString());
        });
        socket.open(QUrl(QStringLiteral("ws://127.0.0.1:%1/app/k?protocol=7&client=js&version=8.4.0").arg(gateway.port())));
        QTRY_COMPARE_WITH_TIMEOUT(events, QStringList{"pusher:connection_established"}, 5000);
        QCOMPARE(gateway.pusherClientCount(), 1);
        QCOMPARE(gateway.transport()->counters().pusherAccepted, std::uint64_t(1));
        gateway.stop();
        QTRY_COMPARE_WITH_TIMEOUT(socket.state(), QAbstractSocket::UnconnectedState, 5000);
        QCOMPARE(events, (QStringList{"pusher:connection_established", "pusher:error 4100"}));
        QCOMPARE(int(socket.closeCode()), 4100); // pusher-js reconnects with backoff
        QTRY_COMPARE(gateway.pusherClientCount(), 0);
    }

    void pusherJsAndNativeClientShareChannels()
    {
        const QString node = qEnvironmentVariable("SWITCHBOARD_NODE");
        const QString script = qEnvironmentVariable("PUSHER_QTGATEWAY_SCRIPT");
        if (node.isEmpty() || script.isEmpty() || qEnvironmentVariable("NODE_PATH").isEmpty())
            QFAIL("node and the pinned pusher-js are required (SWITCHBOARD_NODE, PUSHER_QTGATEWAY_SCRIPT, NODE_PATH: "
                  "scripts/install-deps.sh, run through ctest)");

        const PusherApp app{"1", "qt-key", "qt-secret"};
        Gateway gateway;
        gateway.setStatsInterval(0);
        gateway.setAllowAnonymous(false);
        gateway.setTokens({{"token-native", QVariantMap{{"user", "native"},
                                                        {"channels", QStringList{"private-pusher/1/*", "presence-pusher/1/*"}}}}});
        gateway.setPusherApps({QVariantMap{{"id", QString::fromStdString(app.id)},
                                           {"key", QString::fromStdString(app.key)},
                                           {"secret", QString::fromStdString(app.secret)}}});
        QStringList members;
        connect(&gateway, &Gateway::memberAdded, this, [&](const QString &channel, const QString &user) {
            members << "+" + channel + ":" + user;
        });
        connect(&gateway, &Gateway::memberRemoved, this, [&](const QString &channel, const QString &user) {
            members << "-" + channel + ":" + user;
        });
        QVERIFY2(gateway.start(), qPrintable(gateway.errorString()));
        QVERIFY(gateway.pusher());

        Client native;
        native.setUrl(QUrl(QStringLiteral("ws://127.0.0.1:%1/ws").arg(gateway.port())));
        native.setToken("token-native");
        native.open();
        QTRY_COMPARE_WITH_TIMEOUT(native.state(), Client::Connected, 5000);
        Channel *chat = native.subscribe("private-pusher/1/chat");
        Channel *room = native.subscribe("presence-pusher/1/room");
        QTRY_VERIFY_WITH_TIMEOUT(chat->subscribed() && room->subscribed(), 5000);
        QStringList chatEvents;
        connect(chat, &Channel::messageReceived, this, [&](const QString &event, const QVariant &payload) {
            chatEvents << event + " " + QString::fromUtf8(QJsonDocument::fromVariant(payload).toJson(QJsonDocument::Compact));
        });

        QProcess js;
        js.setProcessChannelMode(QProcess::ForwardedErrorChannel);
        int maxPusherClients = 0;
        connect(&gateway, &Gateway::clientCountChanged, this,
                [&] { maxPusherClients = std::max(maxPusherClients, gateway.pusherClientCount()); });
        bool done = false;
        int signatures = 0;
        connect(&js, &QProcess::readyReadStandardOutput, this, [&] {
            while (js.canReadLine()) {
                const QJsonObject line = QJsonDocument::fromJson(js.readLine()).object();
                if (line.contains("auth")) {
                    // The application's auth endpoint: decide, then sign with the helper.
                    const QJsonObject ask = line.value("auth").toObject();
                    const QString channel = ask.value("channel").toString();
                    const QString user = ask.value("user").toString();
                    QByteArray channelData;
                    if (channel.startsWith("presence-"))
                        channelData = qtws::pusherChannelData(user, QJsonObject{{"name", user == "alice" ? "Alice" : "Bob"}});
                    const QJsonObject answer{{"id", ask.value("id")},
                                             {"response", qtws::pusherAuthResponse(app, ask.value("socket_id").toString(), channel, channelData)}};
                    js.write(QJsonDocument(answer).toJson(QJsonDocument::Compact) + '\n');
                    ++signatures;
                } else if (line.value("step").toString() == "subscribed") {
                    gateway.publish("pusher/1/news", "App%5CEvents%5COrderShipped", QVariantMap{{"id", 7}});
                    native.publish("private-pusher/1/chat", "client-native", QVariantMap{{"from", "qt"}});
                    js.write("{\"published\":true}\n");
                } else if (line.value("done").toBool()) {
                    done = true;
                }
            }
        });
        js.start(node, {script, "--port", QString::number(gateway.port()), "--key", QString::fromStdString(app.key)});
        QVERIFY2(js.waitForStarted(5000), qPrintable(js.errorString()));
        QTRY_VERIFY_WITH_TIMEOUT(done || js.state() == QProcess::NotRunning, 60000);
        QVERIFY(js.waitForFinished(5000));
        QCOMPARE(js.exitCode(), 0);
        QVERIFY(done);

        // The native client saw bob's client event, with the data pusher-js sent (and its own
        // publication: the native protocol delivers to the publisher too).
        QCOMPARE(chatEvents, (QStringList{"client-typing {\"x\":1}", "client-native {\"from\":\"qt\"}"}));
        // Presence once per user across both protocols: alice (two connections) joined and left once.
        QCOMPARE(members.count("+presence-pusher/1/room:alice"), 1);
        QCOMPARE(members.count("+presence-pusher/1/room:bob"), 1);
        QTRY_COMPARE(members.count("-presence-pusher/1/room:alice"), 1);
        QCOMPARE(signatures, 6); // alice 2, alice2 1, bob 2, mallory 1 (news is public)
        // Counted by the Qt gateway: alice, alice2, bob and one more (a raw refusal, then mallory)
        // at once; 6 upgrades on /app/ (mallory and the two raw refusals included), one refused
        // for its key, one for its missing protocol.
        QCOMPARE(maxPusherClients, 4);
        const qtws::QtGatewayCounters counters = gateway.transport()->counters();
        QCOMPARE(counters.pusherAccepted, std::uint64_t(6));
        QCOMPARE(gateway.pusher()->counters().connections, std::uint64_t(4));
        QCOMPARE(gateway.pusher()->counters().unknownApps, std::uint64_t(1));
        QCOMPARE(gateway.pusher()->counters().unsupportedProtocol, std::uint64_t(1));
        QTRY_COMPARE(gateway.pusherClientCount(), 0);
        QCOMPARE(gateway.clientCount(), 1); // the native client
    }
};

QTEST_MAIN(TestQtGatewayPusher)
#include "tst_qtgatewaypusher.moc"
