// BusForwarder: Bus events reach Hub subscribers as `message` frames; mapping, serialization,
// counted failures, lifetime of the subscription handle.
#include "switchboard/BusForwarder.h"
#include "switchboard/Executor.h"
#include "switchboard/Hub.h"
#include "switchboard/Timer.h"

#include <QtTest>

#include <boost/json.hpp>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

using namespace switchboard;

Q_DECLARE_METATYPE(std::any)

namespace {

/// Records the `message` frames the Hub sends it.
class RecordingSession final : public Session {
public:
    SendOutcome send(const SharedFrame &frame) override
    {
        frames.push_back(boost::json::parse(frame->bytes).as_object());
        return SendResult::Ok;
    }
    void close(DisconnectCode, std::string_view) override { ++closes; }

    std::vector<boost::json::object> messages() const
    {
        std::vector<boost::json::object> out;
        for (const auto &f : frames) {
            if (f.at("op") == "message")
                out.push_back(f);
        }
        return out;
    }
    std::vector<boost::json::object> frames;
    int closes = 0;
};

/// A Hub with one recording session, and a Bus delivering on a queue executor.
struct Fixture {
    ManualTimer timer;
    Hub hub{timer};
    QueueExecutor executor;
    Bus bus{executor};
    std::shared_ptr<RecordingSession> session = std::make_shared<RecordingSession>();
    std::string sessionId = hub.attach(session);

    void join(std::string_view channel)
    {
        bool ok = false;
        hub.join(sessionId, channel, {}, [&](JoinResult result) { ok = !result.error; });
        if (!ok)
            throw std::logic_error("join failed");
    }
};

std::string channelOf(const boost::json::object &m) { return std::string(m.at("channel").as_string()); }
std::string eventOf(const boost::json::object &m) { return std::string(m.at("event").as_string()); }

struct Unprintable {
    int x = 0;
};

} // namespace

class TestBusForwarder : public QObject {
    Q_OBJECT
private slots:
    void forwardsMatchingTopics_data();
    void forwardsMatchingTopics();
    void defaultSerializer_data();
    void defaultSerializer();
    void mapperChoosesChannel();
    void customSerializerAndThrowingCallbacks();
    void invalidNamesRejected();
    void severalTopicsForwardedOnce();
    void destroyedForwarderStopsEvenQueuedEvents();
    void movedForwarderKeepsForwarding();
    void filtersAddedAndRemoved();
    void outlivesBus();
};

void TestBusForwarder::forwardsMatchingTopics_data()
{
    QTest::addColumn<QString>("filter");
    QTest::addColumn<QString>("topic");
    QTest::addColumn<bool>("forwarded");
    QTest::newRow("exact") << "users/42" << "users/42" << true;
    QTest::newRow("star") << "users/*" << "users/42" << true;
    QTest::newRow("star one level only") << "users/*" << "users/42/name" << false;
    QTest::newRow("double star") << "users/**" << "users/42/name" << true;
    QTest::newRow("other branch") << "users/**" << "orders/7" << false;
}

void TestBusForwarder::forwardsMatchingTopics()
{
    QFETCH(QString, filter);
    QFETCH(QString, topic);
    QFETCH(bool, forwarded);
    Fixture f;
    f.join(topic.toStdString());
    BusForwarder forwarder(f.bus, f.hub, {.filters = {TopicFilter(filter.toStdString())}});
    QVERIFY(!f.bus.publish(Topic(topic.toStdString()), "updated", std::string(R"({"n":1})")));
    QVERIFY(f.session->messages().empty()); // delivered by the executor, not inside publish()
    f.executor.runPending();

    const auto messages = f.session->messages();
    QCOMPARE(messages.size(), std::size_t(forwarded ? 1 : 0));
    QCOMPARE(forwarder.forwarded(), std::uint64_t(forwarded ? 1 : 0));
    if (forwarded) {
        QCOMPARE(channelOf(messages[0]), topic.toStdString());
        QCOMPARE(eventOf(messages[0]), std::string("updated"));
        QCOMPARE(messages[0].at("data"), boost::json::value(boost::json::object{{"n", 1}}));
        QVERIFY(messages[0].at("offset").to_number<std::uint64_t>() >= 1); // kept in history
        QVERIFY(!messages[0].contains("sender"));
    }
    QCOMPARE(forwarder.unserializable(), std::uint64_t(0));
}

void TestBusForwarder::defaultSerializer_data()
{
    QTest::addColumn<std::any>("payload");
    QTest::addColumn<QString>("json"); // empty: unserializable
    QTest::newRow("json text") << std::any(std::string(R"([1,"two",{"three":3}])")) << R"([1,"two",{"three":3}])";
    QTest::newRow("json value") << std::any(boost::json::value(2.5)) << "2.5";
    QTest::newRow("json object") << std::any(boost::json::object{{"a", true}}) << R"({"a":true})";
    QTest::newRow("json array") << std::any(boost::json::array{1, 2}) << "[1,2]";
    QTest::newRow("no payload") << std::any() << "null";
    QTest::newRow("invalid json text") << std::any(std::string("{not json")) << "";
    QTest::newRow("two json values") << std::any(std::string("1 2")) << "";
    QTest::newRow("int") << std::any(42) << "";
    QTest::newRow("struct") << std::any(Unprintable{7}) << "";
}

void TestBusForwarder::defaultSerializer()
{
    QFETCH(std::any, payload);
    QFETCH(QString, json);
    Fixture f;
    f.join("feed");
    BusForwarder forwarder(f.bus, f.hub, {.filters = {TopicFilter("feed")}});
    QVERIFY(!f.bus.publishSync(Topic("feed"), "e", payload)); // never an error for the publisher
    const auto messages = f.session->messages();
    if (json.isEmpty()) {
        QVERIFY(messages.empty());
        QCOMPARE(forwarder.unserializable(), std::uint64_t(1));
        QCOMPARE(forwarder.forwarded(), std::uint64_t(0));
    } else {
        QCOMPARE(messages.size(), std::size_t(1));
        QCOMPARE(messages[0].at("data"), boost::json::parse(json.toStdString()));
        QCOMPARE(forwarder.unserializable(), std::uint64_t(0));
        QCOMPARE(forwarder.forwarded(), std::uint64_t(1));
    }
    QCOMPARE(f.bus.listenerErrors(), std::uint64_t(0));
}

void TestBusForwarder::mapperChoosesChannel()
{
    Fixture f;
    f.join("user-42");
    BusForwarderOptions options;
    options.filters = {TopicFilter("users/*/**")};
    options.channel = [](const BusContext &context, const BusEvent &event) -> std::string {
        if (event.name == "internal")
            return {}; // not for clients
        return "user-" + std::string(context.topic().segments().at(1));
    };
    BusForwarder forwarder(f.bus, f.hub, std::move(options));
    QVERIFY(!f.bus.publishSync(Topic("users/42/profile"), "renamed", std::string(R"("ada")")));
    QVERIFY(!f.bus.publishSync(Topic("users/42/profile"), "internal", std::string("1")));
    QVERIFY(!f.bus.publishSync(Topic("users/7/profile"), "renamed", std::string(R"("bob")")));

    const auto messages = f.session->messages();
    QCOMPARE(messages.size(), std::size_t(1)); // user-7 has no subscriber here
    QCOMPARE(channelOf(messages[0]), std::string("user-42"));
    QCOMPARE(messages[0].at("data"), boost::json::value("ada"));
    QCOMPARE(forwarder.forwarded(), std::uint64_t(2)); // both published to the Hub
    QCOMPARE(forwarder.skipped(), std::uint64_t(1));
}

void TestBusForwarder::customSerializerAndThrowingCallbacks()
{
    Fixture f;
    f.join("points");
    BusForwarderOptions options;
    options.filters = {TopicFilter("points")};
    options.serialize = [](const std::any &payload) -> std::optional<std::string> {
        if (const auto *p = std::any_cast<Unprintable>(&payload)) {
            if (p->x < 0)
                throw std::runtime_error("negative");
            return boost::json::serialize(boost::json::object{{"x", p->x}});
        }
        if (std::any_cast<int>(&payload))
            return std::string("{broken"); // invalid JSON from the serializer is not sent
        return std::nullopt;
    };
    BusForwarder forwarder(f.bus, f.hub, std::move(options));
    QVERIFY(!f.bus.publishSync(Topic("points"), "p", Unprintable{3}));
    QVERIFY(!f.bus.publishSync(Topic("points"), "p", Unprintable{-1}));
    QVERIFY(!f.bus.publishSync(Topic("points"), "p", 5));
    QVERIFY(!f.bus.publishSync(Topic("points"), "p", std::string("\"text\"")));

    const auto messages = f.session->messages();
    QCOMPARE(messages.size(), std::size_t(1));
    QCOMPARE(messages[0].at("data"), boost::json::value(boost::json::object{{"x", 3}}));
    QCOMPARE(forwarder.unserializable(), std::uint64_t(3));
    QCOMPARE(forwarder.callbackErrors(), std::uint64_t(1));
    QCOMPARE(f.bus.listenerErrors(), std::uint64_t(0));

    // A throwing mapper skips the event.
    BusForwarderOptions throwing;
    throwing.filters = {TopicFilter("points")};
    throwing.channel = [](const BusContext &, const BusEvent &) -> std::string { throw std::runtime_error("no"); };
    BusForwarder second(f.bus, f.hub, std::move(throwing));
    QVERIFY(!f.bus.publishSync(Topic("points"), "p", std::string("1")));
    QCOMPARE(second.skipped(), std::uint64_t(1));
    QCOMPARE(second.callbackErrors(), std::uint64_t(1));
    QCOMPARE(f.bus.listenerErrors(), std::uint64_t(0));
}

void TestBusForwarder::invalidNamesRejected()
{
    Fixture f;
    f.join("ok");
    BusForwarderOptions options;
    options.filters = {TopicFilter("**")};
    options.channel = [](const BusContext &context, const BusEvent &) -> std::string {
        return context.topic().str() == "bad" ? "has space" : context.topic().str();
    };
    BusForwarder forwarder(f.bus, f.hub, std::move(options));
    QVERIFY(!f.bus.publishSync(Topic("bad"), "e", std::string("1")));       // invalid channel
    QVERIFY(!f.bus.publishSync(Topic("ok"), "dotted..name", std::string("1"))); // invalid event name
    QVERIFY(!f.bus.publishSync(Topic("ok"), "fine", std::string("1")));
    QCOMPARE(forwarder.rejected(), std::uint64_t(2));
    QCOMPARE(forwarder.forwarded(), std::uint64_t(1));
    QCOMPARE(f.session->messages().size(), std::size_t(1));

    // Dotted Bus event names can be renamed for the Hub.
    BusForwarderOptions renaming;
    renaming.filters = {TopicFilter("ok")};
    renaming.eventName = [](const BusEvent &event) {
        std::string name = event.name;
        std::replace(name.begin(), name.end(), '.', ':');
        if (name == "boom")
            throw std::runtime_error("no name");
        return name;
    };
    forwarder.stop();
    BusForwarder renamed(f.bus, f.hub, std::move(renaming));
    QVERIFY(!f.bus.publishSync(Topic("ok"), "user.renamed", std::string("1")));
    QVERIFY(!f.bus.publishSync(Topic("ok"), "boom", std::string("1")));
    QCOMPARE(renamed.forwarded(), std::uint64_t(1));
    QCOMPARE(renamed.rejected(), std::uint64_t(1));
    QCOMPARE(renamed.callbackErrors(), std::uint64_t(1));
    const auto messages = f.session->messages();
    QCOMPARE(messages.size(), std::size_t(2));
    QCOMPARE(eventOf(messages[1]), std::string("user:renamed"));
}

void TestBusForwarder::severalTopicsForwardedOnce()
{
    Fixture f;
    f.join("b");
    f.join("c");
    BusForwarder forwarder(f.bus, f.hub, {.filters = {TopicFilter("b"), TopicFilter("c")}});
    BusEvent event{{Topic("a"), Topic("b"), Topic("c")}, "e", std::string("0")};
    QVERIFY(!f.bus.publishSync(std::move(event)));
    const auto messages = f.session->messages();
    QCOMPARE(messages.size(), std::size_t(1));
    QCOMPARE(channelOf(messages[0]), std::string("b")); // the first matching topic
}

void TestBusForwarder::destroyedForwarderStopsEvenQueuedEvents()
{
    Fixture f;
    f.join("feed");
    auto forwarder = std::make_unique<BusForwarder>(f.bus, f.hub, BusForwarderOptions{.filters = {TopicFilter("feed")}});
    QVERIFY(!f.bus.publish(Topic("feed"), "queued", std::string("1")));
    QCOMPARE(f.bus.pendingCount(), std::size_t(1));
    forwarder.reset();
    f.executor.runPending();
    QVERIFY(f.session->messages().empty());
    QCOMPARE(f.bus.subscriptionCount(), std::size_t(0));

    BusForwarder stopped(f.bus, f.hub, {.filters = {TopicFilter("feed")}});
    QVERIFY(stopped.active());
    stopped.stop();
    QVERIFY(!stopped.active());
    QVERIFY(!f.bus.publishSync(Topic("feed"), "after", std::string("1")));
    QVERIFY(f.session->messages().empty());
    QCOMPARE(stopped.forwarded(), std::uint64_t(0));
}

void TestBusForwarder::movedForwarderKeepsForwarding()
{
    Fixture f;
    f.join("feed");
    BusForwarder first(f.bus, f.hub, {.filters = {TopicFilter("feed")}});
    QVERIFY(!f.bus.publish(Topic("feed"), "one", std::string("1")));
    BusForwarder moved(std::move(first));
    QVERIFY(!first.active()); // NOLINT(bugprone-use-after-move): documented moved-from state
    f.executor.runPending();
    QCOMPARE(f.session->messages().size(), std::size_t(1));
    QCOMPARE(moved.forwarded(), std::uint64_t(1));

    // Move assignment drops the target's own subscription.
    BusForwarder other(f.bus, f.hub, {.filters = {TopicFilter("feed")}});
    QCOMPARE(f.bus.subscriptionCount(), std::size_t(2));
    other = std::move(moved);
    QCOMPARE(f.bus.subscriptionCount(), std::size_t(1));
    QVERIFY(!f.bus.publishSync(Topic("feed"), "two", std::string("2")));
    QCOMPARE(f.session->messages().size(), std::size_t(2));
    QCOMPARE(other.forwarded(), std::uint64_t(2));
}

void TestBusForwarder::filtersAddedAndRemoved()
{
    Fixture f;
    f.join("a");
    f.join("b");
    BusForwarder forwarder(f.bus, f.hub); // no filter: forwards nothing yet
    QVERIFY(!f.bus.publishSync(Topic("a"), "e", std::string("0")));
    QVERIFY(f.session->messages().empty());
    QVERIFY(forwarder.addFilter(TopicFilter("a")));
    QVERIFY(!forwarder.addFilter(TopicFilter("a")));
    QVERIFY(forwarder.addFilter(TopicFilter("b")));
    QVERIFY(!f.bus.publishSync(Topic("a"), "e", std::string("1")));
    QVERIFY(forwarder.removeFilter(TopicFilter("a")));
    QVERIFY(!forwarder.removeFilter(TopicFilter("a")));
    QVERIFY(!f.bus.publishSync(Topic("a"), "e", std::string("2")));
    QVERIFY(!f.bus.publishSync(Topic("b"), "e", std::string("3")));
    const auto messages = f.session->messages();
    QCOMPARE(messages.size(), std::size_t(2));
    QCOMPARE(messages[0].at("data"), boost::json::value(1));
    QCOMPARE(channelOf(messages[1]), std::string("b"));
}

void TestBusForwarder::outlivesBus()
{
    ManualTimer timer;
    Hub hub(timer);
    QueueExecutor executor;
    auto bus = std::make_unique<Bus>(executor);
    BusForwarder forwarder(*bus, hub, {.filters = {TopicFilter("x")}});
    QVERIFY(!bus->publish(Topic("x"), "e", std::string("1")));
    bus.reset();
    executor.runPending(); // the queued task finds the bus gone and does nothing
    QVERIFY(!forwarder.active());
    QCOMPARE(forwarder.forwarded(), std::uint64_t(0));
    QVERIFY(!forwarder.addFilter(TopicFilter("y")));
}

QTEST_APPLESS_MAIN(TestBusForwarder)
#include "tst_busforwarder.moc"
