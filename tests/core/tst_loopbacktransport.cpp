// LoopbackTransport: a raw listener against the real ServerProtocol and Hub, virtual time.
#include "switchboard/Hub.h"
#include "switchboard/LoopbackTransport.h"
#include "switchboard/ServerProtocol.h"

#include <boost/json.hpp>

#include <QtTest>

#include <memory>
#include <string>
#include <vector>

using namespace switchboard;
namespace json = boost::json;

namespace {

/// Records what the transport reports, in order.
class RecordingListener final : public ClientTransportListener {
public:
    void onTransportOpen() override { events.push_back("open"); }
    void onTransportMessage(std::string_view bytes, bool binary) override
    {
        events.push_back(binary ? "binary" : "text");
        json::error_code ec;
        json::value v = json::parse(bytes, ec);
        ops.push_back(!ec && v.is_object() && v.as_object().contains("op") ? std::string(v.as_object().at("op").as_string())
                                                                            : std::string("?"));
        if (onMessage)
            onMessage();
    }
    void onTransportClosed(std::uint16_t code, std::string_view reason) override
    {
        events.push_back("closed");
        closeCodes.push_back(code);
        closeReason = std::string(reason);
    }

    std::vector<std::string> events;
    std::vector<std::string> ops;
    std::vector<std::uint16_t> closeCodes;
    std::string closeReason;
    std::function<void()> onMessage;
};

struct Fixture {
    explicit Fixture(HubOptions hubOptions = {}, OutboxLimits outbox = {})
        : hub(timer, hubOptions), protocol(hub, timer), transport(protocol, executor, outbox)
    {
        transport.setListener(&listener);
    }
    void handshake()
    {
        transport.open("loopback");
        executor.runPending();
        transport.sendText(R"({"op":"connect","version":1})");
        executor.runPending();
    }

    ManualTimer timer;
    QueueExecutor executor;
    Hub hub;
    ServerProtocol protocol;
    RecordingListener listener;
    LoopbackTransport transport;
};

} // namespace

class TestLoopbackTransport : public QObject
{
    Q_OBJECT

private slots:
    void neverReentrant();
    void handshakeAndFrames();
    void clientClose();
    void drop();
    void refuse();
    void serverCloseDeliversQueuedFramesFirst();
    void stallHoldsBothDirections();
    void stalledSlowConsumerIsDisconnected();
    void closeInsideMessageStopsDelivery();
    void destroyedWhileConnected();
};

void TestLoopbackTransport::neverReentrant()
{
    Fixture f;
    f.transport.open("x");
    QVERIFY(f.listener.events.empty()); // not from inside open()
    QCOMPARE(f.executor.runPending(), std::size_t(1));
    QCOMPARE(f.listener.events, std::vector<std::string>{"open"});
    f.transport.sendText(R"({"op":"connect","version":1})");
    QCOMPARE(f.transport.framesToServer(), std::uint64_t(0)); // not from inside sendText()
    QCOMPARE(f.listener.ops.size(), std::size_t(0));
    f.executor.runPending();
    QCOMPARE(f.transport.framesToServer(), std::uint64_t(1));
    QCOMPARE(f.listener.ops, std::vector<std::string>{"welcome"});
    f.transport.close(1000, "bye");
    QCOMPARE(f.listener.events.back(), std::string("text")); // not from inside close()
    f.executor.runPending();
    QCOMPARE(f.listener.events.back(), std::string("closed"));
}

void TestLoopbackTransport::handshakeAndFrames()
{
    Fixture f;
    f.handshake();
    QVERIFY(f.transport.isOpen());
    QVERIFY(!f.transport.serverSessionId().empty());
    QCOMPARE(f.hub.counters().sessions, std::size_t(1));
    f.transport.sendText(R"({"op":"subscribe","channel":"c","ackId":1})");
    f.executor.runPending();
    f.hub.broadcast("c", "e", "1");
    f.hub.broadcastBinary("c", "b", "raw");
    f.executor.runPending();
    QCOMPARE(f.listener.ops, (std::vector<std::string>{"welcome", "subscribed", "message", "?"}));
    QCOMPARE(f.listener.events.back(), std::string("binary"));
    QCOMPARE(f.transport.framesToClient(), std::uint64_t(4));
}

void TestLoopbackTransport::clientClose()
{
    Fixture f;
    f.handshake();
    f.transport.close(1000, "done");
    f.transport.sendText(R"({"op":"ping"})"); // after close: dropped
    f.executor.runPending();
    QCOMPARE(f.listener.closeCodes, std::vector<std::uint16_t>{1000});
    QCOMPARE(f.hub.counters().sessions, std::size_t(0));
    QVERIFY(!f.transport.isOpen());
    f.transport.close(1000, "again"); // no second report
    f.executor.runPending();
    QCOMPARE(f.listener.closeCodes.size(), std::size_t(1));
    // A new connection after the previous one ended.
    f.handshake();
    QCOMPARE(f.hub.counters().sessions, std::size_t(1));
}

void TestLoopbackTransport::drop()
{
    Fixture f;
    f.handshake();
    f.transport.sendText(R"({"op":"subscribe","channel":"c"})");
    f.executor.runPending();
    f.hub.broadcast("c", "e", "1"); // queued for the client, lost with the connection
    f.transport.drop();
    f.executor.runPending();
    QCOMPARE(f.listener.closeCodes, std::vector<std::uint16_t>{1006});
    QCOMPARE(f.listener.ops, (std::vector<std::string>{"welcome", "subscribed"}));
    QCOMPARE(f.hub.counters().sessions, std::size_t(0));
    QCOMPARE(f.hub.subscriberCount("c"), std::size_t(0));
}

void TestLoopbackTransport::refuse()
{
    Fixture f;
    f.transport.refuse(true);
    f.transport.open("x");
    f.executor.runPending();
    QCOMPARE(f.listener.events, std::vector<std::string>{"closed"});
    QCOMPARE(f.listener.closeCodes, std::vector<std::uint16_t>{1006});
    f.transport.refuse(false);
    f.handshake();
    QVERIFY(f.transport.isOpen());
}

void TestLoopbackTransport::serverCloseDeliversQueuedFramesFirst()
{
    Fixture f;
    f.handshake();
    f.protocol.closeAll(DisconnectCode::Shutdown, "maintenance");
    f.executor.runPending();
    QCOMPARE(f.listener.ops.back(), std::string("disconnect"));
    QCOMPARE(f.listener.events.back(), std::string("closed"));
    QCOMPARE(f.listener.closeCodes, std::vector<std::uint16_t>{3000});
    QCOMPARE(f.hub.counters().sessions, std::size_t(0));
}

void TestLoopbackTransport::stallHoldsBothDirections()
{
    Fixture f;
    f.handshake();
    f.transport.sendText(R"({"op":"subscribe","channel":"c"})");
    f.executor.runPending();
    f.transport.stallServer(true);
    f.transport.sendText(R"({"op":"ping","ackId":1})");
    f.hub.broadcast("c", "e", "1");
    f.executor.runPending();
    QCOMPARE(f.listener.ops, (std::vector<std::string>{"welcome", "subscribed"}));
    const std::uint64_t toServer = f.transport.framesToServer();
    f.transport.stallServer(false);
    f.executor.runPending();
    QCOMPARE(f.transport.framesToServer(), toServer + 1);
    QCOMPARE(f.listener.ops, (std::vector<std::string>{"welcome", "subscribed", "message", "pong"}));
}

void TestLoopbackTransport::stalledSlowConsumerIsDisconnected()
{
    HubOptions options;
    options.slowConsumer = SlowConsumerPolicy::DisconnectClient;
    Fixture f(options, OutboxLimits{4, 1 << 20});
    f.handshake();
    f.transport.sendText(R"({"op":"subscribe","channel":"c"})");
    f.executor.runPending();
    f.transport.stallServer(true);
    for (int i = 0; i < 10; ++i)
        f.hub.broadcast("c", "e", std::to_string(i));
    f.executor.runPending();
    QCOMPARE(f.listener.closeCodes, std::vector<std::uint16_t>{3001});
    QCOMPARE(f.hub.counters().slowDisconnects, std::uint64_t(1));
    QCOMPARE(f.hub.counters().sessions, std::size_t(0));
}

void TestLoopbackTransport::closeInsideMessageStopsDelivery()
{
    Fixture f;
    f.handshake();
    f.transport.sendText(R"({"op":"subscribe","channel":"c"})");
    f.executor.runPending();
    f.listener.onMessage = [&] { f.transport.close(1000, "enough"); };
    f.hub.broadcast("c", "e", "1");
    f.hub.broadcast("c", "e", "2");
    f.executor.runPending();
    QCOMPARE(f.listener.ops, (std::vector<std::string>{"welcome", "subscribed", "message"}));
    QCOMPARE(f.listener.closeCodes, std::vector<std::uint16_t>{1000});
}

void TestLoopbackTransport::destroyedWhileConnected()
{
    ManualTimer timer;
    QueueExecutor executor;
    Hub hub(timer);
    ServerProtocol protocol(hub, timer);
    RecordingListener listener;
    {
        LoopbackTransport transport(protocol, executor);
        transport.setListener(&listener);
        transport.open("x");
        executor.runPending();
        transport.sendText(R"({"op":"connect","version":1})");
        executor.runPending();
        QCOMPARE(hub.counters().sessions, std::size_t(1));
        transport.sendText(R"({"op":"ping"})"); // still queued when the transport goes
    }
    QCOMPARE(hub.counters().sessions, std::size_t(0)); // the server saw it closed at once
    const std::size_t before = listener.events.size();
    executor.runPending(); // leftover tasks do nothing
    QCOMPARE(listener.events.size(), before);
}

QTEST_APPLESS_MAIN(TestLoopbackTransport)
#include "tst_loopbacktransport.moc"
