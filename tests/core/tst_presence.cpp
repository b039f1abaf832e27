// Presence: MemoryPresenceStore rosters and the Hub's member_added / member_removed frames.
#include "switchboard/Hub.h"
#include "switchboard/MemoryBroker.h"
#include "switchboard/MemoryPresenceStore.h"
#include "switchboard/MessageEncoding.h"

#include "HubTestSupport.h"

#include <QtTest>

#include <boost/json.hpp>

#include <memory>
#include <string>
#include <vector>

using namespace switchboard;

namespace {

/// Lets every presence join in, as the user named by the `auth` credential (empty: no user).
AuthDecision allowAsAuthUser(const AuthRequest &request)
{
    return AuthDecision{true, std::string(request.auth), request.auth.empty() ? "" : R"({"name":")" + std::string(request.auth) + "\"}"};
}

/// Joins with an `auth` credential and presence `channelData`.
JoinResult joinNow(Hub &hub, const std::string &session, std::string_view channel, std::string_view auth,
                   std::string_view channelData = {})
{
    JoinRequest request;
    request.auth = auth;
    request.channelData = channelData;
    return joinNow(hub, session, channel, request);
}

/// A memory store that also plays "the other nodes": it remembers the handler the Hub set and
/// the test calls it as a cluster store would for transitions made elsewhere.
class ClusterLikeStore final : public PresenceStore {
public:
    void setHandler(PresenceHandler *h) override { handler = h; }
    void add(std::string_view channel, const Member &member, std::string_view sessionId,
             std::function<void(bool)> done) override
    {
        inner.add(channel, member, sessionId, std::move(done));
    }
    void remove(std::string_view channel, std::string_view userId, std::string_view sessionId,
                std::function<void(bool)> done) override
    {
        inner.remove(channel, userId, sessionId, std::move(done));
    }
    void members(std::string_view channel, std::function<void(std::vector<Member>)> done) override
    {
        inner.members(channel, std::move(done));
    }
    MemoryPresenceStore inner;
    PresenceHandler *handler = nullptr;
};

std::vector<std::string> userIds(const std::vector<Member> &members)
{
    std::vector<std::string> ids;
    for (const auto &member : members)
        ids.push_back(member.userId);
    return ids;
}

} // namespace

class TestPresence : public QObject
{
    Q_OBJECT

private slots:
    void storeCountsConnectionsPerUser();
    void storeIgnoresUnknownRemovals();
    void oneMemberPerUser();
    void detachFiresLeaves();
    void memberIdentity_data();
    void memberIdentity();
    void rosterFrameEncoding();
    void hookMayBroadcast();
    void externalEngines();
    void remoteTransitionsReachLocalSubscribers();
};

void TestPresence::storeCountsConnectionsPerUser()
{
    MemoryPresenceStore store;
    std::vector<bool> firsts;
    auto record = [&](bool first) { firsts.push_back(first); };
    store.add("presence-room", Member{"ada", R"({"n":1})", 0}, "s1", record);
    store.add("presence-room", Member{"ada", R"({"n":2})", 0}, "s2", record);
    store.add("presence-room", Member{"bob", "null", 0}, "s3", record);
    store.add("presence-room", Member{"ada", R"({"n":2})", 0}, "s2", record); // already counted
    QCOMPARE(firsts, (std::vector<bool>{true, false, true, false}));

    std::vector<Member> roster;
    store.members("presence-room", [&](std::vector<Member> m) { roster = std::move(m); });
    QCOMPARE(roster.size(), std::size_t(2));
    QCOMPARE(roster[0].userId, std::string("ada"));
    QCOMPARE(roster[0].connections, std::size_t(2));
    QCOMPARE(roster[0].info, std::string(R"({"n":2})"));
    QCOMPARE(roster[1].connections, std::size_t(1));

    std::vector<bool> lasts;
    auto recordLast = [&](bool last) { lasts.push_back(last); };
    store.remove("presence-room", "ada", "s1", recordLast);
    store.remove("presence-room", "ada", "s2", recordLast);
    store.remove("presence-room", "bob", "s3", recordLast);
    QCOMPARE(lasts, (std::vector<bool>{false, true, true}));
    QCOMPARE(store.channelCount(), std::size_t(0));
    store.members("presence-room", [&](std::vector<Member> m) { roster = std::move(m); });
    QVERIFY(roster.empty());
}

void TestPresence::storeIgnoresUnknownRemovals()
{
    MemoryPresenceStore store;
    store.add("presence-a", Member{"ada", "null", 0}, "s1", {});
    int calls = 0;
    bool last = true;
    auto record = [&](bool l) {
        ++calls;
        last = l;
    };
    store.remove("presence-b", "ada", "s1", record);
    QVERIFY(!last);
    store.remove("presence-a", "bob", "s1", record);
    QVERIFY(!last);
    store.remove("presence-a", "ada", "other-session", record);
    QVERIFY(!last);
    QCOMPARE(calls, 3);
    QCOMPARE(store.channelCount(), std::size_t(1));
}

void TestPresence::oneMemberPerUser()
{
    ManualTimer timer;
    Hub hub(timer);
    hub.setAuthorizer(allowAsAuthUser);
    std::vector<PresenceEvent> events;
    hub.setPresenceHook([&](const PresenceEvent &event) { events.push_back(event); });

    auto ada1 = std::make_shared<RecordingSession>();
    auto ada2 = std::make_shared<RecordingSession>();
    auto bob = std::make_shared<RecordingSession>();
    const auto ada1Id = hub.attach(ada1);
    const auto ada2Id = hub.attach(ada2);
    const auto bobId = hub.attach(bob);

    // First connection of ada: roster has her, nobody else to tell.
    JoinResult result = joinNow(hub, ada1Id, "presence-room", "ada");
    QVERIFY(!result.error);
    QCOMPARE(result.type, ChannelType::Presence);
    QCOMPARE(userIds(result.roster), (std::vector<std::string>{"ada"}));
    QCOMPARE(events.size(), std::size_t(1));
    QCOMPARE(events[0].kind, PresenceEvent::Kind::Joined);
    QCOMPARE(events[0].member.userId, std::string("ada"));
    QVERIFY(ada1->presenceFrames().empty()); // the newcomer's roster is sent by the caller

    // bob joins: ada is told, bob gets the roster with both.
    result = joinNow(hub, bobId, "presence-room", "bob");
    QCOMPARE(userIds(result.roster), (std::vector<std::string>{"ada", "bob"}));
    auto adaSaw = ada1->presenceFrames();
    QCOMPARE(adaSaw.size(), std::size_t(1));
    QCOMPARE(adaSaw[0].at("event").as_string(), "presence:member_added");
    QCOMPARE(adaSaw[0].at("channel").as_string(), "presence-room");
    QCOMPARE(adaSaw[0].at("member").at("id").as_string(), "bob");
    QCOMPARE(adaSaw[0].at("member").at("info").at("name").as_string(), "bob");
    QVERIFY(bob->presenceFrames().empty());

    // ada's second connection: no member_added, the roster still has one ada with 2 connections.
    result = joinNow(hub, ada2Id, "presence-room", "ada");
    QCOMPARE(userIds(result.roster), (std::vector<std::string>{"ada", "bob"}));
    QCOMPARE(result.roster[0].connections, std::size_t(2));
    QCOMPARE(ada1->presenceFrames().size(), std::size_t(1));
    QVERIFY(bob->presenceFrames().empty());
    QCOMPARE(events.size(), std::size_t(2));
    std::vector<Member> members;
    hub.members("presence-room", [&](std::vector<Member> m) { members = std::move(m); });
    QCOMPARE(members.size(), std::size_t(2));
    QCOMPARE(hub.subscriberCount("presence-room"), std::size_t(3));

    // ada leaves on one connection: she is still present.
    QVERIFY(!hub.leave(ada1Id, "presence-room"));
    QVERIFY(bob->presenceFrames().empty());
    QCOMPARE(events.size(), std::size_t(2));

    // ... and after the last one she is removed, for bob only.
    QVERIFY(!hub.leave(ada2Id, "presence-room"));
    const auto bobSaw = bob->presenceFrames();
    QCOMPARE(bobSaw.size(), std::size_t(1));
    QCOMPARE(bobSaw[0].at("event").as_string(), "presence:member_removed");
    QCOMPARE(bobSaw[0].at("member").at("id").as_string(), "ada");
    QCOMPARE(ada2->presenceFrames().size(), std::size_t(0));
    QCOMPARE(events.size(), std::size_t(3));
    QCOMPARE(events[2].kind, PresenceEvent::Kind::Left);
    QCOMPARE(events[2].member.userId, std::string("ada"));
    hub.members("presence-room", [&](std::vector<Member> m) { members = std::move(m); });
    QCOMPARE(userIds(members), (std::vector<std::string>{"bob"}));
}

void TestPresence::detachFiresLeaves()
{
    ManualTimer timer;
    Hub hub(timer);
    hub.setAuthorizer(allowAsAuthUser);
    std::vector<PresenceEvent> events;
    hub.setPresenceHook([&](const PresenceEvent &event) { events.push_back(event); });
    auto watcher = std::make_shared<RecordingSession>();
    const auto watcherId = hub.attach(watcher);
    const auto goneId = hub.attach(std::make_shared<RecordingSession>());
    for (const char *channel : {"presence-a", "presence-b"}) {
        QVERIFY(!joinNow(hub, watcherId, channel, "watcher").error);
        QVERIFY(!joinNow(hub, goneId, channel, "gone").error);
    }
    QVERIFY(!joinNow(hub, goneId, "plain").error);
    events.clear();
    const auto before = watcher->presenceFrames().size();

    hub.detach(goneId); // e.g. the socket dropped
    const auto frames = watcher->presenceFrames();
    QCOMPARE(frames.size() - before, std::size_t(2));
    QCOMPARE(frames[before].at("event").as_string(), "presence:member_removed");
    QCOMPARE(frames[before + 1].at("event").as_string(), "presence:member_removed");
    QCOMPARE(events.size(), std::size_t(2));
    std::vector<Member> members;
    hub.members("presence-a", [&](std::vector<Member> m) { members = std::move(m); });
    QCOMPARE(userIds(members), (std::vector<std::string>{"watcher"}));
    QCOMPARE(hub.counters().channels, std::size_t(2));
}

void TestPresence::memberIdentity_data()
{
    QTest::addColumn<QByteArray>("decisionUser");
    QTest::addColumn<QByteArray>("decisionInfo");
    QTest::addColumn<QByteArray>("principalUser");
    QTest::addColumn<QByteArray>("channelData");
    QTest::addColumn<QByteArray>("expectedUser"); // "<session>": the session id
    QTest::addColumn<QByteArray>("expectedInfo");

    QTest::newRow("authorizer decides") << QByteArray("ada") << QByteArray(R"({"a":1})") << QByteArray("p")
                                        << QByteArray(R"({"user_id":"c"})") << QByteArray("ada") << QByteArray(R"({"a":1})");
    QTest::newRow("principal") << QByteArray() << QByteArray() << QByteArray("p") << QByteArray(R"({"user_id":"c"})")
                               << QByteArray("p") << QByteArray(R"({"from":"token"})");
    QTest::newRow("channel data") << QByteArray() << QByteArray() << QByteArray()
                                  << QByteArray(R"({"user_id":"c","user_info":{"x":[1,2]}})") << QByteArray("c")
                                  << QByteArray(R"({"x":[1,2]})");
    QTest::newRow("numeric user id") << QByteArray() << QByteArray() << QByteArray() << QByteArray(R"({"user_id":17})")
                                     << QByteArray("17") << QByteArray("null");
    QTest::newRow("invalid channel data") << QByteArray() << QByteArray() << QByteArray() << QByteArray("{oops")
                                          << QByteArray("<session>") << QByteArray("null");
    QTest::newRow("anonymous") << QByteArray() << QByteArray() << QByteArray() << QByteArray() << QByteArray("<session>")
                               << QByteArray("null");
    QTest::newRow("info not json becomes a string") << QByteArray("ada") << QByteArray("plain text") << QByteArray()
                                                    << QByteArray() << QByteArray("ada") << QByteArray(R"("plain text")");
}

void TestPresence::memberIdentity()
{
    QFETCH(QByteArray, decisionUser);
    QFETCH(QByteArray, decisionInfo);
    QFETCH(QByteArray, principalUser);
    QFETCH(QByteArray, channelData);
    QFETCH(QByteArray, expectedUser);
    QFETCH(QByteArray, expectedInfo);

    ManualTimer timer;
    Hub hub(timer);
    hub.setAuthorizer([&](const AuthRequest &) {
        return AuthDecision{true, decisionUser.toStdString(), decisionInfo.toStdString()};
    });
    Principal principal;
    principal.userId = principalUser.toStdString();
    principal.userInfo = R"({"from":"token"})";
    const auto id = hub.attach(std::make_shared<RecordingSession>(), principal);
    const JoinResult result = joinNow(hub, id, "presence-x", {}, channelData.toStdString());
    QVERIFY(!result.error);
    QCOMPARE(result.roster.size(), std::size_t(1));
    const std::string expected = expectedUser == "<session>" ? id : expectedUser.toStdString();
    QCOMPARE(result.roster[0].userId, expected);
    QCOMPARE(result.roster[0].info, expectedInfo.toStdString());
}

void TestPresence::rosterFrameEncoding()
{
    const std::vector<Member> roster{{"ada", R"({"name":"Ada"})", 2}, {"b\"ob", "null", 1}};
    const auto frame = encodePresenceRosterFrame("presence-room", roster);
    const auto object = boost::json::parse(frame->bytes).as_object();
    QCOMPARE(object.at("op").as_string(), "presence");
    QCOMPARE(object.at("event").as_string(), "presence:subscription_succeeded");
    QCOMPARE(object.at("channel").as_string(), "presence-room");
    const auto &members = object.at("members").as_array();
    QCOMPARE(members.size(), std::size_t(2));
    QCOMPARE(members[0].at("info").at("name").as_string(), "Ada");
    QCOMPARE(members[1].at("id").as_string(), "b\"ob"); // escaped, round-trips
    QVERIFY(members[1].at("info").is_null());

    const auto empty = boost::json::parse(encodePresenceRosterFrame("presence-room", {})->bytes);
    QVERIFY(empty.at("members").as_array().empty());
}

void TestPresence::hookMayBroadcast()
{
    ManualTimer timer;
    Hub hub(timer);
    hub.setAuthorizer(allowAsAuthUser);
    // A server that announces joins on a public channel from the hook.
    hub.setPresenceHook([&](const PresenceEvent &event) {
        if (event.kind == PresenceEvent::Kind::Joined)
            hub.broadcast("lobby", "joined", "\"" + event.member.userId + "\"");
    });
    auto lobby = std::make_shared<RecordingSession>();
    QVERIFY(!joinNow(hub, hub.attach(lobby), "lobby").error);
    QVERIFY(!joinNow(hub, hub.attach(std::make_shared<RecordingSession>()), "presence-room", "ada").error);
    QCOMPARE(lobby->frames.size(), std::size_t(1));
    QVERIFY(lobby->frames[0]->bytes.find(R"("data":"ada")") != std::string::npos);
}

void TestPresence::externalEngines()
{
    // The same behaviour with engines owned by the host (as a gateway wires them).
    ManualTimer timer;
    MemoryBroker broker(timer);
    MemoryPresenceStore presence;
    {
        Hub hub(timer, HubOptions{}, broker, presence);
        hub.setAuthorizer(allowAsAuthUser);
        auto a = std::make_shared<RecordingSession>();
        const auto aId = hub.attach(a);
        const auto bId = hub.attach(std::make_shared<RecordingSession>());
        QVERIFY(!joinNow(hub, aId, "presence-room", "ada").error);
        QVERIFY(!joinNow(hub, bId, "presence-room", "bob").error);
        QCOMPARE(a->presenceFrames().size(), std::size_t(1));
        QCOMPARE(presence.channelCount(), std::size_t(1));
        hub.detach(bId);
        hub.detach(aId);
        QCOMPARE(presence.channelCount(), std::size_t(0));
    }
    // The broker outlives the Hub and no longer calls it.
    Publication publication;
    publication.channel = "presence-room";
    publication.event = "e";
    publication.data = "1";
    broker.publish(publication, {});
    QCOMPARE(broker.handlerErrors(), std::uint64_t(0));
}

void TestPresence::remoteTransitionsReachLocalSubscribers()
{
    ManualTimer timer;
    MemoryBroker broker(timer);
    ClusterLikeStore store;
    {
        Hub hub(timer, HubOptions{}, broker, store);
        QVERIFY(store.handler);
        hub.setAuthorizer(allowAsAuthUser);
        std::vector<PresenceEvent> hooked;
        hub.setPresenceHook([&](const PresenceEvent &event) { hooked.push_back(event); });
        auto ada = std::make_shared<RecordingSession>();
        auto other = std::make_shared<RecordingSession>();
        QVERIFY(!joinNow(hub, hub.attach(ada), "presence-room", "ada").error);
        QVERIFY(!joinNow(hub, hub.attach(other), "presence-other", "ada").error);
        QCOMPARE(hooked.size(), std::size_t(2));

        // bob joined and left on another node: ada hears both, once; the other channel nothing.
        store.handler->onMemberAdded("presence-room", Member{"bob", R"({"n":"Bob"})", 1});
        store.handler->onMemberRemoved("presence-room", Member{"bob", R"({"n":"Bob"})", 0});
        store.handler->onMemberAdded("presence-nobody-here", Member{"cy", "null", 1});
        const auto frames = ada->presenceFrames();
        QCOMPARE(frames.size(), std::size_t(2));
        QCOMPARE(frames[0].at("event").as_string(), "presence:member_added");
        QCOMPARE(frames[0].at("member").as_object().at("id").as_string(), "bob");
        QCOMPARE(frames[1].at("event").as_string(), "presence:member_removed");
        QVERIFY(other->presenceFrames().empty());
        // The hook runs on the node where the transition happened, not here.
        QCOMPARE(hooked.size(), std::size_t(2));
    }
    QVERIFY(!store.handler); // the Hub let go
}

QTEST_APPLESS_MAIN(TestPresence)
#include "tst_presence.moc"
