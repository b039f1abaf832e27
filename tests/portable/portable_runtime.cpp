// Portable checks of core's moving parts: topic tree, event bus, Hub fan-out, ServerProtocol round trips and
// a ClientSession talking to a ServerProtocol over LoopbackTransport, all on virtual time.
#include "PortableCheck.h"
#include "PortableSuites.h"

#include "switchboard/Bus.h"
#include "switchboard/ClientSession.h"
#include "switchboard/Executor.h"
#include "switchboard/Hub.h"
#include "switchboard/LoopbackTransport.h"
#include "switchboard/ServerProtocol.h"
#include "switchboard/Timer.h"
#include "switchboard/TopicTree.h"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <any>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace sb = switchboard;
using namespace std::chrono_literals;

namespace {

/// A Session that records what the Hub / ServerProtocol sends it.
class RecordingSession final : public sb::Session {
public:
    sb::SendOutcome send(const sb::SharedFrame &frame) override
    {
        frames.push_back(frame);
        return sb::SendResult::Ok;
    }
    void close(sb::DisconnectCode code, std::string_view) override { closeCodes.push_back(static_cast<int>(code)); }

    /// The parsed text frames whose `op` is `op`.
    std::vector<boost::json::object> ops(std::string_view op) const
    {
        std::vector<boost::json::object> out;
        for (const auto &f : frames) {
            if (f->kind != sb::Frame::Kind::Text)
                continue;
            boost::json::error_code ec;
            auto v = boost::json::parse(f->bytes, ec);
            if (ec || !v.is_object())
                continue;
            const boost::json::value *kind = v.as_object().if_contains("op");
            if (kind && kind->is_string() && kind->get_string() == op)
                out.push_back(v.as_object());
        }
        return out;
    }

    std::vector<sb::SharedFrame> frames;
    std::vector<int> closeCodes;
};

void topicTree()
{
    sb::TopicTree<int> tree;
    SB_CHECK(tree.insert(sb::TopicFilter("sensors/*/temperature"), 1));
    SB_CHECK(tree.insert(sb::TopicFilter("sensors/**"), 2));
    SB_CHECK(tree.insert(sb::TopicFilter("sensors/room-1/temperature"), 3));
    SB_CHECK(tree.insert(sb::TopicFilter("other"), 4));
    SB_CHECK(!tree.insert(sb::TopicFilter("sensors/**"), 2)); // the pair is held already
    SB_CHECK_EQ(tree.size(), std::size_t(4));

    std::vector<int> hits;
    tree.match(sb::Topic("sensors/room-1/temperature"), [&](const int &v) { hits.push_back(v); });
    std::sort(hits.begin(), hits.end());
    SB_CHECK(hits == (std::vector<int>{1, 2, 3}));

    hits.clear();
    SB_CHECK(tree.match(std::string_view("sensors/room-2/humidity"), [&](const int &v) { hits.push_back(v); }));
    SB_CHECK(hits == std::vector<int>{2});
    SB_CHECK(!tree.match(std::string_view("bad//topic"), [&](const int &v) { hits.push_back(v); }));

    const std::size_t nodesBefore = tree.nodeCount();
    SB_CHECK(tree.erase(sb::TopicFilter("sensors/*/temperature"), 1));
    SB_CHECK(!tree.erase(sb::TopicFilter("sensors/*/temperature"), 1));
    SB_CHECK(tree.nodeCount() < nodesBefore); // pruned
    SB_CHECK(!tree.contains(sb::TopicFilter("sensors/*/temperature"), 1));
    SB_CHECK(tree.contains(sb::TopicFilter("other"), 4));
}

void eventBus()
{
    sb::QueueExecutor executor;
    sb::Bus bus(executor);
    std::vector<std::string> seen;
    auto sensors = bus.subscribe(sb::TopicFilter("sensors/*"), [&](const sb::BusContext &ctx, const sb::BusEvent &e) {
        const int *value = std::any_cast<int>(&e.payload);
        seen.push_back(e.name + "@" + ctx.topic().str() + "=" + (value ? std::to_string(*value) : "?"));
    });
    std::vector<std::string> everything;
    auto all = bus.subscribe(sb::TopicFilter("**"), [&](const sb::BusContext &, const sb::BusEvent &e) {
        everything.push_back(e.name);
    });

    SB_CHECK(!bus.publish(sb::Topic("sensors/a"), "first", 1));
    SB_CHECK(seen.empty()); // queued until the executor runs
    // publishSync delivers what publish() queued first: order is kept per listener.
    SB_CHECK(!bus.publishSync(sb::Topic("sensors/b"), "second", 2));
    SB_CHECK(seen == (std::vector<std::string>{"first@sensors/a=1", "second@sensors/b=2"}));

    // An event reaching a subscription through two topics is delivered once.
    sb::BusEvent twice{{sb::Topic("sensors/c"), sb::Topic("sensors/d")}, "twice", 3};
    SB_CHECK(!bus.publishSync(std::move(twice)));
    SB_CHECK_EQ(seen.size(), std::size_t(3));
    SB_CHECK(!bus.publishSync(sb::Topic("other/x"), "elsewhere", 4));
    SB_CHECK_EQ(seen.size(), std::size_t(3));
    SB_CHECK((everything == std::vector<std::string>{"first", "second", "twice", "elsewhere"}));

    sensors.unsubscribe();
    SB_CHECK(!bus.publish(sb::Topic("sensors/a"), "after", 5));
    executor.runPending();
    SB_CHECK_EQ(seen.size(), std::size_t(3)); // never runs after unsubscribe
    SB_CHECK_EQ(everything.size(), std::size_t(5));
    SB_CHECK_EQ(bus.subscriptionCount(), std::size_t(1));
}

void hubFanOut()
{
    sb::ManualTimer timer;
    sb::Hub hub(timer);
    auto a = std::make_shared<RecordingSession>();
    auto b = std::make_shared<RecordingSession>();
    auto c = std::make_shared<RecordingSession>();
    const std::string idA = hub.attach(a);
    const std::string idB = hub.attach(b);
    const std::string idC = hub.attach(c);
    SB_CHECK(!idA.empty() && idA != idB && idB != idC);

    int joined = 0;
    for (const std::string &id : {idA, idB}) {
        hub.join(id, "news", sb::JoinRequest{}, [&](sb::JoinResult r) {
            SB_CHECK(!r.error);
            ++joined;
        });
    }
    SB_CHECK_EQ(joined, 2);
    SB_CHECK_EQ(hub.subscriberCount("news"), std::size_t(2));

    sb::Publication p;
    p.channel = "news";
    p.event = "headline";
    p.data = R"({"title":"portable"})";
    std::error_code publishError = sb::make_error_code(sb::Error::Internal);
    sb::StreamPosition stored;
    hub.publish(p, [&](std::error_code e, sb::StreamPosition pos) { publishError = e; stored = pos; });
    SB_CHECK(!publishError);
    SB_CHECK_EQ(stored.offset, std::uint64_t(1));

    const auto messagesA = a->ops("message");
    const auto messagesB = b->ops("message");
    SB_CHECK_EQ(messagesA.size(), std::size_t(1));
    SB_CHECK_EQ(messagesB.size(), std::size_t(1));
    SB_CHECK(c->ops("message").empty()); // not subscribed
    if (!a->frames.empty() && !b->frames.empty())
        SB_CHECK(a->frames.back() == b->frames.back()); // one encoded frame shared by both
    if (messagesA.size() == 1) {
        SB_CHECK(messagesA[0].at("data").as_object().at("title") == "portable");
        SB_CHECK(messagesA[0].at("offset") == 1);
    }

    // Private channels need an authorizer that allows the join.
    std::error_code privateError;
    hub.join(idC, "private-ops", sb::JoinRequest{}, [&](sb::JoinResult r) { privateError = r.error; });
    SB_CHECK(privateError == sb::make_error_code(sb::Error::Unauthorized)
             || privateError == sb::make_error_code(sb::Error::Forbidden));

    SB_CHECK(!hub.leave(idB, "news"));
    SB_CHECK(hub.leave(idB, "news") == sb::make_error_code(sb::Error::NotFound));
    hub.detach(idA);
    SB_CHECK_EQ(hub.subscriberCount("news"), std::size_t(0));
}

void protocolRoundTrip()
{
    sb::ManualTimer timer;
    sb::Hub hub(timer);
    sb::ServerProtocol protocol(hub, timer);
    auto session = std::make_shared<RecordingSession>();
    const auto handle = protocol.open(session);

    protocol.receive(handle, R"({"op":"subscribe","channel":"early"})", false);
    SB_CHECK_EQ(session->ops("error").size(), std::size_t(1)); // before connect: 400, ignored

    protocol.receive(handle, R"({"op":"connect","version":1})", false);
    const auto welcome = session->ops("welcome");
    SB_CHECK_EQ(welcome.size(), std::size_t(1));
    SB_CHECK(!protocol.sessionId(handle).empty());
    if (welcome.size() == 1)
        SB_CHECK(welcome[0].at("session") == protocol.sessionId(handle).c_str());

    protocol.receive(handle, R"({"op":"subscribe","channel":"room","ackId":1})", false);
    SB_CHECK_EQ(session->ops("subscribed").size(), std::size_t(1));
    protocol.receive(handle, R"({"op":"publish","channel":"room","event":"say","data":{"n":7},"ackId":2})", false);
    const auto acks = session->ops("ack");
    SB_CHECK_EQ(acks.size(), std::size_t(1));
    if (acks.size() == 1)
        SB_CHECK(acks[0].at("offset") == 1);
    const auto messages = session->ops("message");
    SB_CHECK_EQ(messages.size(), std::size_t(1));
    if (messages.size() == 1)
        SB_CHECK(messages[0].at("data").as_object().at("n") == 7);

    const std::size_t errorsBefore = session->ops("error").size();
    protocol.receive(handle, "{not json", false);
    protocol.receive(handle, R"({"op":"fly"})", false);
    protocol.receive(handle, R"({"op":"subscribe","channel":"a//b","ackId":3})", false);
    SB_CHECK_EQ(session->ops("error").size(), errorsBefore + 3);
    SB_CHECK(session->closeCodes.empty()); // bad input answered, connection kept
    SB_CHECK(protocol.counters().protocolErrors >= 3);

    protocol.closed(handle);
    SB_CHECK_EQ(hub.subscriberCount("room"), std::size_t(0));
}

/// Runs the executor and advances virtual time in small steps until `done` or `limit` passes.
template <typename Pred>
bool settle(sb::QueueExecutor &executor, sb::ManualTimer &timer, Pred done, std::chrono::milliseconds limit = 30s)
{
    for (auto waited = 0ms; waited <= limit; waited += 10ms) {
        executor.runPending();
        if (done())
            return true;
        timer.advance(10ms);
    }
    executor.runPending();
    return done();
}

void clientOverLoopback()
{
    sb::ManualTimer timer;
    sb::QueueExecutor executor;
    sb::Hub hub(timer);
    sb::ServerProtocol protocol(hub, timer);
    protocol.setRequestHandler("math/double", [](const sb::RequestContext &ctx, std::shared_ptr<sb::Responder> r) {
        boost::json::error_code ec;
        auto v = boost::json::parse(ctx.payload, ec);
        if (ec || !v.is_int64())
            r->fail("need an integer", 422);
        else
            r->reply(std::to_string(v.as_int64() * 2));
    });

    sb::LoopbackTransport transport(protocol, executor);
    sb::ClientOptions options;
    options.url = "loopback://";
    sb::ClientSession client(transport, executor, timer, options);
    std::vector<sb::ClientState> states;
    auto stateHandle = client.onStateChanged([&](sb::ClientState s) { states.push_back(s); });

    client.connect();
    SB_CHECK(settle(executor, timer, [&] { return client.state() == sb::ClientState::Connected; }));
    SB_CHECK(!client.sessionId().empty());
    SB_CHECK(!states.empty() && states.front() == sb::ClientState::Connecting);

    // The stream exists before the client joins, so its position carries the stream's epoch.
    hub.broadcast("feed", "before", "null");
    sb::ClientChannel &channel = client.subscribe("feed");
    std::vector<std::string> received;
    auto messages = client.on("feed.*", [&](const sb::ClientEvent &e) {
        received.push_back(std::string(e.event) + ":" + std::to_string(e.offset));
    });
    SB_CHECK(settle(executor, timer, [&] { return channel.subscribed(); }));

    std::error_code ackError = sb::make_error_code(sb::Error::Internal);
    std::uint64_t ackOffset = 0;
    client.publish("feed", "tick", R"({"i":1})", [&](std::error_code e, sb::AckInfo info) {
        ackError = e;
        ackOffset = info.offset;
    });
    SB_CHECK(settle(executor, timer, [&] { return received.size() == 1; }));
    SB_CHECK(!ackError);
    SB_CHECK_EQ(ackOffset, std::uint64_t(2));
    SB_CHECK(received == std::vector<std::string>{"tick:2"}); // "before" is not replayed

    // Request / reply, and an error reply.
    std::int64_t doubled = 0;
    std::error_code replyError = sb::make_error_code(sb::Error::Internal);
    client.request("math/double", "21", [&](std::error_code e, const boost::json::value &v) {
        replyError = e;
        if (!e && v.is_int64())
            doubled = v.as_int64();
    });
    std::error_code failError;
    bool failed = false;
    client.request("math/double", R"("x")", [&](std::error_code e, const boost::json::value &) {
        failError = e;
        failed = true;
    });
    SB_CHECK(settle(executor, timer, [&] { return doubled != 0 && failed; }));
    SB_CHECK(!replyError);
    SB_CHECK_EQ(doubled, std::int64_t(42));
    SB_CHECK(static_cast<bool>(failError));

    // The connection dies; the server publishes meanwhile; the client reconnects and recovers.
    transport.refuse(true);
    transport.drop();
    SB_CHECK(settle(executor, timer, [&] { return client.state() == sb::ClientState::Reconnecting; }));
    hub.broadcast("feed", "missed", R"({"i":2})");
    transport.refuse(false);
    SB_CHECK(settle(executor, timer, [&] {
        return client.state() == sb::ClientState::Connected && channel.subscribed() && received.size() == 2;
    }));
    SB_CHECK(channel.recovered());
    SB_CHECK(received.size() == 2 && received.back() == "missed:3");

    // A request nobody answers times out and its state is freed.
    protocol.setRequestHandler("void", [](const sb::RequestContext &, std::shared_ptr<sb::Responder>) {});
    std::error_code timeoutError;
    client.request("void", "null", [&](std::error_code e, const boost::json::value &) { timeoutError = e; }, 500ms);
    SB_CHECK(settle(executor, timer, [&] { return static_cast<bool>(timeoutError); }, 2s));
    SB_CHECK(timeoutError == sb::make_error_code(sb::Error::Timeout));
    SB_CHECK_EQ(client.pendingOperations(), std::size_t(0));

    client.close();
    executor.runPending();
    SB_CHECK(client.state() == sb::ClientState::Closed);
}

} // namespace

void runRuntimeChecks()
{
    SB_RUN(topicTree);
    SB_RUN(eventBus);
    SB_RUN(hubFanOut);
    SB_RUN(protocolRoundTrip);
    SB_RUN(clientOverLoopback);
}
