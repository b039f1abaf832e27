// PusherProtocol: the Pusher Channels protocol 7 adapter over the Hub (names, signatures, frames,
// subscriptions, presence, client events, activity timeout), with a ManualTimer and recording
// transports. The HMAC comes from QMessageAuthenticationCode, as the Qt gateway will supply it.
#include "switchboard/Hub.h"
#include "switchboard/MessageEncoding.h"
#include "switchboard/PusherFrames.h"
#include "switchboard/PusherNames.h"
#include "switchboard/PusherProtocol.h"
#include "switchboard/PusherSignature.h"

#include "HubTestSupport.h"

#include <QMessageAuthenticationCode>
#include <QRegularExpression>
#include <QtTest>

#include <boost/json.hpp>

#include <memory>
#include <string>

using namespace switchboard;

namespace {

std::string qtHmac(std::string_view key, std::string_view message)
{
    const QByteArray mac = QMessageAuthenticationCode::hash(QByteArray(message.data(), qsizetype(message.size())),
                                                            QByteArray(key.data(), qsizetype(key.size())),
                                                            QCryptographicHash::Sha256);
    return mac.toStdString();
}

const PusherApp kApp{"42", "app-key", "app-secret"};
const PusherApp kOtherApp{"43", "other-key", "other-secret"};

/// A Hub, a PusherProtocol for two apps and helpers to open connections and read their frames.
struct Fixture {
    explicit Fixture(PusherOptions options = {})
        : hub(timer), pusher(hub, timer, {kApp, kOtherApp}, qtHmac, options)
    {
    }
    struct Client {
        std::shared_ptr<RecordingSession> transport = std::make_shared<RecordingSession>();
        PusherProtocol::ConnectionHandle handle = 0;
        std::string socketId;
    };
    Client open(std::string_view key = kApp.key)
    {
        Client c;
        c.handle = pusher.open(c.transport, key, std::string_view("7"));
        c.socketId = pusher.socketId(c.handle);
        return c;
    }
    void send(const Client &c, std::string_view frame) { pusher.receive(c.handle, frame, false); }
    void subscribe(const Client &c, std::string_view channel, std::string_view auth = {}, std::string_view channelData = {})
    {
        boost::json::object data{{"channel", channel}};
        if (!auth.empty())
            data["auth"] = auth;
        if (!channelData.empty())
            data["channel_data"] = channelData;
        send(c, boost::json::serialize(boost::json::object{{"event", "pusher:subscribe"}, {"data", data}}));
    }
    std::string sign(const Client &c, std::string_view channel, std::string_view channelData = {}) const
    {
        return pusherAuth(qtHmac, kApp.key, kApp.secret, c.socketId, channel, channelData);
    }
    ManualTimer timer;
    Hub hub;
    PusherProtocol pusher;
};

boost::json::object last(const Fixture::Client &c)
{
    return boost::json::parse(c.transport->frames.back()->bytes).as_object();
}

/// The frames of `c` with event `event`, parsed.
std::vector<boost::json::object> eventsOf(const Fixture::Client &c, std::string_view event)
{
    std::vector<boost::json::object> out;
    for (const auto &frame : c.transport->frames) {
        auto object = boost::json::parse(frame->bytes).as_object();
        if (object.at("event").as_string() == event)
            out.push_back(std::move(object));
    }
    return out;
}

/// The `data` string of a frame, parsed as JSON.
boost::json::value dataOf(const boost::json::object &frame)
{
    return boost::json::parse(frame.at("data").as_string());
}

} // namespace

class tst_PusherProtocol : public QObject {
    Q_OBJECT

private slots:
    void channelNames_data()
    {
        QTest::addColumn<QString>("pusher");
        QTest::addColumn<QString>("native");
        QTest::newRow("public") << "orders" << "pusher/42/orders";
        QTest::newRow("private") << "private-orders.7" << "private-pusher/42/orders.7";
        QTest::newRow("presence") << "presence-room" << "presence-pusher/42/room";
        QTest::newRow("punctuation") << "a_b-c=d@e,f.g;h" << "pusher/42/a_b-c=d@e,f.g;h";
        QTest::newRow("encrypted") << "private-encrypted-x" << "private-pusher/42/encrypted-x";
    }
    void channelNames()
    {
        QFETCH(QString, pusher);
        QFETCH(QString, native);
        const std::string name = nativeChannelName(kApp.id, pusher.toStdString());
        QCOMPARE(QString::fromStdString(name), native);
        QVERIFY(!validateChannelName(name));
        QCOMPARE(channelTypeOf(name), channelTypeOf(pusher.toStdString()));
        QCOMPARE(pusherChannelName(kApp.id, name), std::optional<std::string>(pusher.toStdString()));
        QCOMPARE(pusherAppOf(name), std::optional<std::string_view>(kApp.id));
        // Apps are separate namespaces; other native topics are in none.
        QVERIFY(!pusherChannelName(kOtherApp.id, name));
        QVERIFY(!pusherChannelName(kApp.id, "orders"));
        QVERIFY(!pusherChannelName(kApp.id, "pusher/42/a/b"));
    }

    void invalidPusherChannelNames()
    {
        QVERIFY(!validatePusherChannelName("private-a.b"));
        QVERIFY(validatePusherChannelName(""));
        QVERIFY(validatePusherChannelName("a/b"));
        QVERIFY(validatePusherChannelName("a b"));
        QVERIFY(validatePusherChannelName("a*"));
        QVERIFY(validatePusherChannelName(std::string(165, 'a')));
        QVERIFY(!validatePusherChannelName(std::string(164, 'a')));
    }

    void eventNames_data()
    {
        QTest::addColumn<QString>("pusher");
        QTest::addColumn<QString>("native");
        QTest::newRow("plain") << "order-shipped" << "order-shipped";
        QTest::newRow("client") << "client-typing" << "client-typing";
        QTest::newRow("dotted") << "App.Events.X" << "App.Events.X";
        QTest::newRow("laravel") << "App\\Events\\OrderShipped" << "App%5CEvents%5COrderShipped";
        QTest::newRow("percent") << "50%" << "50%25";
        QTest::newRow("space") << "a b" << "a%20b";
        QTest::newRow("leading dot") << ".x.y" << "%2Ex%2Ey";
    }
    void eventNames()
    {
        QFETCH(QString, pusher);
        QFETCH(QString, native);
        const std::string encoded = nativeEventName(pusher.toStdString());
        QCOMPARE(QString::fromStdString(encoded), native);
        QVERIFY(!validateEventName(encoded));
        QCOMPARE(QString::fromStdString(pusherEventName(encoded)), pusher);
    }

    void dataMapping_data()
    {
        QTest::addColumn<QString>("pusherData"); // the JSON of the Pusher frame's `data`
        QTest::addColumn<QString>("native");
        QTest::addColumn<QString>("backToPusher"); // the JSON of `data` sent to Pusher clients
        // (no raw strings with backslashes here: moc's tokenizer misreads them)
        QTest::newRow("json in a string") << "\"{\\\"a\\\": 1}\"" << "{\"a\": 1}" << "\"{\\\"a\\\": 1}\"";
        QTest::newRow("object") << R"({"a":1})" << R"({"a":1})" << "\"{\\\"a\\\":1}\"";
        QTest::newRow("plain string") << R"("hello")" << R"("hello")" << R"("hello")";
        QTest::newRow("number in a string") << R"("5")" << "5" << R"("5")";
        QTest::newRow("null") << "null" << "null" << R"("null")";
        // A string whose content is itself a JSON string stays a string holding that text, so
        // the quotes reach Pusher clients (the HTTP API's data arrives byte for byte).
        QTest::newRow("json string in a string") << "\"\\\"x\\\"\"" << "\"\\\"x\\\"\"" << "\"\\\"x\\\"\"";
        QTest::newRow("spaced json string in a string") << "\" \\\"x\\\" \"" << "\" \\\"x\\\" \"" << "\" \\\"x\\\" \"";
    }
    void dataMapping()
    {
        QFETCH(QString, pusherData);
        QFETCH(QString, native);
        QFETCH(QString, backToPusher);
        const std::string nativeText = nativeData(boost::json::parse(pusherData.toStdString()));
        QCOMPARE(QString::fromStdString(nativeText), native);
        std::string out;
        appendPusherData(out, nativeText);
        QCOMPARE(QString::fromStdString(out), backToPusher);
    }

    void messageFrameDecoding()
    {
        Publication publication;
        publication.channel = "pusher/42/a_b-c=d@e,f.g;h";
        publication.event = "App%5CEvents%5CX";
        publication.data = "{\"a\":1,\"offset\":2,\"s\":\"x,\\\"sender\\\":\\\"y\"}"; // the frame's own keys inside the payload
        publication.offset = 9;
        publication.sender = "123.456";
        const auto frame = encodeMessageFrame(publication);
        const auto view = decodeMessageFrame(frame->bytes);
        QVERIFY(view);
        QCOMPARE(view->channel, publication.channel);
        QCOMPARE(view->event, publication.event);
        QCOMPARE(std::string(view->data), publication.data);
        QCOMPARE(view->sender, publication.sender);
        publication.sender.clear();
        const auto serverFrame = encodeMessageFrame(publication);
        QVERIFY(decodeMessageFrame(serverFrame->bytes)->sender.empty());
        QVERIFY(!decodeMessageFrame(R"({"op":"presence","channel":"a"})"));
        QVERIFY(!decodeMessageFrame(R"({"op":"message","channel":"a","event":"e","data":1})"));
    }

    void signatureMatchesPusherDocumentation()
    {
        // The examples of Pusher's authentication signature documentation.
        QCOMPARE(pusherAuth(qtHmac, "278d425bdf160c739803", "7ad3773142a6692b25b8", "1234.1234", "private-foobar"),
                 std::string("278d425bdf160c739803:58df8b0c36d6982b82c3ecf6b4662e34fe8c25bba48f5369f135bf843651c3a4"));
        const std::string channelData = R"({"user_id":10,"user_info":{"name":"Mr. Channels"}})";
        QCOMPARE(pusherAuth(qtHmac, "278d425bdf160c739803", "7ad3773142a6692b25b8", "1234.1234", "presence-foobar",
                            channelData),
                 std::string("278d425bdf160c739803:31935e7d86dba64c2a90aed31fdc61869f9b22ba9d8863bba239c03ca481bc80"));
        QVERIFY(verifyPusherAuth(qtHmac, "278d425bdf160c739803", "7ad3773142a6692b25b8", "1234.1234", "private-foobar", {},
                                 "278d425bdf160c739803:58df8b0c36d6982b82c3ecf6b4662e34fe8c25bba48f5369f135bf843651c3a4"));
        QVERIFY(!verifyPusherAuth(qtHmac, "278d425bdf160c739803", "7ad3773142a6692b25b8", "1234.1234", "private-foobar", {},
                                  "278d425bdf160c739803:58df8b0c36d6982b82c3ecf6b4662e34fe8c25bba48f5369f135bf843651c3a5"));
        QVERIFY(!verifyPusherAuth(qtHmac, "278d425bdf160c739803", "7ad3773142a6692b25b8", "1234.1235", "private-foobar", {},
                                  "278d425bdf160c739803:58df8b0c36d6982b82c3ecf6b4662e34fe8c25bba48f5369f135bf843651c3a4"));
        QVERIFY(constantTimeEquals("abc", "abc"));
        QVERIFY(!constantTimeEquals("abc", "abd"));
        QVERIFY(!constantTimeEquals("abc", "ab"));
    }

    void connectionEstablished()
    {
        Fixture f;
        const auto c = f.open();
        QVERIFY(c.handle != 0);
        QVERIFY(QRegularExpression("^[0-9]+\\.[0-9]+$").match(QString::fromStdString(c.socketId)).hasMatch());
        const auto frame = last(c);
        QCOMPARE(frame.at("event").as_string(), "pusher:connection_established");
        const auto data = dataOf(frame).as_object();
        QCOMPARE(data.at("socket_id").as_string(), c.socketId);
        QCOMPARE(data.at("activity_timeout").as_int64(), 120);
        QCOMPARE(f.hub.counters().sessions, std::size_t(1));
        QCOMPARE(f.pusher.counters().connections, std::uint64_t(1));
    }

    void refusedConnections_data()
    {
        QTest::addColumn<QByteArray>("key");      // as the URL's bytes: any bytes
        QTest::addColumn<QByteArray>("protocol"); // "-": absent
        QTest::addColumn<int>("code");
        QTest::newRow("unknown key") << QByteArray("nope") << QByteArray("7") << 4001;
        QTest::newRow("old protocol") << QByteArray("app-key") << QByteArray("6") << 4007;
        QTest::newRow("no protocol") << QByteArray("app-key") << QByteArray("-") << 4008;
        // The message quotes what the client sent: as valid UTF-8 (the frame is text), and short.
        QTest::newRow("key not UTF-8") << QByteArray("no\xffpe") << QByteArray("7") << 4001;
        QTest::newRow("key of 4 KiB") << QByteArray(4096, 'k') << QByteArray("7") << 4001;
        QTest::newRow("protocol not UTF-8") << QByteArray("app-key") << QByteArray("7\xc3") << 4007;
        QTest::newRow("protocol of 4 KiB") << QByteArray("app-key") << QByteArray(4096, '7') << 4007;
    }
    void refusedConnections()
    {
        QFETCH(QByteArray, key);
        QFETCH(QByteArray, protocol);
        QFETCH(int, code);
        Fixture f;
        auto transport = std::make_shared<RecordingSession>();
        const std::string protocolText = protocol.toStdString();
        const auto handle = f.pusher.open(transport, key.toStdString(),
                                          protocol == "-" ? std::nullopt : std::optional<std::string_view>(protocolText));
        QCOMPARE(handle, PusherProtocol::ConnectionHandle(0));
        QCOMPARE(transport->frames.size(), std::size_t(1));
        boost::json::error_code ec;
        const auto parsed = boost::json::parse(transport->frames[0]->bytes, ec);
        QVERIFY2(!ec, transport->frames[0]->bytes.c_str());
        const auto &frame = parsed.as_object();
        QCOMPARE(frame.at("event").as_string(), "pusher:error");
        QCOMPARE(frame.at("data").at("code").as_int64(), code);
        QVERIFY(frame.at("data").at("message").as_string().size() <= 160);
        QCOMPARE(transport->closes, std::vector<DisconnectCode>{static_cast<DisconnectCode>(code)});
        QCOMPARE(f.hub.counters().sessions, std::size_t(0));
    }

    void pingPong()
    {
        Fixture f;
        const auto c = f.open();
        f.send(c, R"({"event":"pusher:ping","data":{}})");
        QCOMPARE(last(c).at("event").as_string(), "pusher:pong");
    }

    void publicationsAreTranslatedOncePerPublication()
    {
        Fixture f;
        const auto a = f.open();
        const auto b = f.open();
        f.subscribe(a, "orders");
        f.subscribe(b, "orders");
        QCOMPARE(last(a).at("event").as_string(), "pusher_internal:subscription_succeeded");
        QCOMPARE(last(a).at("channel").as_string(), "orders");
        QCOMPARE(last(a).at("data").as_string(), "{}");
        auto native = std::make_shared<RecordingSession>();
        const auto nativeId = f.hub.attach(native);
        QVERIFY(!joinNow(f.hub, nativeId, "pusher/42/orders").error);

        f.hub.broadcast("pusher/42/orders", "App%5CEvents%5CShipped", R"({"id": 7})");
        const auto &frameA = a.transport->frames.back();
        const auto &frameB = b.transport->frames.back();
        QCOMPARE(frameA.get(), frameB.get()); // one Pusher encoding, shared
        QCOMPARE(frameA->bytes, std::string("{\"event\":\"App\\\\Events\\\\Shipped\",\"channel\":\"orders\",\"data\":\"{\\\"id\\\": 7}\"}"));
        const auto nativeFrame = native->json(native->frames.size() - 1);
        QCOMPARE(nativeFrame.at("op").as_string(), "message"); // the native subscriber its own encoding
        QCOMPARE(nativeFrame.at("data").at("id").as_int64(), 7);

        // Another app's client on a same-named channel sees nothing of it.
        const auto other = f.open(kOtherApp.key);
        f.subscribe(other, "orders");
        const auto before = other.transport->frames.size();
        f.hub.broadcast("pusher/42/orders", "e", "1");
        QCOMPARE(other.transport->frames.size(), before);
    }

    void privateChannelSignatures()
    {
        Fixture f;
        const auto c = f.open();
        f.subscribe(c, "private-orders", f.sign(c, "private-orders"));
        QCOMPARE(last(c).at("event").as_string(), "pusher_internal:subscription_succeeded");
        QVERIFY(f.hub.isSubscribed(c.socketId, "private-pusher/42/orders"));

        f.subscribe(c, "private-other", f.sign(c, "private-orders")); // signed for another channel
        auto frame = last(c);
        QCOMPARE(frame.at("event").as_string(), "pusher:subscription_error");
        QCOMPARE(frame.at("channel").as_string(), "private-other");
        QCOMPARE(frame.at("data").at("type").as_string(), "AuthError");
        QCOMPARE(frame.at("data").at("status").as_int64(), 401);
        QVERIFY(!f.hub.isSubscribed(c.socketId, "private-pusher/42/other"));

        f.subscribe(c, "private-none"); // no auth at all
        QCOMPARE(last(c).at("event").as_string(), "pusher:subscription_error");
        // Signed with another app's secret.
        f.subscribe(c, "private-x", pusherAuth(qtHmac, kApp.key, kOtherApp.secret, c.socketId, "private-x"));
        QCOMPARE(last(c).at("event").as_string(), "pusher:subscription_error");
        QCOMPARE(f.pusher.counters().subscriptionErrors, std::uint64_t(3));

        f.subscribe(c, "bad/name");
        QCOMPARE(last(c).at("event").as_string(), "pusher:subscription_error");
        QCOMPARE(last(c).at("data").at("status").as_int64(), 400);
    }

    void presenceOneMemberPerUser()
    {
        Fixture f;
        const auto a1 = f.open();
        const auto a2 = f.open();
        const auto b = f.open();
        // A double whose text a JSON parser may read one unit in the last place off.
        const std::string alice = R"({"user_id":"alice","user_info":{"name":"Alice","score":474.59380568556355}})";
        const std::string bob = R"({"user_id":7,"user_info":{"name":"Bob"}})";
        f.subscribe(b, "presence-room", f.sign(b, "presence-room", bob), bob);
        auto ok = last(b);
        QCOMPARE(ok.at("event").as_string(), "pusher_internal:subscription_succeeded");
        auto presence = dataOf(ok).at("presence").as_object();
        QCOMPARE(presence.at("count").as_int64(), 1);
        QCOMPARE(presence.at("ids").as_array().at(0).as_string(), "7");
        QCOMPARE(presence.at("hash").at("7").at("name").as_string(), "Bob");

        f.subscribe(a1, "presence-room", f.sign(a1, "presence-room", alice), alice);
        f.subscribe(a2, "presence-room", f.sign(a2, "presence-room", alice), alice);
        presence = dataOf(last(a2)).at("presence").as_object();
        QCOMPARE(presence.at("count").as_int64(), 2);
        const auto added = eventsOf(b, "pusher_internal:member_added");
        QCOMPARE(added.size(), std::size_t(1)); // once per user, not per connection
        QCOMPARE(added[0].at("channel").as_string(), "presence-room");
        QCOMPARE(dataOf(added[0]).at("user_id").as_string(), "alice");
        QCOMPARE(dataOf(added[0]).at("user_info").at("name").as_string(), "Alice");
        const std::string addedData(added[0].at("data").as_string());
        QVERIFY2(addedData.find(R"("score":4.7459380568556355E2)") != std::string::npos, addedData.c_str());
        QVERIFY(eventsOf(a1, "pusher_internal:member_added").empty()); // nobody is told about itself

        f.pusher.closed(a1.handle, 1000);
        QVERIFY(eventsOf(b, "pusher_internal:member_removed").empty()); // alice is still there
        f.send(a2, R"({"event":"pusher:unsubscribe","data":{"channel":"presence-room"}})");
        const auto removed = eventsOf(b, "pusher_internal:member_removed");
        QCOMPARE(removed.size(), std::size_t(1));
        QCOMPARE(dataOf(removed[0]).at("user_id").as_string(), "alice");

        // Presence without a user_id is refused.
        const auto c = f.open();
        f.subscribe(c, "presence-room", f.sign(c, "presence-room", "{}"), "{}");
        QCOMPARE(last(c).at("event").as_string(), "pusher:subscription_error");
    }

    void clientEvents()
    {
        PusherOptions options;
        options.clientEventsPerSecond = 2;
        options.clientEventBurst = 2;
        Fixture f(options);
        const auto a = f.open();
        const auto b = f.open();
        f.subscribe(a, "private-chat", f.sign(a, "private-chat"));
        f.subscribe(b, "private-chat", f.sign(b, "private-chat"));
        f.subscribe(a, "news");
        const auto aBefore = a.transport->frames.size();
        f.send(a, R"({"event":"client-typing","channel":"private-chat","data":{"who":"a"}})");
        QCOMPARE(a.transport->frames.size(), aBefore); // not echoed
        auto got = last(b);
        QCOMPARE(got.at("event").as_string(), "client-typing");
        QCOMPARE(got.at("channel").as_string(), "private-chat");
        QCOMPARE(dataOf(got).at("who").as_string(), "a");

        f.send(a, R"({"event":"client-x","channel":"news","data":{}})");
        QCOMPARE(last(a).at("event").as_string(), "pusher:error"); // public channel
        f.send(a, R"({"event":"client-x","channel":"private-elsewhere","data":{}})");
        QCOMPARE(last(a).at("event").as_string(), "pusher:error"); // not subscribed
        QCOMPARE(f.pusher.counters().clientEventsRefused, std::uint64_t(2));

        f.send(a, R"({"event":"client-typing","channel":"private-chat","data":{}})"); // burst of 2 used up
        f.send(a, R"({"event":"client-typing","channel":"private-chat","data":{}})");
        QCOMPARE(last(a).at("event").as_string(), "pusher:error");
        QCOMPARE(last(a).at("data").at("code").as_int64(), 4301);
        QCOMPARE(f.pusher.counters().clientEventsRateLimited, std::uint64_t(1));
        QCOMPARE(eventsOf(b, "client-typing").size(), std::size_t(2));
        f.timer.advance(std::chrono::seconds(1));
        f.send(a, R"({"event":"client-typing","channel":"private-chat","data":{}})");
        QCOMPARE(eventsOf(b, "client-typing").size(), std::size_t(3));
    }

    void clientEventHookSeesWhatWasSent()
    {
        Fixture f;
        struct Seen {
            std::string app, channel, event, data, socketId, userId;
        };
        std::vector<Seen> seen;
        f.pusher.setClientEventHook([&](const PusherClientEvent &e) {
            seen.push_back({std::string(e.appId), std::string(e.channel), std::string(e.event), std::string(e.data),
                            std::string(e.socketId), std::string(e.userId)});
        });
        const auto a = f.open();
        const auto b = f.open();
        const std::string alice = R"({"user_id":"alice","user_info":{}})";
        f.subscribe(a, "presence-room", f.sign(a, "presence-room", alice), alice);
        f.subscribe(b, "presence-room", f.sign(b, "presence-room", alice), alice);
        f.subscribe(a, "private-chat", f.sign(a, "private-chat"));
        f.send(a, R"({"event":"client-typing","channel":"presence-room","data":{"who":"a"}})");
        f.send(a, "{\"event\":\"client-x\",\"channel\":\"private-chat\",\"data\":\"as \\\"sent\\\"\"}");
        f.send(a, R"({"event":"client-x","channel":"news","data":{}})"); // refused: no hook
        QCOMPARE(seen.size(), std::size_t(2));
        QCOMPARE(seen[0].app, kApp.id);
        QCOMPARE(seen[0].channel, "presence-room");
        QCOMPARE(seen[0].event, "client-typing");
        QCOMPARE(seen[0].data, R"({"who":"a"})");
        QCOMPARE(seen[0].socketId, a.socketId);
        QCOMPARE(seen[0].userId, "alice");
        QCOMPARE(seen[1].channel, "private-chat");
        QCOMPARE(seen[1].data, "as \"sent\"");
        QCOMPARE(seen[1].userId, "");
    }

    void presenceClientEventsCarryTheSendersUserId()
    {
        // Pusher adds the sender's user_id to a client event on a presence channel (pusher-js
        // hands it to callbacks as metadata.user_id); private channels have no user.
        Fixture f;
        const auto a = f.open();
        const auto b = f.open();
        const std::string alice = R"({"user_id":"alice","user_info":{}})";
        const std::string bob = R"({"user_id":"bob"})";
        f.subscribe(a, "presence-room", f.sign(a, "presence-room", alice), alice);
        f.subscribe(b, "presence-room", f.sign(b, "presence-room", bob), bob);
        f.subscribe(a, "private-chat", f.sign(a, "private-chat"));
        f.subscribe(b, "private-chat", f.sign(b, "private-chat"));
        f.send(a, R"({"event":"client-typing","channel":"presence-room","data":{"who":"a"}})");
        auto got = last(b);
        QCOMPARE(got.at("event").as_string(), "client-typing");
        QVERIFY(got.contains("user_id"));
        QCOMPARE(got.at("user_id").as_string(), "alice");
        QCOMPARE(dataOf(got).at("who").as_string(), "a");
        f.send(b, R"({"event":"client-typing","channel":"presence-room","data":{}})");
        QCOMPARE(last(a).at("user_id").as_string(), "bob");
        f.send(a, R"({"event":"client-typing","channel":"private-chat","data":{}})");
        got = last(b);
        QCOMPARE(got.at("channel").as_string(), "private-chat");
        QVERIFY(!got.contains("user_id"));
        // A server publish on the presence channel has no sender, so no user_id.
        Publication publication;
        publication.channel = "presence-pusher/42/room";
        publication.event = "news";
        publication.data = "{}";
        f.hub.publish(publication);
        got = last(b);
        QCOMPARE(got.at("event").as_string(), "news");
        QVERIFY(!got.contains("user_id"));
    }

    void nativeAndPusherSeeEachOther()
    {
        Fixture f;
        const auto p = f.open();
        f.subscribe(p, "private-chat", f.sign(p, "private-chat"));
        auto native = std::make_shared<RecordingSession>();
        const auto nativeId = f.hub.attach(native);
        f.hub.setAuthorizer([](const AuthRequest &) { return AuthDecision{true}; });
        QVERIFY(!joinNow(f.hub, nativeId, "private-pusher/42/chat").error);
        f.send(p, R"({"event":"client-hello","channel":"private-chat","data":{"n":1}})");
        const auto fromPusher = native->json(native->frames.size() - 1);
        QCOMPARE(fromPusher.at("event").as_string(), "client-hello");
        QCOMPARE(fromPusher.at("sender").as_string(), p.socketId);
        QCOMPARE(fromPusher.at("data").at("n").as_int64(), 1);
        Publication publication;
        publication.channel = "private-pusher/42/chat";
        publication.event = "client-reply";
        publication.data = R"({"n":2})";
        publication.sender = nativeId;
        f.hub.publish(publication);
        const auto fromNative = last(p);
        QCOMPARE(fromNative.at("event").as_string(), "client-reply");
        QCOMPARE(dataOf(fromNative).at("n").as_int64(), 2);
    }

    void malformedFramesAndFlood()
    {
        PusherOptions options;
        options.violationsBeforeClose = 3;
        Fixture f(options);
        const auto c = f.open();
        f.send(c, "not json");
        QCOMPARE(last(c).at("event").as_string(), "pusher:error");
        QVERIFY(last(c).at("data").at("code").is_null());
        f.send(c, R"({"data":{}})");
        QVERIFY(c.transport->closes.empty());
        f.pusher.receive(c.handle, "\x01\x02", true);
        QCOMPARE(c.transport->closes, std::vector<DisconnectCode>{static_cast<DisconnectCode>(4100)});
        QCOMPARE(f.pusher.counters().malformed, std::uint64_t(3));
        QCOMPARE(f.pusher.counters().floodDisconnects, std::uint64_t(1));
    }

    void activityTimeout()
    {
        PusherOptions options;
        options.activityTimeout = std::chrono::seconds(5);
        options.pongTimeout = std::chrono::milliseconds(1000);
        Fixture f(options);
        const auto c = f.open();
        QCOMPARE(dataOf(last(c)).at("activity_timeout").as_int64(), 5);
        f.timer.advance(std::chrono::milliseconds(4000));
        f.send(c, R"({"event":"pusher:pong","data":{}})"); // activity restarts the wait
        f.timer.advance(std::chrono::milliseconds(4000));
        QVERIFY(eventsOf(c, "pusher:ping").empty());
        f.timer.advance(std::chrono::milliseconds(1000));
        QCOMPARE(eventsOf(c, "pusher:ping").size(), std::size_t(1));
        f.send(c, R"({"event":"pusher:pong","data":{}})");
        f.timer.advance(std::chrono::milliseconds(2000));
        QVERIFY(c.transport->closes.empty());
        f.timer.advance(std::chrono::milliseconds(3000)); // silent again: ping, then no pong
        QCOMPARE(eventsOf(c, "pusher:ping").size(), std::size_t(2));
        f.timer.advance(std::chrono::milliseconds(1000));
        QCOMPARE(c.transport->closes, std::vector<DisconnectCode>{static_cast<DisconnectCode>(4201)});
        QCOMPARE(f.pusher.counters().pongTimeouts, std::uint64_t(1));
        f.pusher.closed(c.handle, 4201);
        QCOMPARE(f.hub.counters().sessions, std::size_t(0));
    }

    void slowConsumerCloseIsAPusherCode()
    {
        QCOMPARE(pusherCloseCode(3001), std::uint16_t(4100));
        QCOMPARE(pusherCloseCode(3000), std::uint16_t(4100));
        QCOMPARE(pusherCloseCode(3007), std::uint16_t(4200));
        QCOMPARE(pusherCloseCode(3501), std::uint16_t(4009));
        QCOMPARE(pusherCloseCode(1000), std::uint16_t(1000));
        QCOMPARE(pusherCloseCode(4201), std::uint16_t(4201));
    }
};

QTEST_GUILESS_MAIN(tst_PusherProtocol)
#include "tst_pusherprotocol.moc"
