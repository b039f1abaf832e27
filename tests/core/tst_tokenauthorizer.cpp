// The one authorization path: TokenAuthorizer's pattern check and presence identity, an
// authorizer that throws, and an expired token on connect (close 3004, not 3501).
#include "ProtocolHarness.h"

#include "switchboard/TokenAuthorizer.h"

#include <QtTest>

#include <stdexcept>

using namespace switchboard;
using namespace switchboard::testing;

namespace {

Principal principalOf(std::string userId, std::vector<std::string> patterns, std::string info = {})
{
    Principal principal;
    principal.userId = std::move(userId);
    principal.userInfo = std::move(info);
    principal.channelPatterns = std::move(patterns);
    return principal;
}

JoinResult joinNow(Hub &hub, const std::string &session, std::string_view channel, const JoinRequest &request)
{
    JoinResult out;
    hub.join(session, channel, request, [&](JoinResult result) { out = std::move(result); });
    return out;
}

} // namespace

class TestTokenAuthorizer : public QObject
{
    Q_OBJECT

private slots:
    void patterns_data();
    void patterns();
    void presenceNeedsTokenUser();
    void channelDataNeverNamesTheMember();
    void throwingAuthorizerDenies();
    void expiredTokenOnConnectCloses3004();
    void refusedTokenCloses3501();
};

void TestTokenAuthorizer::patterns_data()
{
    QTest::addColumn<QStringList>("patterns");
    QTest::addColumn<QString>("channel");
    QTest::addColumn<bool>("allowed");
    QTest::newRow("exact") << QStringList{"private-ops"} << "private-ops" << true;
    QTest::newRow("other channel") << QStringList{"private-ops"} << "private-dev" << false;
    QTest::newRow("one segment") << QStringList{"private-team/*"} << "private-team/a" << true;
    QTest::newRow("one segment, deeper") << QStringList{"private-team/*"} << "private-team/a/b" << false;
    QTest::newRow("trailing segments") << QStringList{"presence-x/**"} << "presence-x/y/z" << true;
    QTest::newRow("every channel") << QStringList{"**"} << "private-a/b" << true;
    QTest::newRow("no wildcard inside a segment") << QStringList{"presence-**"} << "presence-x" << false;
    QTest::newRow("second pattern") << QStringList{"a", "private-x"} << "private-x" << true;
    QTest::newRow("invalid pattern matches nothing") << QStringList{"a//b"} << "a//b" << false;
    QTest::newRow("no patterns") << QStringList{} << "private-x" << false;
}

void TestTokenAuthorizer::patterns()
{
    QFETCH(QStringList, patterns);
    QFETCH(QString, channel);
    QFETCH(bool, allowed);
    std::vector<std::string> list;
    for (const QString &p : patterns)
        list.push_back(p.toStdString());
    const Principal principal = principalOf("u", list);
    QCOMPARE(principalAllows(principal, channel.toStdString()), allowed);
    const AuthDecision decision = authorizeByToken(
        AuthRequest{channel.toStdString(), channelTypeOf(channel.toStdString()), "s", principal, {}, {}});
    QCOMPARE(decision.allowed, allowed);
}

void TestTokenAuthorizer::presenceNeedsTokenUser()
{
    const Principal anonymous = principalOf("", {"presence-room"});
    const AuthDecision refused = authorizeByToken(
        AuthRequest{"presence-room", ChannelType::Presence, "s", anonymous, {}, R"({"user_id":"alice"})"});
    QVERIFY(!refused.allowed);

    const Principal alice = principalOf("alice", {"presence-room"}, R"({"name":"Alice"})");
    const AuthDecision allowed = authorizeByToken(
        AuthRequest{"presence-room", ChannelType::Presence, "s", alice, {}, R"({"user_id":"bob"})"});
    QVERIFY(allowed.allowed);
    QCOMPARE(allowed.memberUserId, std::string("alice"));
    QCOMPARE(allowed.memberInfo, std::string(R"({"name":"Alice"})"));

    // A private channel needs no user: the pattern alone decides.
    QVERIFY(authorizeByToken(AuthRequest{"private-x", ChannelType::Private, "s", principalOf("", {"private-x"}), {}, {}})
                .allowed);
}

void TestTokenAuthorizer::channelDataNeverNamesTheMember()
{
    ManualTimer timer;
    Hub hub(timer);
    hub.setAuthorizer(authorizeByToken);
    const std::string alice = hub.attach(std::make_shared<RecordingSession>(), principalOf("alice", {"presence-room"}));
    const std::string nobody = hub.attach(std::make_shared<RecordingSession>(), principalOf("", {"presence-room"}));

    JoinRequest claim;
    claim.channelData = R"({"user_id":"mallory","user_info":{"name":"Mallory"}})";
    const JoinResult joined = joinNow(hub, alice, "presence-room", claim);
    QVERIFY(!joined.error);
    QCOMPARE(joined.roster.size(), std::size_t(1));
    QCOMPARE(joined.roster[0].userId, std::string("alice"));

    JoinRequest impersonate;
    impersonate.channelData = R"({"user_id":"alice"})";
    const JoinResult refused = joinNow(hub, nobody, "presence-room", impersonate);
    QCOMPARE(refused.error, make_error_code(Error::Unauthorized));
    QCOMPARE(hub.subscriberCount("presence-room"), std::size_t(1));
}

void TestTokenAuthorizer::throwingAuthorizerDenies()
{
    Harness h;
    int calls = 0;
    h.hub.setAuthorizer([&](const AuthRequest &) -> AuthDecision {
        ++calls;
        throw std::runtime_error("directory unreachable");
    });
    Client a = h.connect();
    h.send(a, R"({"op":"subscribe","channel":"private-x","ackId":"s"})");
    const auto frames = a.session->take();
    QCOMPARE(calls, 1);
    QCOMPARE(frames.size(), std::size_t(1));
    QCOMPARE(op(frames[0]), std::string("error"));
    QCOMPARE(str(frames[0], "ackId"), std::string("s"));
    QCOMPARE(h.hub.subscriberCount("private-x"), std::size_t(0));
    QVERIFY(h.hub.counters().authFailures >= 1);
    QVERIFY(!a.session->closeCode); // the session goes on
}

void TestTokenAuthorizer::expiredTokenOnConnectCloses3004()
{
    Harness h;
    h.protocol.setConnectAuthenticator([](std::string_view) {
        ConnectDecision decision;
        decision.accepted = false;
        decision.expired = true; // a good signature on a token past its `exp`
        decision.reason = "token expired";
        return decision;
    });
    Client a = h.open();
    h.send(a, R"({"op":"connect","version":1,"token":"old"})");
    QCOMPARE(a.session->closeCode, std::optional<std::uint16_t>(3004));
    QCOMPARE(h.protocol.counters().tokenExpirations, std::uint64_t(1));
    QCOMPARE(h.protocol.counters().authFailures, std::uint64_t(0));
    QVERIFY(shouldReconnect(*a.session->closeCode));
}

void TestTokenAuthorizer::refusedTokenCloses3501()
{
    Harness h;
    h.protocol.setConnectAuthenticator([](std::string_view) {
        ConnectDecision decision;
        decision.accepted = false;
        decision.reason = "bad token signature";
        return decision;
    });
    Client a = h.open();
    h.send(a, R"({"op":"connect","version":1,"token":"forged"})");
    QCOMPARE(a.session->closeCode, std::optional<std::uint16_t>(3501));
    QCOMPARE(h.protocol.counters().authFailures, std::uint64_t(1));
    QVERIFY(!shouldReconnect(*a.session->closeCode));
}

QTEST_GUILESS_MAIN(TestTokenAuthorizer)
#include "tst_tokenauthorizer.moc"
