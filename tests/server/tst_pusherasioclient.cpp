// switchboard::AsioClient (the native C++ client) and the real pusher-js 8 client sharing the
// channels of one Pusher app on switchboard-gateway: the AsioClient's publications on
// pusher/ID/... reach pusher-js with the names and data docs/pusher.md documents, a pusher-js
// client event and an HTTP /api/publish reach the AsioClient, and each side's presence join is a
// member for the other. pusher-js runs in Node (pusher_interop/pusher_asioclient.js, the copy
// tests/server/pusher_interop installs with `npm ci`; SWITCHBOARD_NODE and NODE_PATH from
// ctest); without them the test fails, it never skips.

#include "GatewayProcess.h"

#include <switchboard/asio_client/AsioClient.h>

#include <boost/json/serialize.hpp>

#include <mutex>
#include <string>
#include <vector>

using namespace gatewaytest;
using switchboard::AsioClient;
using switchboard::AsioClientOptions;
using switchboard::ClientState;

namespace {

const QString kAppId = "app1";
const QString kAppKey = "key1";
const QString kAppSecret = "secret1";

/// What the AsioClient's listeners saw (on its thread), read by the test thread.
struct Seen {
    struct Event {
        std::string channel, event, data, sender;
    };
    std::mutex mutex;
    std::vector<Event> events;

    void add(const switchboard::ClientEvent &e)
    {
        std::lock_guard lock(mutex);
        events.push_back({std::string(e.channel), std::string(e.event),
                          e.data.is_string() ? std::string(e.data.as_string()) : boost::json::serialize(e.data),
                          std::string(e.sender)});
    }
    /// The first `event` whose data contains `part`.
    std::optional<Event> find(const std::string &event, std::string_view part = {})
    {
        std::lock_guard lock(mutex);
        for (const Event &e : events) {
            if (e.event == event && e.data.find(part) != std::string::npos)
                return e;
        }
        return std::nullopt;
    }
};

} // namespace

class tst_PusherAsioClient : public QObject
{
    Q_OBJECT

private slots:
    void asioClientAndPusherJsShareChannels();
};

void tst_PusherAsioClient::asioClientAndPusherJsShareChannels()
{
    const QString node = qEnvironmentVariable("SWITCHBOARD_NODE");
    const QString script = qEnvironmentVariable("PUSHER_ASIOCLIENT_SCRIPT");
    if (node.isEmpty() || script.isEmpty() || qEnvironmentVariable("NODE_PATH").isEmpty())
        QFAIL("node and the pinned pusher-js are required (SWITCHBOARD_NODE, PUSHER_ASIOCLIENT_SCRIPT, NODE_PATH: "
              "scripts/install-deps.sh, run through ctest)");

    GatewayProcess g;
    QVERIFY(g.start({"--pusher-app", kAppId + ":" + kAppKey + ":" + kAppSecret}));
    QNetworkAccessManager nam;

    const std::string chat = "private-pusher/app1/chat";
    const std::string room = "presence-pusher/app1/room";
    const std::string news = "pusher/app1/news";
    AsioClientOptions options;
    options.client.url = g.url("/ws", "ws").toString().toStdString();
    options.client.connectTimeout = std::chrono::milliseconds(3000);
    AsioClient client(options);
    const std::string token =
        makeToken({{"sub", "native"}, {"info", QJsonObject{{"name", "Native C++"}}},
                   {"channels", QJsonArray{QString::fromStdString(chat), QString::fromStdString(room)}}})
            .toStdString();
    client.setTokenProvider([token](std::function<void(std::string)> deliver) { deliver(token); });
    Seen seen;
    auto onChat = client.on(chat + ".*", [&](const switchboard::ClientEvent &e) { seen.add(e); });
    auto onRoom = client.on(room + ".*", [&](const switchboard::ClientEvent &e) { seen.add(e); });
    std::atomic<int> chatSubscribed{-1}, newsSubscribed{-1}, roomSubscribed{-1};
    client.subscribe(chat, {}, [&](std::error_code ec) { chatSubscribed = ec.value(); });
    client.subscribe(news, {}, [&](std::error_code ec) { newsSubscribed = ec.value(); });
    client.open();
    QTRY_COMPARE_WITH_TIMEOUT(chatSubscribed.load(), 0, 5000);
    QTRY_COMPARE_WITH_TIMEOUT(newsSubscribed.load(), 0, 5000);

    QProcess js;
    testsupport::dieWithTest(js);
    js.setProcessChannelMode(QProcess::ForwardedErrorChannel);
    QStringList steps;
    QString aliceSocketId;
    bool done = false;
    connect(&js, &QProcess::readyReadStandardOutput, this, [&] {
        while (js.canReadLine()) {
            const QJsonObject line = QJsonDocument::fromJson(js.readLine()).object();
            if (line.value("done").toBool())
                done = true;
            const QString step = line.value("step").toString();
            if (step == "ready")
                aliceSocketId = line.value("socket_id").toString();
            if (!step.isEmpty())
                steps << step;
        }
    });
    auto tell = [&js](const char *go) { js.write(QByteArray("{\"go\":\"") + go + "\"}\n"); };
    js.start(node, {script, "--port", QString::number(g.port()), "--key", kAppKey, "--secret", kAppSecret});
    QVERIFY2(js.waitForStarted(5000), qPrintable(js.errorString()));
    auto scriptAt = [&](const QString &step) { return steps.contains(step) || js.state() == QProcess::NotRunning; };

    // 1. The AsioClient publishes; pusher-js checks names and data (docs/pusher.md, Data).
    QTRY_VERIFY_WITH_TIMEOUT(scriptAt("ready"), 20000);
    QVERIFY2(steps.contains("ready"), "pusher_asioclient.js stopped before it was ready");
    QVERIFY(client.publishAsync(news, "App%5CEvents%5COrderShipped", R"({"order":7,"items":["a","b"]})").get().offset > 0);
    QVERIFY(client.publishAsync(news, "headline", R"("hello")").get().offset > 0);
    QVERIFY(client.publishAsync(chat, "client-native", R"({"from":"asio"})").get().offset > 0);
    tell("published");

    // 2. alice's client event, then an HTTP API publication, reach the AsioClient.
    QTRY_VERIFY_WITH_TIMEOUT(scriptAt("triggered"), 15000);
    QVERIFY2(steps.contains("triggered"), "pusher_asioclient.js failed step 1");
    QTRY_VERIFY_WITH_TIMEOUT(seen.find("client-typing").has_value(), 5000);
    const auto typing = *seen.find("client-typing");
    QCOMPARE(typing.channel, chat);
    QCOMPARE(typing.data, std::string(R"({"x":1})"));
    QCOMPARE(QString::fromStdString(typing.sender), aliceSocketId);
    QCOMPARE(publish(nam, g, {{"channel", QString::fromStdString(chat)}, {"event", "note"},
                              {"data", QJsonObject{{"via", "http"}}}}).status,
             200);
    QTRY_VERIFY_WITH_TIMEOUT(seen.find("note").has_value(), 5000);
    QCOMPARE(seen.find("note")->data, std::string(R"({"via":"http"})"));

    // 3. The AsioClient joins the presence channel: it gets alice in its roster, pusher-js gets
    // member_added; then bob (pusher-js) joins and the AsioClient sees him.
    client.subscribe(room, {}, [&](std::error_code ec) { roomSubscribed = ec.value(); });
    QTRY_COMPARE_WITH_TIMEOUT(roomSubscribed.load(), 0, 5000);
    std::vector<std::string> roster;
    auto readRoster = [&] {
        std::promise<std::vector<std::string>> users;
        client.dispatch([&](switchboard::ClientSession &session) {
            std::vector<std::string> out;
            if (auto *channel = session.channel(room)) {
                for (const auto &member : channel->members())
                    out.push_back(member.userId);
            }
            users.set_value(std::move(out));
        });
        auto result = users.get_future().get();
        std::sort(result.begin(), result.end());
        return result;
    };
    roster = readRoster();
    QCOMPARE(roster, (std::vector<std::string>{"alice", "native"}));
    tell("joined");
    QTRY_VERIFY_WITH_TIMEOUT(scriptAt("bob_joined"), 15000);
    QVERIFY2(steps.contains("saw_native") && steps.contains("bob_joined"), "pusher_asioclient.js failed step 2");
    QTRY_VERIFY_WITH_TIMEOUT(seen.find("presence:member_added", R"("id":"bob")").has_value(), 5000);
    QCOMPARE(seen.find("presence:member_added", R"("id":"bob")")->data,
             std::string(R"({"id":"bob","info":{"name":"bob"}})"));
    QCOMPARE(readRoster(), (std::vector<std::string>{"alice", "bob", "native"}));

    // 4. The AsioClient leaves: pusher-js gets member_removed.
    client.unsubscribe(room);
    tell("leave");
    QTRY_COMPARE_WITH_TIMEOUT(js.state(), QProcess::NotRunning, 15000);
    QCOMPARE(js.exitCode(), 0);
    QVERIFY(done);
    client.close();
}

QTEST_GUILESS_MAIN(tst_PusherAsioClient)
#include "tst_pusherasioclient.moc"
