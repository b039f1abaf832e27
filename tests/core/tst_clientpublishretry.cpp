// The client's idempotent publishes against a scripted server: every publish with an ack
// carries an idempotency key; one whose ack was lost with the connection is sent again once,
// with the same key, after the reconnect's resubscribes, and its ack resolves the original call;
// a second loss fails it.
#include "ClientTestFixtures.h"

#include "switchboard/IdempotencyKey.h"

#include <QtTest>

using namespace switchboard;
using namespace switchboard::clienttest;
using namespace std::chrono_literals;

namespace {

struct AckRecord {
    int calls = 0;
    std::error_code error;
    std::uint64_t offset = 0;
    std::function<void(std::error_code, AckInfo)> callback()
    {
        return [this](std::error_code e, AckInfo info) {
            ++calls;
            error = e;
            offset = info.offset;
        };
    }
};

/// Moves virtual time until the session opens its next connection (bounded), then accepts it
/// and answers its connect with a welcome; returns the frames sent after the welcome.
std::vector<json::object> reconnect(Scripted &s, std::string_view sessionId)
{
    for (int i = 0; i < 200 && !s.transport.opening; ++i) {
        s.timer.advance(50ms);
        s.executor.runPending();
    }
    if (!s.transport.opening)
        return {};
    s.acceptAndWelcome(sessionId);
    s.executor.runPending();
    return s.transport.take();
}

std::vector<json::object> publishes(const std::vector<json::object> &frames)
{
    std::vector<json::object> out;
    for (const auto &frame : frames)
        if (str(frame, "op") == "publish")
            out.push_back(frame);
    return out;
}

} // namespace

class TestClientPublishRetry : public QObject {
    Q_OBJECT
private slots:
    void publishesWithAnAckCarryARandomKey()
    {
        Scripted s;
        s.establish();
        s.session.publish("news", "e", "1", [](std::error_code, AckInfo) {});
        s.session.publish("news", "e", "2", [](std::error_code, AckInfo) {});
        s.session.publish("news", "e", "3"); // no ack: no key (nothing would be retried)
        const auto frames = s.transport.take();
        QCOMPARE(frames.size(), std::size_t(3));
        const std::string first = str(frames[0], "idempotencyKey");
        const std::string second = str(frames[1], "idempotencyKey");
        QVERIFY(isValidIdempotencyKey(first));
        QCOMPARE(first.size(), std::size_t(32));
        QVERIFY(first != second);
        QVERIFY(!frames[2].contains("idempotencyKey"));
    }

    void theUsersKeyIsSentAndCheckedFirst()
    {
        Scripted s;
        s.establish();
        PublishOptions options;
        options.idempotencyKey = "order-17";
        s.session.publish("news", "e", "1", [](std::error_code, AckInfo) {}, options);
        QCOMPARE(str(s.transport.takeOne(), "idempotencyKey"), std::string("order-17"));

        AckRecord refused;
        options.idempotencyKey = "not valid";
        s.session.publish("news", "e", "1", refused.callback(), options);
        QVERIFY(s.transport.take().empty());
        s.executor.runPending();
        QCOMPARE(refused.calls, 1);
        QCOMPARE(refused.error, make_error_code(Error::BadRequest));
    }

    void anAckLostWithTheConnectionIsRetriedOnceAfterResubscribing()
    {
        Scripted s;
        s.establish();
        s.session.subscribe("news");
        s.transport.take();
        s.transport.feed(R"({"op":"subscribed","channel":"news","ackId":1})");
        AckRecord ack;
        s.session.publish("news", "e", R"({"n":1})", ack.callback());
        const json::object sent = s.transport.takeOne();
        const std::string key = str(sent, "idempotencyKey");

        s.transport.serverClose(1006, "lost");
        s.executor.runPending();
        QCOMPARE(ack.calls, 0); // not failed: waiting for the reconnect
        QCOMPARE(s.session.state(), ClientState::Reconnecting);
        QCOMPARE(s.session.waitingCalls(), std::size_t(1));

        const auto frames = reconnect(s, "s2");
        QCOMPARE(frames.size(), std::size_t(2));
        QCOMPARE(str(frames[0], "op"), std::string("subscribe")); // resubscribe first
        QCOMPARE(str(frames[1], "op"), std::string("publish"));
        QCOMPARE(str(frames[1], "idempotencyKey"), key);
        QCOMPARE(json::serialize(frames[1].at("data")), json::serialize(sent.at("data")));
        QVERIFY(ackIdText(frames[1]) != "null");
        QCOMPARE(s.session.publishRetries(), std::uint64_t(1));

        s.transport.feed(R"({"op":"ack","ackId":)" + ackIdText(frames[1]) + R"(,"offset":7})");
        s.executor.runPending();
        QCOMPARE(ack.calls, 1);
        QVERIFY(!ack.error);
        QCOMPARE(ack.offset, std::uint64_t(7));
    }

    void aSecondLossFailsThePublish()
    {
        Scripted s;
        s.establish();
        AckRecord ack;
        s.session.publish("news", "e", "1", ack.callback());
        s.transport.take();
        s.transport.serverClose(1006, "lost");
        s.executor.runPending();
        QCOMPARE(publishes(reconnect(s, "s2")).size(), std::size_t(1));
        s.transport.serverClose(1006, "lost again");
        s.executor.runPending();
        QCOMPARE(ack.calls, 1);
        QCOMPARE(ack.error, make_error_code(Error::NotConnected));
        QVERIFY(publishes(reconnect(s, "s3")).empty());
        QCOMPARE(s.session.publishRetries(), std::uint64_t(1));
    }

    void failFastAndCloseDoNotRetry()
    {
        ClientOptions options;
        options.failFast = true;
        Scripted fast(options);
        fast.establish();
        AckRecord lost;
        fast.session.publish("news", "e", "1", lost.callback());
        fast.transport.take();
        fast.transport.serverClose(1006, "lost");
        fast.executor.runPending();
        QCOMPARE(lost.calls, 1);
        QCOMPARE(lost.error, make_error_code(Error::NotConnected));

        Scripted closing;
        closing.establish();
        AckRecord cancelled;
        closing.session.publish("news", "e", "1", cancelled.callback());
        closing.session.close();
        closing.executor.runPending();
        QCOMPARE(cancelled.calls, 1);
        QVERIFY(cancelled.error);
        QCOMPARE(closing.session.publishRetries(), std::uint64_t(0));
    }

    void theRetryExpiresAfterAckTimeout()
    {
        ClientOptions options;
        options.ackTimeout = 2s;
        Scripted s(options);
        s.establish();
        AckRecord ack;
        s.session.publish("news", "e", "1", ack.callback());
        s.transport.take();
        s.transport.serverClose(1006, "lost");
        s.executor.runPending();
        for (int i = 0; i < 60 && ack.calls == 0; ++i) { // the server never comes back
            s.timer.advance(50ms);
            s.executor.runPending();
            if (s.transport.opening)
                s.transport.refuse();
        }
        QCOMPARE(ack.calls, 1);
        QCOMPARE(ack.error, make_error_code(Error::Timeout));
    }
};

QTEST_APPLESS_MAIN(TestClientPublishRetry)
#include "tst_clientpublishretry.moc"
