#pragma once
// Fixtures of the ClientSession tests: a scripted transport (the test plays the server), and an
// in-process server (ServerProtocol, Hub, MemoryBroker) reached over LoopbackTransport, both in
// virtual time.
#include "switchboard/ClientSession.h"
#include "switchboard/Hub.h"
#include "switchboard/LoopbackTransport.h"
#include "switchboard/MemoryBroker.h"
#include "switchboard/MemoryPresenceStore.h"
#include "switchboard/ServerProtocol.h"

#include <boost/json.hpp>

#include <QtTest>

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

namespace switchboard::clienttest {

using namespace std::chrono_literals;
namespace json = boost::json;

/// A ClientTransport whose server is the test: it records what the client sends and lets the
/// test decide when the connection opens, what arrives and when it closes.
class ScriptedTransport final : public ClientTransport {
public:
    void setListener(ClientTransportListener *l) override { listener = l; }
    void open(const std::string &url) override
    {
        ++opens;
        lastUrl = url;
        opening = true;
    }
    /// Recorded; the scripted server never agrees to one (negotiatedSubprotocol() stays empty).
    void setSubprotocol(std::string_view subprotocol) override { offeredSubprotocol = subprotocol; }
    void sendText(std::string_view text) override { sent.emplace_back(text); }
    /// The client sent binary although the test server never agreed to the binary encoding.
    void sendBinary(std::string_view) override { QFAIL("binary frame sent without the binary encoding"); }
    void close(std::uint16_t code, std::string_view) override { closeRequests.push_back(code); }

    void accept()
    {
        QVERIFY(opening);
        opening = false;
        listener->onTransportOpen();
    }
    void refuse()
    {
        QVERIFY(opening);
        opening = false;
        listener->onTransportClosed(1006, "refused");
    }
    void feed(std::string_view frame) { listener->onTransportMessage(frame, false); }
    void feedBinary(std::string_view frame) { listener->onTransportMessage(frame, true); }
    void serverClose(std::uint16_t code, std::string_view reason = "bye") { listener->onTransportClosed(code, reason); }

    /// Frames sent since the last take(), parsed.
    std::vector<json::object> take()
    {
        std::vector<json::object> out;
        for (const std::string &text : sent) {
            json::error_code ec;
            json::value v = json::parse(text, ec);
            out.push_back(!ec && v.is_object() ? v.get_object() : json::object{});
        }
        sent.clear();
        return out;
    }
    json::object takeOne()
    {
        auto frames = take();
        if (frames.size() != 1) {
            qWarning("expected one frame, got %d", int(frames.size()));
            return {};
        }
        return frames.front();
    }

    ClientTransportListener *listener = nullptr;
    int opens = 0;
    bool opening = false;
    std::string lastUrl;
    std::string offeredSubprotocol;
    std::vector<std::string> sent;
    std::vector<std::uint16_t> closeRequests;
};

inline std::string str(const json::object &o, std::string_view key)
{
    const json::value *v = o.if_contains(key);
    return v && v->is_string() ? std::string(v->get_string()) : std::string("<missing>");
}
inline std::int64_t num(const json::object &o, std::string_view key)
{
    const json::value *v = o.if_contains(key);
    if (v && v->is_int64())
        return v->get_int64();
    if (v && v->is_uint64())
        return static_cast<std::int64_t>(v->get_uint64());
    return -1;
}
inline std::string ackIdText(const json::object &o)
{
    const json::value *v = o.if_contains("ackId");
    return v ? json::serialize(*v) : std::string("null");
}

/// One scripted client: transport, virtual time, queue executor and the session under test.
struct Scripted {
    explicit Scripted(ClientOptions options = {}) : session(transport, executor, timer, std::move(options)) {}

    /// connect(), accept, welcome; the connect frame is consumed.
    void establish(std::string_view sessionId = "s1")
    {
        session.connect();
        acceptAndWelcome(sessionId);
    }
    /// The transport opens and the server welcomes. The `connect` frame is consumed; what the
    /// client sent right behind it (the subscribes it does not wait for welcome to send) is
    /// still to be taken, in order, before what it sent at welcome.
    void acceptAndWelcome(std::string_view sessionId)
    {
        transport.accept();
        const bool connectFirst = !transport.sent.empty() && transport.sent.front().find(R"("op":"connect")") != std::string::npos;
        QVERIFY2(connectFirst, "the client did not send connect first");
        transport.sent.erase(transport.sent.begin());
        welcome(sessionId);
    }
    void welcome(std::string_view sessionId)
    {
        transport.feed(R"({"op":"welcome","session":")" + std::string(sessionId) + R"(","version":1,"ping":25000,"user":"u1"})");
    }

    ScriptedTransport transport;
    ManualTimer timer;
    QueueExecutor executor;
    ClientSession session;
};

inline std::string message(std::string_view channel, std::string_view event, std::string_view data, std::uint64_t offset = 0)
{
    return R"({"op":"message","channel":")" + std::string(channel) + R"(","event":")" + std::string(event)
        + R"(","data":)" + std::string(data) + R"(,"offset":)" + std::to_string(offset) + R"(,"ts":1})";
}

/// Collects the keys and payloads a listener sees.
struct Recorder {
    ClientListener listener()
    {
        return [this](const ClientEvent &e) {
            keys.emplace_back(e.key);
            data.push_back(json::serialize(e.data));
            offsets.push_back(e.offset);
            latest.push_back(e.latest);
        };
    }
    std::vector<bool> latest; ///< ClientEvent::latest of each
    std::vector<std::string> keys;
    std::vector<std::string> data;
    std::vector<std::uint64_t> offsets;
};

/// A session with this ack timeout, connecting (not yet accepted by the transport),
/// whose `error` events are recorded: for calls that wait for the connection and expire.
struct ConnectingWithErrors {
    explicit ConnectingWithErrors(std::chrono::milliseconds ackTimeout) : s(optionsWith(ackTimeout))
    {
        s.session.connect();
    }
    static ClientOptions optionsWith(std::chrono::milliseconds ackTimeout)
    {
        ClientOptions options;
        options.ackTimeout = ackTimeout;
        return options;
    }

    Scripted s;
    Recorder errors;
    ListenerHandle errorListener = s.session.on("error", errors.listener());
};

// ---- end to end fixture ----

struct Server {
    explicit Server(std::size_t historySize = 100, std::chrono::milliseconds ttl = 0ms)
        : Server(protocolOptions(), historySize, ttl)
    {
    }
    explicit Server(ServerProtocolOptions options, std::size_t historySize = 100, std::chrono::milliseconds ttl = 0ms)
        : broker(timer, brokerOptions(historySize, ttl)), hub(timer, {}, broker, presence), protocol(hub, timer, std::move(options))
    {
    }
    static MemoryBrokerOptions brokerOptions(std::size_t historySize, std::chrono::milliseconds ttl)
    {
        MemoryBrokerOptions o;
        o.history.rules = {HistoryRule{"", historySize, ttl}};
        return o;
    }
    static ServerProtocolOptions protocolOptions()
    {
        ServerProtocolOptions o;
        o.limits.connectTimeout = 60s; // the tests move virtual time through client backoffs
        return o;
    }

    /// Runs every queued delivery (frames both ways) until nothing moves.
    void settle() { executor.runPending(); }

    ManualTimer timer;
    QueueExecutor executor;
    MemoryPresenceStore presence;
    MemoryBroker broker;
    Hub hub;
    ServerProtocol protocol;
};

/// The encoding every Peer offers (a test case sets it for all its peers, e.g. from global data
/// in init(): the same test then runs over JSON and over the binary encoding).
inline WireEncoding peerEncoding = WireEncoding::Json;

inline ClientOptions withPeerEncoding(ClientOptions options)
{
    options.encoding = peerEncoding;
    return options;
}

struct Peer {
    explicit Peer(Server &server, ClientOptions options = {})
        : server(server), transport(server.protocol, server.executor),
          session(transport, server.executor, server.timer, withPeerEncoding(std::move(options)))
    {
    }
    /// Connects and waits (in virtual time) for the welcome, over the encoding offered.
    bool connect()
    {
        session.connect();
        server.settle();
        return session.state() == ClientState::Connected && session.wireEncoding() == peerEncoding;
    }
    /// Moves virtual time in steps until the session is connected again (bounded).
    bool awaitReconnect()
    {
        for (int i = 0; i < 100 && session.state() != ClientState::Connected; ++i) {
            server.timer.advance(100ms);
            server.settle();
        }
        return session.state() == ClientState::Connected;
    }

    Server &server;
    LoopbackTransport transport;
    ClientSession session;
};

} // namespace switchboard::clienttest
