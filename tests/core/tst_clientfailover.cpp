// ClientSession failover over several gateway URLs: the order endpoints are tried in, the backoff
// per round of them, and recovery positions carried to the next endpoint. The test plays the
// servers (ScriptedTransport), in virtual time.
#include "ClientTestFixtures.h"

using namespace switchboard;
using namespace switchboard::clienttest;

class TestClientFailover : public QObject
{
    Q_OBJECT

private slots:
    void singleUrlApiUnchanged();
    void roundRobinWithBackoffPerRound();
    void lostConnectionMovesOnAndRecovers();
    void connectTimeoutMovesOn();
    void fatalCloseStaysPut();
    void setUrlsStartsAtTheFirst();
};

namespace {

ClientOptions failoverOptions(std::vector<std::string> urls)
{
    ClientOptions options;
    options.urls = std::move(urls);
    options.backoff = BackoffOptions{100ms, 10'000ms, 2.0, 0.0};
    return options;
}

/// Steps virtual time 1 ms at a time until the next attempt opens; the time waited, or -1.
int waitForOpen(Scripted &s, int limitMs = 20'000)
{
    const int before = s.transport.opens;
    for (int waited = 1; waited <= limitMs; ++waited) {
        s.timer.advance(1ms);
        if (s.transport.opens != before)
            return waited;
    }
    return -1;
}

} // namespace

void TestClientFailover::singleUrlApiUnchanged()
{
    ClientOptions options;
    options.url = "ws://only/ws";
    options.backoff = BackoffOptions{100ms, 10'000ms, 2.0, 0.0};
    Scripted s(options);
    QCOMPARE(s.session.urls(), std::vector<std::string>{"ws://only/ws"});
    QCOMPARE(s.session.currentUrl(), std::string("ws://only/ws"));
    std::vector<std::string> changes;
    auto h = s.session.onUrlChanged([&](const std::string &url) { changes.push_back(url); });
    s.session.connect();
    QCOMPARE(s.transport.lastUrl, std::string("ws://only/ws"));
    // One endpoint: every failure is a full round, so the delay doubles each time, as before.
    std::vector<int> delays;
    for (int i = 0; i < 3; ++i) {
        s.transport.refuse();
        delays.push_back(waitForOpen(s));
        QCOMPARE(s.transport.lastUrl, std::string("ws://only/ws"));
    }
    QCOMPARE(delays, (std::vector<int>{100, 200, 400}));
    QVERIFY(changes.empty());

    s.session.setUrl("ws://other/ws");
    QCOMPARE(s.session.urls(), std::vector<std::string>{"ws://other/ws"});
    QCOMPARE(changes, std::vector<std::string>{"ws://other/ws"});
}

void TestClientFailover::roundRobinWithBackoffPerRound()
{
    Scripted s(failoverOptions({"ws://a/ws", "ws://b/ws", "ws://c/ws"}));
    std::vector<std::string> changes;
    auto h = s.session.onUrlChanged([&](const std::string &url) { changes.push_back(url); });
    s.session.connect();
    std::vector<std::string> tried{s.transport.lastUrl};
    std::vector<int> delays;
    for (int i = 0; i < 8; ++i) {
        s.transport.refuse();
        QCOMPARE(s.session.state(), ClientState::Reconnecting);
        // The endpoint of the next attempt is known (and announced) as soon as this one failed.
        const std::string next = s.session.currentUrl();
        QCOMPARE(changes.back(), next);
        delays.push_back(waitForOpen(s));
        QCOMPARE(s.transport.lastUrl, next);
        tried.push_back(s.transport.lastUrl);
    }
    QCOMPARE(tried, (std::vector<std::string>{"ws://a/ws", "ws://b/ws", "ws://c/ws", "ws://a/ws", "ws://b/ws",
                                               "ws://c/ws", "ws://a/ws", "ws://b/ws", "ws://c/ws"}));
    // The backoff step grows once per round of three endpoints.
    QCOMPARE(delays, (std::vector<int>{100, 100, 100, 200, 200, 200, 400, 400}));
    QCOMPARE(changes.size(), std::size_t(8));

    // A welcome starts over: the next loss waits the initial delay and moves on.
    s.acceptAndWelcome("s1");
    QCOMPARE(s.session.currentUrl(), std::string("ws://c/ws"));
    s.transport.serverClose(1006);
    QCOMPARE(s.session.currentUrl(), std::string("ws://a/ws"));
    QCOMPARE(waitForOpen(s), 100);
    QCOMPARE(s.transport.lastUrl, std::string("ws://a/ws"));
}

void TestClientFailover::lostConnectionMovesOnAndRecovers()
{
    Scripted s(failoverOptions({"ws://a/ws", "ws://b/ws"}));
    s.establish();
    QCOMPARE(s.transport.lastUrl, std::string("ws://a/ws"));
    ClientChannel &ch = s.session.subscribe("feed");
    s.transport.feed(R"({"op":"subscribed","channel":"feed","ackId":)" + ackIdText(s.transport.takeOne())
                     + R"(,"type":"public","epoch":"E","offset":10,"publications":[]})");
    Recorder rec;
    auto h = s.session.on("feed.*", rec.listener());
    Recorder closes;
    auto hc = s.session.on("close", closes.listener());
    s.transport.feed(message("feed", "tick", "11", 11));
    s.transport.feed(message("feed", "tick", "12", 12));

    // Node a dies: the close names it, the next attempt goes to b.
    s.transport.serverClose(1006, "gone");
    QCOMPARE(closes.data.size(), std::size_t(1));
    const json::value closeData = json::parse(closes.data.front());
    QCOMPARE(std::string(closeData.at("url").as_string()), std::string("ws://a/ws"));
    QCOMPARE(closeData.at("reconnect").as_bool(), true);
    QCOMPARE(s.session.currentUrl(), std::string("ws://b/ws"));
    QCOMPARE(waitForOpen(s), 100);
    QCOMPARE(s.transport.lastUrl, std::string("ws://b/ws"));
    s.acceptAndWelcome("s2");
    QCOMPARE(s.session.state(), ClientState::Connected);

    // The resubscribe on b asks for exactly what was seen on a.
    const json::object sub = s.transport.takeOne();
    QCOMPARE(str(sub, "op"), std::string("subscribe"));
    const json::object recover = sub.at("recover").as_object();
    QCOMPARE(num(recover, "offset"), std::int64_t(12));
    QCOMPARE(str(recover, "epoch"), std::string("E"));
    s.transport.feed(R"({"op":"subscribed","channel":"feed","ackId":)" + ackIdText(sub)
                     + R"(,"type":"public","epoch":"E","offset":14,"recovered":true,"publications":[)"
                       R"({"channel":"feed","event":"tick","data":13,"offset":13,"ts":1},)"
                       R"({"channel":"feed","event":"tick","data":14,"offset":14,"ts":1}]})");
    s.transport.feed(message("feed", "tick", "15", 15));
    QVERIFY(ch.recovered());
    QCOMPARE(rec.offsets, (std::vector<std::uint64_t>{11, 12, 13, 14, 15}));
    QCOMPARE(ch.position(), (StreamPosition{15, "E"}));
}

void TestClientFailover::connectTimeoutMovesOn()
{
    ClientOptions options = failoverOptions({"ws://a/ws", "ws://b/ws"});
    options.connectTimeout = 1'000ms;
    Scripted s(options);
    s.session.connect();
    s.transport.accept(); // a accepts the socket but never welcomes
    s.timer.advance(1'000ms);
    QCOMPARE(s.transport.closeRequests, std::vector<std::uint16_t>{3006});
    s.transport.serverClose(3006, "connect timeout");
    QCOMPARE(s.session.currentUrl(), std::string("ws://b/ws"));
    QCOMPARE(waitForOpen(s), 100);
    QCOMPARE(s.transport.lastUrl, std::string("ws://b/ws"));
}

void TestClientFailover::fatalCloseStaysPut()
{
    Scripted s(failoverOptions({"ws://a/ws", "ws://b/ws"}));
    std::vector<std::string> changes;
    auto h = s.session.onUrlChanged([&](const std::string &url) { changes.push_back(url); });
    s.establish();
    // A refusal that holds on every node (bad token) ends the session: no failover.
    s.transport.serverClose(3501, "invalid token");
    QCOMPARE(s.session.state(), ClientState::Closed);
    QCOMPARE(s.session.currentUrl(), std::string("ws://a/ws"));
    s.timer.advance(60'000ms);
    QCOMPARE(s.transport.opens, 1);
    QVERIFY(changes.empty());
}

void TestClientFailover::setUrlsStartsAtTheFirst()
{
    Scripted s(failoverOptions({"ws://a/ws", "ws://b/ws"}));
    std::vector<std::string> changes;
    auto h = s.session.onUrlChanged([&](const std::string &url) { changes.push_back(url); });
    s.session.connect();
    s.transport.refuse();
    QCOMPARE(s.session.currentUrl(), std::string("ws://b/ws"));
    QCOMPARE(waitForOpen(s), 100);
    s.acceptAndWelcome("s1");

    // The same list: nothing changes. Another list: its first URL from the next attempt on,
    // the open connection is kept.
    s.session.setUrls({"ws://a/ws", "ws://b/ws"});
    QCOMPARE(s.session.currentUrl(), std::string("ws://b/ws"));
    s.session.setUrls({"ws://c/ws", "ws://d/ws"});
    QCOMPARE(s.session.currentUrl(), std::string("ws://c/ws"));
    QCOMPARE(changes, (std::vector<std::string>{"ws://b/ws", "ws://c/ws"}));
    QVERIFY(s.transport.closeRequests.empty());
    QCOMPARE(s.session.state(), ClientState::Connected);
    s.transport.serverClose(1006);
    QCOMPARE(s.session.currentUrl(), std::string("ws://c/ws"));
    QCOMPARE(waitForOpen(s), 100);
    QCOMPARE(s.transport.lastUrl, std::string("ws://c/ws"));
    s.transport.refuse();
    QCOMPARE(s.session.currentUrl(), std::string("ws://d/ws"));

    // An empty list is one empty URL, as with the default options.
    s.session.setUrls({});
    QCOMPARE(s.session.urls(), std::vector<std::string>{""});
}

QTEST_APPLESS_MAIN(TestClientFailover)
#include "tst_clientfailover.moc"
