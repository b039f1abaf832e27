// Hub: channel lifecycle, authorization, fan-out (broadcast, except, binary, sendTo), counters.
#include "switchboard/Hub.h"
#include "switchboard/Executor.h"
#include "switchboard/MemoryBroker.h"
#include "switchboard/MemoryPresenceStore.h"
#include "switchboard/MessageEncoding.h"

#include "HubTestSupport.h"

#include <QtTest>

#include <boost/json.hpp>

#include <algorithm>
#include <deque>
#include <memory>
#include <set>
#include <string>
#include <vector>

using namespace switchboard;

Q_DECLARE_METATYPE(std::error_code)

namespace {

/// Runs posted tasks one at a time, so a test can stop between two engine answers.
class StepExecutor final : public Executor {
public:
    void post(std::function<void()> task) override { m_tasks.push_back(std::move(task)); }
    bool runOne()
    {
        if (m_tasks.empty())
            return false;
        auto task = std::move(m_tasks.front());
        m_tasks.pop_front();
        task();
        return true;
    }
    void runPending()
    {
        while (runOne()) {
        }
    }
    std::size_t pendingCount() const { return m_tasks.size(); }

private:
    std::deque<std::function<void()>> m_tasks;
};

/// Engines that answer later, as network engines do: every callback is posted to an executor.
class DeferredBroker final : public Broker {
public:
    DeferredBroker(Timer &timer, StepExecutor &executor) : m_inner(timer), m_executor(executor) {}
    void setHandler(BrokerHandler *handler) override { m_inner.setHandler(handler); }
    void subscribe(std::string_view channel) override { m_inner.subscribe(channel); }
    void unsubscribe(std::string_view channel) override { m_inner.unsubscribe(channel); }
    void publish(Publication publication, std::function<void(std::error_code, StreamPosition)> done) override
    {
        m_inner.publish(std::move(publication), std::move(done));
    }
    void history(std::string_view channel, const HistoryQuery &query, std::function<void(HistoryResult)> done) override
    {
        m_inner.history(channel, query, [this, done = std::move(done)](HistoryResult result) mutable {
            m_executor.post([done = std::move(done), result = std::move(result)]() mutable { done(std::move(result)); });
        });
    }

private:
    MemoryBroker m_inner;
    StepExecutor &m_executor;
};

class DeferredPresence final : public PresenceStore {
public:
    explicit DeferredPresence(StepExecutor &executor) : m_executor(executor) {}
    void add(std::string_view channel, const Member &member, std::string_view sessionId,
             std::function<void(bool)> done) override
    {
        m_inner.add(channel, member, sessionId, [this, done = std::move(done)](bool first) {
            m_executor.post([done, first] { done(first); });
        });
    }
    void remove(std::string_view channel, std::string_view userId, std::string_view sessionId,
                std::function<void(bool)> done) override
    {
        m_inner.remove(channel, userId, sessionId, [this, done = std::move(done)](bool last) {
            m_executor.post([done, last] { done(last); });
        });
    }
    void members(std::string_view channel, std::function<void(std::vector<Member>)> done) override
    {
        m_inner.members(channel, [this, done = std::move(done)](std::vector<Member> members) {
            m_executor.post([done, members = std::move(members)]() mutable { done(std::move(members)); });
        });
    }
    MemoryPresenceStore m_inner;

private:
    StepExecutor &m_executor;
};

} // namespace

class TestHub : public QObject
{
    Q_OBJECT

private slots:
    void sessionIdsAreUniqueAndUnguessable();
    void proposedIdsOfAnyLengthAreKept_data();
    void proposedIdsOfAnyLengthAreKept();
    void principalsAndClientNamesStayEachSessions();
    void channelLifecycle();
    void detachLeavesEveryChannel();
    void joinErrors_data();
    void joinErrors();
    void joinTwiceIsIdempotent();
    void authorization_data();
    void authorization();
    void authorizerSeesRequest();
    void broadcastSharesOneFrame();
    void broadcastExceptSkipsSender();
    void publishExceptSession();
    void broadcastBinary();
    void sendTo();
    void publishRejectsBadNames_data();
    void publishRejectsBadNames();
    void publishWithoutSubscribersIsStored();
    void countersAndStats();
    void encoding();
    void deferredEnginesJoin();
    void detachDuringPendingJoin_data();
    void detachDuringPendingJoin();
    void closedHubRefusesAttachAndJoin();
    void publicationDuringJoinReachesNewcomer_data();
    void publicationDuringJoinReachesNewcomer();
    void heldPublicationsOverflowTellsNewcomerToRecover();
};

void TestHub::sessionIdsAreUniqueAndUnguessable()
{
    ManualTimer timer;
    Hub hub(timer);
    std::set<std::string> ids;
    for (int i = 0; i < 200; ++i) {
        const std::string id = hub.attach(std::make_shared<RecordingSession>(OutboxLimits{}));
        QCOMPARE(id.size(), std::size_t(32)); // 128 bits in hex
        QVERIFY(id.find_first_not_of("0123456789abcdef") == std::string::npos);
        ids.insert(id);
    }
    QCOMPARE(ids.size(), std::size_t(200));
    QCOMPARE(hub.counters().sessions, std::size_t(200));
}

void TestHub::proposedIdsOfAnyLengthAreKept_data()
{
    // The Hub keeps ids of up to 32 characters inside the session's entry, longer ones apart.
    QTest::addColumn<QString>("proposed");
    QTest::newRow("short") << "123.456";
    QTest::newRow("32 characters") << QString(32, QLatin1Char('a'));
    QTest::newRow("33 characters") << QString(33, QLatin1Char('b'));
    QTest::newRow("200 characters") << QString(200, QLatin1Char('c'));
}

void TestHub::proposedIdsOfAnyLengthAreKept()
{
    QFETCH(QString, proposed);
    const std::string wanted = proposed.toStdString();
    ManualTimer timer;
    Hub hub(timer);
    auto session = std::make_shared<RecordingSession>(OutboxLimits{});
    const std::string id = hub.attach(session, Principal{}, "", wanted);
    QCOMPARE(id, wanted);
    QCOMPARE(std::string(hub.attachedId(id)), wanted);
    // Another session with the same proposal gets a fresh id; both are found and leave.
    const std::string other = hub.attach(std::make_shared<RecordingSession>(OutboxLimits{}), Principal{}, "", wanted);
    QVERIFY(other != wanted);
    QVERIFY(!joinNow(hub, id, "room").error);
    QVERIFY(hub.isSubscribed(id, "room"));
    QCOMPARE(hub.sessionStats(id)->channels, std::size_t(1));
    hub.detach(id);
    hub.detach(other);
    QCOMPARE(hub.counters().sessions, std::size_t(0));
    QVERIFY(hub.attachedId(id).empty());
}

// The Hub keeps no principal for an anonymous session and one copy of each client name for all
// the sessions that sent it (the footprint test counts the bytes); each session still answers
// with its own, before and after others with the same name leave.
void TestHub::principalsAndClientNamesStayEachSessions()
{
    ManualTimer timer;
    Hub hub(timer);
    const auto attach = [&](Principal principal, std::string_view name) {
        return hub.attach(std::make_shared<RecordingSession>(OutboxLimits{}), std::move(principal), name);
    };
    Principal alice;
    alice.userId = "alice";
    Principal patternsOnly;
    patternsOnly.channelPatterns = {"private-alice.*"};
    const std::string a = attach(alice, "dash/1");
    const std::string b = attach({}, "dash/1");
    const std::string c = attach(patternsOnly, "panel/2");
    const std::string d = attach({}, "");

    QCOMPARE(hub.principal(a)->userId, std::string("alice"));
    QVERIFY(hub.principal(b) && hub.principal(b)->userId.empty() && hub.principal(b)->channelPatterns.empty());
    QCOMPARE(hub.principal(c)->channelPatterns, std::vector<std::string>{"private-alice.*"});
    QCOMPARE(hub.principal(d)->userId, std::string());
    QCOMPARE(hub.clientName(a), std::string_view("dash/1"));
    QCOMPARE(hub.clientName(b), std::string_view("dash/1"));
    QCOMPARE(hub.clientName(c), std::string_view("panel/2"));
    QCOMPARE(hub.clientName(d), std::string_view());

    // The authorizer sees each session's own.
    std::vector<std::string> asked;
    hub.setAsyncAuthorizer([&](const AuthRequest &request, AuthAnswer answer) {
        asked.push_back(request.principal.userId + '|' + std::string(request.clientName));
        answer(AuthDecision{true});
    });
    QVERIFY(!joinNow(hub, a, "private-room").error);
    QVERIFY(!joinNow(hub, b, "private-room").error);
    QCOMPARE(asked, (std::vector<std::string>{"alice|dash/1", "|dash/1"}));

    // The first holder of a name leaves: the others keep it, and a newcomer gets it again.
    hub.detach(a);
    QVERIFY(!hub.principal(a));
    QCOMPARE(hub.clientName(a), std::string_view());
    QCOMPARE(hub.clientName(b), std::string_view("dash/1"));
    hub.detach(b);
    const std::string e = attach({}, "dash/1");
    QCOMPARE(hub.clientName(e), std::string_view("dash/1"));
    QCOMPARE(hub.clientName(c), std::string_view("panel/2"));
}

void TestHub::channelLifecycle()
{
    ManualTimer timer;
    Hub hub(timer);
    const auto a = hub.attach(std::make_shared<RecordingSession>(OutboxLimits{}));
    const auto b = hub.attach(std::make_shared<RecordingSession>(OutboxLimits{}));
    QCOMPARE(hub.counters().channels, std::size_t(0));

    QVERIFY(!joinNow(hub, a, "news").error);
    QCOMPARE(hub.counters().channels, std::size_t(1));
    QCOMPARE(hub.subscriberCount("news"), std::size_t(1));
    QVERIFY(hub.isSubscribed(a, "news"));
    QVERIFY(!hub.isSubscribed(b, "news"));

    QVERIFY(!joinNow(hub, b, "news").error);
    QCOMPARE(hub.subscriberCount("news"), std::size_t(2));
    QCOMPARE(hub.counters().channels, std::size_t(1));

    QCOMPARE(hub.leave(a, "news"), std::error_code());
    QCOMPARE(hub.subscriberCount("news"), std::size_t(1));
    QCOMPARE(hub.leave(a, "news"), make_error_code(Error::NotFound));
    QCOMPARE(hub.leave(b, "news"), std::error_code());
    QCOMPARE(hub.subscriberCount("news"), std::size_t(0));
    QCOMPARE(hub.counters().channels, std::size_t(0)); // destroyed when empty
    QVERIFY(hub.channels().empty());

    // Recreated lazily.
    QVERIFY(!joinNow(hub, b, "news").error);
    QCOMPARE(hub.counters().channels, std::size_t(1));
}

void TestHub::detachLeavesEveryChannel()
{
    ManualTimer timer;
    Hub hub(timer);
    auto stay = std::make_shared<RecordingSession>(OutboxLimits{});
    const auto a = hub.attach(std::make_shared<RecordingSession>(OutboxLimits{}));
    const auto b = hub.attach(stay);
    for (const char *channel : {"one", "two", "three", "four"})
        QVERIFY(!joinNow(hub, a, channel).error);
    QVERIFY(!joinNow(hub, b, "two").error);
    QCOMPARE(hub.counters().channels, std::size_t(4));
    QCOMPARE(hub.sessionStats(a)->channels, std::size_t(4));

    hub.detach(a);
    QVERIFY(!hub.sessionStats(a));
    QCOMPARE(hub.counters().sessions, std::size_t(1));
    QCOMPARE(hub.counters().channels, std::size_t(1));
    QCOMPARE(hub.subscriberCount("two"), std::size_t(1));
    QVERIFY(hub.isSubscribed(b, "two"));
    hub.detach(a); // unknown now: no effect
    hub.broadcast("two", "ping", "1");
    QCOMPARE(stay->frames.size(), std::size_t(1));
}

void TestHub::joinErrors_data()
{
    QTest::addColumn<QByteArray>("channel");
    QTest::addColumn<bool>("joinTwice");
    QTest::addColumn<std::size_t>("channelLimit");
    QTest::addColumn<std::error_code>("expected");

    const std::error_code invalid = Error::InvalidName;
    QTest::newRow("empty") << QByteArray("") << false << std::size_t(8) << invalid;
    QTest::newRow("wildcard") << QByteArray("news/*") << false << std::size_t(8) << invalid;
    QTest::newRow("space") << QByteArray("a b") << false << std::size_t(8) << invalid;
    QTest::newRow("bare presence prefix") << QByteArray("presence-") << false << std::size_t(8) << invalid;
    QTest::newRow("bare private prefix") << QByteArray("private-") << false << std::size_t(8) << invalid;
    QTest::newRow("prefix then slash") << QByteArray("private-/x") << false << std::size_t(8) << invalid;
    QTest::newRow("twice, another filter") << QByteArray("news") << true << std::size_t(8)
                                           << std::error_code(Error::AlreadySubscribed);
    QTest::newRow("limit") << QByteArray("news") << false << std::size_t(2) << std::error_code(Error::ChannelLimit);
}

void TestHub::joinErrors()
{
    QFETCH(QByteArray, channel);
    QFETCH(bool, joinTwice);
    QFETCH(std::size_t, channelLimit);
    QFETCH(std::error_code, expected);

    ManualTimer timer;
    HubOptions options;
    options.maxChannelsPerSession = channelLimit;
    Hub hub(timer, options);
    const auto id = hub.attach(std::make_shared<RecordingSession>(OutboxLimits{}));
    const std::string name = channel.toStdString();
    if (joinTwice)
        QVERIFY(!joinNow(hub, id, name).error);
    if (expected == make_error_code(Error::ChannelLimit)) {
        QVERIFY(!joinNow(hub, id, "other-1").error);
        QVERIFY(!joinNow(hub, id, "other-2").error);
    }
    const auto channelsBefore = hub.counters().channels;
    JoinRequest request;
    if (joinTwice) {
        std::string problem;
        request.filter = std::make_shared<const ContentFilter>(*ContentFilter::parse({"kind=x"}, problem));
    }
    QCOMPARE(joinNow(hub, id, name, request).error, expected);
    QCOMPARE(hub.counters().channels, channelsBefore);
    QCOMPARE(joinNow(hub, "no-such-session", "news").error, make_error_code(Error::NotFound));
}

void TestHub::joinTwiceIsIdempotent()
{
    ManualTimer timer;
    Hub hub(timer);
    hub.setAuthorizer([](const AuthRequest &) {
        AuthDecision decision;
        decision.allowed = true;
        return decision;
    });
    auto session = std::make_shared<RecordingSession>();
    auto other = std::make_shared<RecordingSession>();
    const auto id = hub.attach(session, Principal{"ann", {}, {}});
    const auto otherId = hub.attach(other, Principal{"bo", {}, {}});
    std::string problem;
    JoinRequest filtered;
    filtered.filter = std::make_shared<const ContentFilter>(*ContentFilter::parse({"kind=x"}, problem));
    QVERIFY(!joinNow(hub, id, "news", filtered).error);
    hub.broadcast("news", "e", R"({"kind":"x"})");
    hub.broadcast("news", "e", R"({"kind":"y"})");

    // Again, with an equal filter (another object, same conditions): success at the top.
    JoinRequest same;
    same.filter = std::make_shared<const ContentFilter>(*ContentFilter::parse({"kind=x"}, problem));
    const JoinResult again = joinNow(hub, id, "news", same);
    QVERIFY(!again.error);
    QCOMPARE(again.position.offset, std::uint64_t(2));
    QVERIFY(!again.position.epoch.empty());
    QVERIFY(again.missed.empty());
    QCOMPARE(hub.subscriberCount("news"), std::size_t(1));
    QCOMPARE(hub.sessionStats(id)->channels, std::size_t(1));
    session->frames.clear();
    hub.broadcast("news", "e", R"({"kind":"x"})");
    QCOMPARE(session->frames.size(), std::size_t(1));
    // Without a filter while subscribed with one: refused, the subscription is unchanged.
    QCOMPARE(joinNow(hub, id, "news").error, make_error_code(Error::AlreadySubscribed));

    // Presence: the roster again, no member_added for anybody.
    QVERIFY(!joinNow(hub, id, "presence-room").error);
    QVERIFY(!joinNow(hub, otherId, "presence-room").error);
    const auto otherPresence = other->presenceFrames().size();
    const JoinResult rejoined = joinNow(hub, id, "presence-room");
    QVERIFY(!rejoined.error);
    QCOMPARE(rejoined.type, ChannelType::Presence);
    QCOMPARE(rejoined.roster.size(), std::size_t(2));
    QVERIFY(!rejoined.announced);
    QCOMPARE(other->presenceFrames().size(), otherPresence);
    QCOMPARE(hub.subscriberCount("presence-room"), std::size_t(2));
    // Leaving once leaves for good.
    QVERIFY(!hub.leave(id, "presence-room"));
    QCOMPARE(hub.leave(id, "presence-room"), make_error_code(Error::NotFound));
}

void TestHub::authorization_data()
{
    QTest::addColumn<QByteArray>("channel");
    QTest::addColumn<int>("authorizer"); // 0 none, 1 denies, 2 allows
    QTest::addColumn<std::error_code>("expected");

    const std::error_code ok;
    const std::error_code denied = Error::Unauthorized;
    QTest::newRow("public, no authorizer") << QByteArray("news") << 0 << ok;
    QTest::newRow("public, authorizer denies (not asked)") << QByteArray("news") << 1 << ok;
    QTest::newRow("private, no authorizer") << QByteArray("private-billing") << 0 << denied;
    QTest::newRow("private, denied") << QByteArray("private-billing") << 1 << denied;
    QTest::newRow("private, allowed") << QByteArray("private-billing") << 2 << ok;
    QTest::newRow("presence, no authorizer") << QByteArray("presence-room") << 0 << denied;
    QTest::newRow("presence, denied") << QByteArray("presence-room") << 1 << denied;
    QTest::newRow("presence, allowed") << QByteArray("presence-room") << 2 << ok;
}

void TestHub::authorization()
{
    QFETCH(QByteArray, channel);
    QFETCH(int, authorizer);
    QFETCH(std::error_code, expected);

    ManualTimer timer;
    Hub hub(timer);
    int asked = 0;
    if (authorizer != 0) {
        hub.setAuthorizer([&, allow = authorizer == 2](const AuthRequest &) {
            ++asked;
            return AuthDecision{allow, {}, {}};
        });
    }
    const auto id = hub.attach(std::make_shared<RecordingSession>(OutboxLimits{}));
    const JoinResult result = joinNow(hub, id, channel.toStdString());
    QCOMPARE(result.error, expected);
    QCOMPARE(hub.isSubscribed(id, channel.toStdString()), !expected);
    QCOMPARE(hub.counters().authFailures, std::uint64_t(expected ? 1 : 0));
    QCOMPARE(hub.counters().channels, std::size_t(expected ? 0 : 1));
    const bool isPublic = channelTypeOf(channel.toStdString()) == ChannelType::Public;
    QCOMPARE(asked, (authorizer != 0 && !isPublic) ? 1 : 0);
    QCOMPARE(result.type, channelTypeOf(channel.toStdString()));
}

void TestHub::authorizerSeesRequest()
{
    ManualTimer timer;
    Hub hub(timer);
    std::string seenChannel, seenSession, seenAuth, seenUser;
    ChannelType seenType = ChannelType::Public;
    hub.setAuthorizer([&](const AuthRequest &request) {
        seenChannel = std::string(request.channel);
        seenSession = std::string(request.sessionId);
        seenAuth = std::string(request.auth);
        seenUser = request.principal.userId;
        seenType = request.type;
        return AuthDecision{request.auth == "secret", {}, {}};
    });
    const auto id = hub.attach(std::make_shared<RecordingSession>(OutboxLimits{}), Principal{"u7", {}, {}});
    JoinRequest request;
    request.auth = "wrong";
    QCOMPARE(joinNow(hub, id, "private-x", request).error, make_error_code(Error::Unauthorized));
    request.auth = "secret";
    QVERIFY(!joinNow(hub, id, "private-x", request).error);
    QCOMPARE(seenChannel, std::string("private-x"));
    QCOMPARE(seenSession, id);
    QCOMPARE(seenAuth, std::string("secret"));
    QCOMPARE(seenUser, std::string("u7"));
    QCOMPARE(seenType, ChannelType::Private);
    QCOMPARE(hub.principal(id)->userId, std::string("u7"));
    QVERIFY(!hub.principal("nobody"));
}

void TestHub::broadcastSharesOneFrame()
{
    ManualTimer timer;
    Hub hub(timer);
    std::vector<std::shared_ptr<RecordingSession>> sessions;
    for (int i = 0; i < 5; ++i) {
        sessions.push_back(std::make_shared<RecordingSession>(OutboxLimits{}));
        QVERIFY(!joinNow(hub, hub.attach(sessions.back()), "orders").error);
    }
    auto outsider = std::make_shared<RecordingSession>(OutboxLimits{});
    QVERIFY(!joinNow(hub, hub.attach(outsider), "other").error);

    hub.broadcast("orders", "created", R"({"id":42,"tags":["a","b"]})");
    const SharedFrame first = sessions.front()->frames.at(0);
    for (const auto &session : sessions) {
        QCOMPARE(session->frames.size(), std::size_t(1));
        QCOMPARE(session->frames.front().get(), first.get()); // encoded once, shared
    }
    QVERIFY(outsider->frames.empty());

    const auto message = sessions.front()->json(0);
    QCOMPARE(message.at("op").as_string(), "message");
    QCOMPARE(message.at("channel").as_string(), "orders");
    QCOMPARE(message.at("event").as_string(), "created");
    QCOMPARE(message.at("data").at("id").as_int64(), 42);
    QCOMPARE(message.at("offset").as_int64(), 1);
    QCOMPARE(message.at("ts").as_int64(), timer.wallClockMs());
    QVERIFY(!message.contains("sender")); // server publish
    // The payload is copied verbatim, not re-serialized.
    QVERIFY(first->bytes.find(R"("data":{"id":42,"tags":["a","b"]})") != std::string::npos);
    QCOMPARE(first->kind, Frame::Kind::Text);
    QCOMPARE(hub.counters().framesOut, std::uint64_t(5));
    QCOMPARE(hub.counters().bytesOut, std::uint64_t(5 * first->bytes.size()));
}

void TestHub::broadcastExceptSkipsSender()
{
    ManualTimer timer;
    Hub hub(timer);
    auto sender = std::make_shared<RecordingSession>(OutboxLimits{});
    auto other = std::make_shared<RecordingSession>(OutboxLimits{});
    const auto senderId = hub.attach(sender);
    QVERIFY(!joinNow(hub, senderId, "chat").error);
    QVERIFY(!joinNow(hub, hub.attach(other), "chat").error);

    hub.broadcastExcept("chat", "typing", "true", senderId);
    QVERIFY(sender->frames.empty());
    QCOMPARE(other->frames.size(), std::size_t(1));
    hub.broadcastExcept("chat", "typing", "false", "unknown-session");
    QCOMPARE(sender->frames.size(), std::size_t(1));
    QCOMPARE(other->frames.size(), std::size_t(2));
}

void TestHub::publishExceptSession()
{
    ManualTimer timer;
    Hub hub(timer);
    auto sender = std::make_shared<RecordingSession>(OutboxLimits{});
    auto other = std::make_shared<RecordingSession>(OutboxLimits{});
    const auto senderId = hub.attach(sender);
    QVERIFY(!joinNow(hub, senderId, "chat").error);
    QVERIFY(!joinNow(hub, hub.attach(other), "chat").error);

    Publication publication;
    publication.channel = "chat";
    publication.event = "said";
    publication.data = R"("hi")";
    publication.sender = senderId;
    publication.exceptSession = senderId;
    std::error_code error = Error::Internal;
    StreamPosition position;
    hub.publish(publication, [&](std::error_code e, StreamPosition p) {
        error = e;
        position = std::move(p);
    });
    QVERIFY(!error);
    QCOMPARE(position.offset, std::uint64_t(1));
    QVERIFY(!position.epoch.empty());
    QVERIFY(sender->frames.empty());
    QCOMPARE(other->frames.size(), std::size_t(1));
    QCOMPARE(other->json(0).at("sender").as_string(), senderId.c_str());
}

void TestHub::broadcastBinary()
{
    ManualTimer timer;
    Hub hub(timer);
    auto a = std::make_shared<RecordingSession>(OutboxLimits{});
    auto b = std::make_shared<RecordingSession>(OutboxLimits{});
    QVERIFY(!joinNow(hub, hub.attach(a), "cam").error);
    QVERIFY(!joinNow(hub, hub.attach(b), "cam").error);
    const std::string payload("\x00\xff\x10", 3);
    hub.broadcastBinary("cam", "jpeg", payload);
    QCOMPARE(a->frames.size(), std::size_t(1));
    QCOMPARE(a->frames[0].get(), b->frames[0].get());
    QCOMPARE(a->frames[0]->kind, Frame::Kind::Binary);
    const std::string expected = std::string("\x01\x00\x03", 3) + "cam" + std::string("\x00\x04", 2) + "jpeg" + payload;
    QCOMPARE(a->frames[0]->bytes, expected);

    // Binary payloads are not kept in history.
    HistoryResult history;
    hub.history("cam", {}, [&](HistoryResult r) { history = std::move(r); });
    QVERIFY(history.publications.empty());
}

void TestHub::sendTo()
{
    ManualTimer timer;
    Hub hub(timer);
    auto a = std::make_shared<RecordingSession>(OutboxLimits{});
    auto b = std::make_shared<RecordingSession>(OutboxLimits{});
    const auto idA = hub.attach(a);
    hub.attach(b);
    const auto frame = makeTextFrame(R"({"op":"ping"})");
    QCOMPARE(hub.sendTo(idA, frame), SendResult::Ok);
    QCOMPARE(a->frames.size(), std::size_t(1));
    QCOMPARE(a->frames[0].get(), frame.get());
    QVERIFY(b->frames.empty());
    QCOMPARE(hub.sendTo("unknown", frame), SendResult::Dropped);
    QCOMPARE(hub.sessionStats(idA)->framesOut, std::uint64_t(1));
    QCOMPARE(hub.counters().framesOut, std::uint64_t(1));
}

void TestHub::publishRejectsBadNames_data()
{
    QTest::addColumn<QByteArray>("channel");
    QTest::addColumn<QByteArray>("event");
    QTest::newRow("bad channel") << QByteArray("a//b") << QByteArray("ok");
    QTest::newRow("wildcard channel") << QByteArray("a/**") << QByteArray("ok");
    QTest::newRow("empty event") << QByteArray("news") << QByteArray("");
    QTest::newRow("event with empty segment") << QByteArray("news") << QByteArray("a..b");
    QTest::newRow("event with quote") << QByteArray("news") << QByteArray("a\"b");
}

void TestHub::publishRejectsBadNames()
{
    QFETCH(QByteArray, channel);
    QFETCH(QByteArray, event);
    ManualTimer timer;
    Hub hub(timer);
    Publication publication;
    publication.channel = channel.toStdString();
    publication.event = event.toStdString();
    publication.data = "1";
    std::error_code error;
    hub.publish(publication, [&](std::error_code e, StreamPosition) { error = e; });
    QCOMPARE(error, make_error_code(Error::InvalidName));
    QCOMPARE(hub.counters().publications, std::uint64_t(0));
}

void TestHub::publishWithoutSubscribersIsStored()
{
    ManualTimer timer;
    Hub hub(timer);
    hub.broadcast("quiet", "tick", "1");
    hub.broadcast("quiet", "tick", "2");
    HistoryResult history;
    hub.history("quiet", {}, [&](HistoryResult r) { history = std::move(r); });
    QCOMPARE(history.publications.size(), std::size_t(2));
    QCOMPARE(history.publications[1].data, std::string("2"));
    QCOMPARE(history.top.offset, std::uint64_t(2));
    QCOMPARE(hub.counters().channels, std::size_t(0));

    // A join reports the stream top as its recovery start.
    const auto id = hub.attach(std::make_shared<RecordingSession>(OutboxLimits{}));
    const JoinResult result = joinNow(hub, id, "quiet");
    QCOMPARE(result.position, history.top);
    QVERIFY(!result.recoveryRequested);
    QVERIFY(result.missed.empty());
}

void TestHub::countersAndStats()
{
    ManualTimer timer;
    Hub hub(timer);
    const auto a = hub.attach(std::make_shared<RecordingSession>(OutboxLimits{}));
    const auto b = hub.attach(std::make_shared<RecordingSession>(OutboxLimits{}));
    QVERIFY(!joinNow(hub, a, "x").error);
    QVERIFY(!joinNow(hub, b, "x").error);
    QVERIFY(!joinNow(hub, a, "y").error);
    hub.broadcast("x", "e", "1");
    hub.broadcast("x", "e", "2");
    hub.broadcast("y", "e", "3");
    hub.countFrameIn();
    hub.countFrameIn();
    hub.countAuthFailure();

    const HubCounters counters = hub.counters();
    QCOMPARE(counters.sessions, std::size_t(2));
    QCOMPARE(counters.channels, std::size_t(2));
    QCOMPARE(counters.framesIn, std::uint64_t(2));
    QCOMPARE(counters.framesOut, std::uint64_t(5));
    QCOMPARE(counters.publications, std::uint64_t(3));
    QCOMPARE(counters.authFailures, std::uint64_t(1));
    QCOMPARE(counters.drops, std::uint64_t(0));

    const auto channels = hub.channels();
    QCOMPARE(channels.size(), std::size_t(2));
    QCOMPARE(channels[0].name, std::string("x"));
    QCOMPARE(channels[0].subscribers, std::size_t(2));
    QCOMPARE(channels[0].published, std::uint64_t(2));
    QCOMPARE(channels[1].published, std::uint64_t(1));
    QCOMPARE(hub.sessionStats(a)->framesOut, std::uint64_t(3));
    QCOMPARE(hub.sessionStats(b)->framesOut, std::uint64_t(2));
    QCOMPARE(hub.sessionStats(a)->channels, std::size_t(2));
}

void TestHub::encoding()
{
    Publication publication;
    publication.channel = "chat/room-1";
    publication.event = "said";
    publication.data = R"({"text":"a \"quoted\" word"})";
    publication.offset = 7;
    publication.timestampMs = 1700000000123;
    publication.sender = "abc";
    std::string object;
    appendPublicationObject(object, publication);
    const auto parsed = boost::json::parse(object).as_object();
    QVERIFY(!parsed.contains("op"));
    QCOMPARE(parsed.at("data").at("text").as_string(), "a \"quoted\" word");
    QCOMPARE(parsed.at("offset").as_int64(), 7);
    QCOMPARE(parsed.at("ts").as_int64(), 1700000000123);
    QCOMPARE(parsed.at("sender").as_string(), "abc");

    // An empty payload still makes a valid frame.
    publication.data.clear();
    const auto frame = boost::json::parse(encodeMessageFrame(publication)->bytes).as_object();
    QVERIFY(frame.at("data").is_null());
    QCOMPARE(frame.at("op").as_string(), "message");

    std::string quoted;
    appendJsonString(quoted, std::string_view("tab\t\"q\"\\ \x01", 10));
    QCOMPARE(boost::json::parse(quoted).as_string(), std::string_view("tab\t\"q\"\\ \x01", 10));

    const Member member{"u1", R"({"name":"Ada"})", 1};
    const auto change = boost::json::parse(encodePresenceChangeFrame("presence:member_added", "presence-r", member)->bytes);
    QCOMPARE(change.at("member").at("info").at("name").as_string(), "Ada");
    QCOMPARE(change.at("event").as_string(), "presence:member_added");

    QVERIFY_THROWS_EXCEPTION(std::length_error, encodeBinaryFrame(std::string(70000, 'c'), "e", "x"));

    // The client reads binary frames back with decodeBinaryFrame().
    const std::string binary = encodeBinaryFrame("cam/1", "jpeg", std::string("\0\xff\x01", 3))->bytes;
    const auto parts = decodeBinaryFrame(binary);
    QVERIFY(parts);
    QCOMPARE(parts->channel, std::string_view("cam/1"));
    QCOMPARE(parts->event, std::string_view("jpeg"));
    QCOMPARE(parts->bytes, std::string_view("\0\xff\x01", 3));
    QVERIFY(!decodeBinaryFrame(binary.substr(0, 7)));               // channel cut short
    QVERIFY(!decodeBinaryFrame(binary.substr(0, 3 + 5 + 1)));       // event length cut short
    QVERIFY(!decodeBinaryFrame("\x02" + binary.substr(1)));         // not tag 0x01
    QVERIFY(decodeBinaryFrame(encodeBinaryFrame("c", "", "")->bytes)); // empty event and payload
}

void TestHub::deferredEnginesJoin()
{
    ManualTimer timer;
    StepExecutor executor;
    DeferredBroker broker(timer, executor);
    DeferredPresence presence(executor);
    Hub hub(timer, HubOptions{}, broker, presence);
    hub.setAuthorizer([](const AuthRequest &r) { return AuthDecision{true, std::string(r.auth), "null"}; });
    auto ada = std::make_shared<RecordingSession>(OutboxLimits{});
    auto bob = std::make_shared<RecordingSession>(OutboxLimits{});
    const auto adaId = hub.attach(ada);
    const auto bobId = hub.attach(bob);

    std::vector<JoinResult> results;
    JoinRequest request;
    request.auth = "ada";
    hub.join(adaId, "presence-room", request, [&](JoinResult r) { results.push_back(std::move(r)); });
    QVERIFY(results.empty()); // waiting for the engines
    QVERIFY(!hub.isSubscribed(adaId, "presence-room"));
    // A second join of the same channel while the first is pending is refused.
    hub.join(adaId, "presence-room", request, [&](JoinResult r) { results.push_back(std::move(r)); });
    QCOMPARE(results.size(), std::size_t(1));
    QCOMPARE(results[0].error, make_error_code(Error::AlreadySubscribed));
    executor.runPending();
    QCOMPARE(results.size(), std::size_t(2));
    QVERIFY(!results[1].error);
    QCOMPARE(results[1].roster.size(), std::size_t(1));
    QVERIFY(hub.isSubscribed(adaId, "presence-room"));

    request.auth = "bob";
    hub.join(bobId, "presence-room", request, [&](JoinResult r) { results.push_back(std::move(r)); });
    executor.runPending();
    QCOMPARE(results.size(), std::size_t(3));
    QCOMPARE(results[2].roster.size(), std::size_t(2));
    QCOMPARE(ada->frames.size(), std::size_t(1)); // member_added for bob
    hub.detach(bobId);
    executor.runPending();
    QCOMPARE(ada->frames.size(), std::size_t(2)); // member_removed for bob
    QVERIFY(ada->frames[1]->bytes.find("presence:member_removed") != std::string::npos);
}

void TestHub::detachDuringPendingJoin_data()
{
    QTest::addColumn<int>("stepsBeforeDetach"); // engine callbacks run before the session goes
    QTest::addColumn<bool>("byLeave");
    QTest::newRow("before presence add answers") << 0 << false;
    QTest::newRow("before roster answers") << 1 << false;
    QTest::newRow("before history answers") << 2 << false;
    QTest::newRow("leave before history answers") << 2 << true;
}

void TestHub::detachDuringPendingJoin()
{
    QFETCH(int, stepsBeforeDetach);
    QFETCH(bool, byLeave);
    ManualTimer timer;
    StepExecutor executor;
    DeferredBroker broker(timer, executor);
    DeferredPresence presence(executor);
    Hub hub(timer, HubOptions{}, broker, presence);
    hub.setAuthorizer([](const AuthRequest &r) { return AuthDecision{true, std::string(r.auth), "null"}; });
    std::vector<PresenceEvent> events;
    hub.setPresenceHook([&](const PresenceEvent &e) { events.push_back(e); });

    auto watcher = std::make_shared<RecordingSession>(OutboxLimits{});
    const auto watcherId = hub.attach(watcher);
    JoinRequest request;
    request.auth = "watcher";
    hub.join(watcherId, "presence-room", request, [](JoinResult) {});
    executor.runPending();

    const auto goneId = hub.attach(std::make_shared<RecordingSession>(OutboxLimits{}));
    std::vector<JoinResult> results;
    request.auth = "gone";
    hub.join(goneId, "presence-room", request, [&](JoinResult r) { results.push_back(std::move(r)); });
    for (int i = 0; i < stepsBeforeDetach; ++i) {
        QCOMPARE(executor.pendingCount(), std::size_t(1));
        QVERIFY(executor.runOne()); // one engine answer; it posts the next request
    }
    QCOMPARE(executor.pendingCount(), std::size_t(1));
    QVERIFY(results.empty());
    if (byLeave)
        QCOMPARE(hub.leave(goneId, "presence-room"), std::error_code());
    else
        hub.detach(goneId);
    executor.runPending();

    QCOMPARE(results.size(), std::size_t(1));
    QCOMPARE(results[0].error, make_error_code(Error::Cancelled));
    std::vector<Member> members;
    presence.m_inner.members("presence-room", [&](std::vector<Member> m) { members = std::move(m); });
    QCOMPARE(members.size(), std::size_t(1)); // only the watcher: the half-made join was undone
    QCOMPARE(members[0].userId, std::string("watcher"));
    QCOMPARE(hub.subscriberCount("presence-room"), std::size_t(1));
    QCOMPARE(hub.counters().channels, std::size_t(1));
    // Whoever was told that `gone` arrived is told that it left.
    const bool added = std::any_of(events.begin(), events.end(), [](const PresenceEvent &e) {
        return e.kind == PresenceEvent::Kind::Joined && e.member.userId == "gone";
    });
    const bool removed = std::any_of(events.begin(), events.end(), [](const PresenceEvent &e) {
        return e.kind == PresenceEvent::Kind::Left && e.member.userId == "gone";
    });
    QCOMPARE(removed, added);
    QCOMPARE(added, stepsBeforeDetach >= 1);
}

void TestHub::publicationDuringJoinReachesNewcomer_data()
{
    QTest::addColumn<bool>("recover");
    QTest::newRow("recovering join") << true;
    QTest::newRow("plain join") << false;
}

// A network broker answers the join's history read later, and its live deliveries travel on
// another connection: a publication stored after the read was taken can reach the Hub before
// the read's answer. The newcomer must still get it, once, after what the read returned.
void TestHub::publicationDuringJoinReachesNewcomer()
{
    QFETCH(bool, recover);
    ManualTimer timer;
    StepExecutor executor;
    DeferredBroker broker(timer, executor);
    MemoryPresenceStore presence;
    Hub hub(timer, HubOptions{}, broker, presence);
    auto watcher = std::make_shared<RecordingSession>();
    const auto watcherId = hub.attach(watcher);
    hub.join(watcherId, "ticks", {}, [](JoinResult) {});
    executor.runPending();
    StreamPosition first;
    hub.publish(Publication{.channel = "ticks", .event = "tick", .data = "1"},
                [&](std::error_code, StreamPosition p) { first = std::move(p); });
    QCOMPARE(first.offset, std::uint64_t(1));

    auto newcomer = std::make_shared<RecordingSession>();
    const auto newcomerId = hub.attach(newcomer);
    JoinRequest request;
    if (recover)
        request.recover = StreamPosition{0, first.epoch};
    std::vector<JoinResult> results;
    hub.join(newcomerId, "ticks", request, [&](JoinResult r) { results.push_back(std::move(r)); });
    QCOMPARE(executor.pendingCount(), std::size_t(1)); // the history read, taken, not yet answered
    hub.broadcast("ticks", "tick", "2");               // stored after the read: offset 2
    hub.broadcast("ticks", "tick", "3");
    QVERIFY(results.empty());
    executor.runPending();

    QCOMPARE(results.size(), std::size_t(1));
    QVERIFY(!results[0].error);
    QCOMPARE(results[0].position.offset, std::uint64_t(1)); // what the read saw
    if (recover) {
        QCOMPARE(results[0].missed.size(), std::size_t(1));
        QVERIFY(results[0].recovered);
    }
    // After the join's answer: offsets 2 and 3, each once, in order.
    std::vector<std::uint64_t> offsets;
    for (std::size_t i = 0; i < newcomer->frames.size(); ++i)
        offsets.push_back(newcomer->json(i).at("offset").to_number<std::uint64_t>());
    QCOMPARE(offsets, (std::vector<std::uint64_t>{2, 3}));
    QCOMPARE(watcher->frames.size(), std::size_t(3));
    // Later publications arrive live, once.
    hub.broadcast("ticks", "tick", "4");
    QCOMPARE(newcomer->frames.size(), std::size_t(3));
    QCOMPARE(newcomer->json(2).at("offset").to_number<std::uint64_t>(), std::uint64_t(4));
}

// What a join holds while its read is on the way is bounded (HubOptions::joinHoldBytes); past it
// the newcomer cannot be given a complete stream, so it is told to recover (3007), and counted.
void TestHub::heldPublicationsOverflowTellsNewcomerToRecover()
{
    ManualTimer timer;
    StepExecutor executor;
    DeferredBroker broker(timer, executor);
    MemoryPresenceStore presence;
    HubOptions options;
    options.joinHoldBytes = 100;
    Hub hub(timer, options, broker, presence);
    auto newcomer = std::make_shared<RecordingSession>();
    const auto newcomerId = hub.attach(newcomer);
    std::vector<JoinResult> results;
    hub.join(newcomerId, "ticks", {}, [&](JoinResult r) { results.push_back(std::move(r)); });
    for (int i = 0; i < 5; ++i)
        hub.broadcast("ticks", "tick", "\"" + std::string(40, 'x') + "\"");
    executor.runPending();
    QCOMPARE(results.size(), std::size_t(1));
    QVERIFY(!results[0].error);
    QCOMPARE(newcomer->closes, (std::vector<DisconnectCode>{DisconnectCode::InsufficientState}));
    QCOMPARE(hub.counters().joinHoldOverflows, std::uint64_t(1));
    // The next join of the channel starts with an empty hold.
    auto other = std::make_shared<RecordingSession>();
    const auto otherId = hub.attach(other);
    hub.join(otherId, "ticks", {}, [](JoinResult) {});
    hub.broadcast("ticks", "tick", "1");
    executor.runPending();
    QVERIFY(other->closes.empty());
    QCOMPARE(other->frames.size(), std::size_t(1));
}

QTEST_APPLESS_MAIN(TestHub)
#include "tst_hub.moc"

void TestHub::closedHubRefusesAttachAndJoin()
{
    ManualTimer timer;
    Hub hub(timer);
    auto member = std::make_shared<RecordingSession>();
    const auto a = hub.attach(member);
    QVERIFY(!joinNow(hub, a, "news").error);
    QVERIFY(!hub.isClosed());

    hub.close();
    QVERIFY(hub.isClosed());
    // attach: refused, nothing registered.
    QVERIFY(hub.attach(std::make_shared<RecordingSession>()).empty());
    QCOMPARE(hub.counters().sessions, std::size_t(1));
    // join: refused with Closed, for a new channel and an authorized one alike.
    QCOMPARE(joinNow(hub, a, "other").error, make_error_code(Error::Closed));
    QCOMPARE(static_cast<int>(Error::Closed), 410);
    QCOMPARE(errorName(Error::Closed), std::string_view("closed"));
    QVERIFY(!hub.isSubscribed(a, "other"));
    QCOMPARE(hub.counters().channels, std::size_t(1));
    // Sessions still attached (being drained) keep receiving and may leave.
    hub.broadcast("news", "tick", "1");
    QCOMPARE(member->frames.size(), std::size_t(1));
    QCOMPARE(hub.leave(a, "news"), std::error_code());
    hub.detach(a);
    QCOMPARE(hub.counters().sessions, std::size_t(0));

    hub.reopen(); // a gateway that starts listening again
    QVERIFY(!hub.isClosed());
    const auto b = hub.attach(std::make_shared<RecordingSession>());
    QVERIFY(!b.empty());
    QVERIFY(!joinNow(hub, b, "other").error);
}
