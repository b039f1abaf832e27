// Client failover between the nodes of one service: a Qt Client (the core ClientSession over
// QWebSocket) with urls [A, B] is subscribed on A; a publisher publishes through the HTTP API of
// B throughout; A is killed with SIGKILL. The client moves to B, resubscribes with recover, and
// every publication B acknowledged (200) arrives exactly once, in offset order, with no gap.
// The same with the native client (Switchboard::AsioClient, its own io thread) on a restarted A.
#include "ClusterHelpers.h"

#include <switchboard/asio_client/AsioClient.h>

#include <future>
#include <mutex>

#include <switchboard/ClientSession.h>
#include <switchboard/qt/Channel.h>
#include <switchboard/qt/Client.h>
#include <switchboard/qt/MessageModel.h>

#include <QElapsedTimer>

using namespace clustertest;
using switchboard::qt::Channel;
using switchboard::qt::Client;

constexpr int kPublishIntervalMs = 5;

class TestClusterFailover : public QObject {
    Q_OBJECT

private:
    RedisProcess redis;
    GatewayProcess a, b;
    QNetworkAccessManager nam;
    QStringList args;

private slots:
    void initTestCase()
    {
        QVERIFY(redis.start());
        // History deep enough for everything published during the outage (beyond it the
        // resubscribe would rightly answer recovered:false).
        args = nodeArgs(redis, "failover:") + QStringList{"--history", "=10000:300"};
        QVERIFY(a.start(args));
        QVERIFY(b.start(args));
        QVERIFY(waitHealth(nam, a, 200));
        QVERIFY(waitHealth(nam, b, 200));
    }

    void killedNodeFailsOverWithZeroLoss()
    {
        const QString channel = QStringLiteral("ticks");
        const QString urlA = a.url("/ws", "ws").toString();
        const QString urlB = b.url("/ws", "ws").toString();
        Client client;
        client.setPingInterval(0);
        client.setUrls({urlA, urlB});
        client.open();
        QTRY_COMPARE_WITH_TIMEOUT(client.state(), Client::Connected, 10000);
        QCOMPARE(client.currentUrl(), QUrl(urlA));
        Channel *ticks = client.subscribe(channel);
        QTRY_VERIFY_WITH_TIMEOUT(ticks->subscribed(), 10000);

        // What the core session delivers, in order (the Qt model below must agree).
        std::vector<std::uint64_t> offsets;
        std::vector<int> sequence;
        switchboard::ListenerHandle listener = client.session().on("ticks.*", [&](const switchboard::ClientEvent &e) {
            offsets.push_back(e.offset);
            sequence.push_back(e.data.is_int64() ? int(e.data.get_int64()) : -1);
        });

        // Acknowledged publications: sequence number -> offset given by B.
        std::vector<std::pair<int, int>> acknowledged;
        int sent = 0;
        int acknowledgedWhileAway = 0; // acknowledged while the client was not connected to B
        auto publishOne = [&] {
            const int n = ++sent;
            const bool away = client.state() != Client::Connected;
            const HttpResult r = publish(nam, b, {{"channel", channel}, {"event", "tick"}, {"data", n}});
            if (r.status == 200) {
                acknowledged.emplace_back(n, firstStored(r)["offset"].toInt());
                acknowledgedWhileAway += away ? 1 : 0;
            }
        };

        for (int i = 0; i < 20; ++i)
            publishOne();
        QTRY_COMPARE_WITH_TIMEOUT(offsets.size(), std::size_t(20), 10000); // live through A

        QSignalSpy currentUrls(&client, &Client::currentUrlChanged);
        bool lost = false; // the client noticed the connection to A is gone
        QObject::connect(&client, &Client::stateChanged, &client, [&lost](Client::State state) {
            lost = lost || state != Client::Connected;
        });
        QElapsedTimer outage;
        outage.start();
        a.kill(); // SIGKILL: no close frame, no shutdown work
        // Keep publishing through the outage until the client is back on B (bounded), at a
        // steady pace (a publisher, not a flood).
        QDeadlineTimer deadline(15000);
        auto backOnB = [&] { return lost && client.state() == Client::Connected && ticks->subscribed(); };
        while (!backOnB() && !deadline.hasExpired()) {
            publishOne();
            QTest::qWait(kPublishIntervalMs);
        }
        QVERIFY2(backOnB(), "client did not fail over to B");
        const qint64 failoverMs = outage.elapsed();
        QCOMPARE(client.currentUrl(), QUrl(urlB));
        QVERIFY(currentUrls.count() >= 1);
        QVERIFY(ticks->recovered());
        for (int i = 0; i < 20; ++i)
            publishOne();

        // Every acknowledged publication arrives, exactly once and in order.
        QTRY_VERIFY_WITH_TIMEOUT(offsets.size() >= acknowledged.size(), 10000);
        QVERIFY(!acknowledged.empty());
        QCOMPARE(int(acknowledged.size()), sent); // B stayed up: every publish was acknowledged
        QCOMPARE(offsets.size(), acknowledged.size());
        for (std::size_t i = 0; i < acknowledged.size(); ++i) {
            QCOMPARE(sequence[i], acknowledged[i].first);
            QCOMPARE(int(offsets[i]), acknowledged[i].second);
            QCOMPARE(int(offsets[i]), int(i) + 1); // contiguous from the channel's first offset
        }
        // The Qt model appends in batches, from the event loop.
        QTRY_COMPARE_WITH_TIMEOUT(ticks->messages()->rowCount(), int(acknowledged.size()), 5000);
        for (int row = 0; row < ticks->messages()->rowCount(); ++row)
            QCOMPARE(ticks->messages()->get(row).value("offset").toInt(), row + 1);
        qInfo("failover after SIGKILL: %lld ms to resubscribed on B; %d of %d publications acknowledged "
              "while the client was away, all recovered",
              failoverMs, acknowledgedWhileAway, int(acknowledged.size()));
        QVERIFY2(acknowledgedWhileAway > 0, "no publication fell into the outage: the test proved nothing");
    }

    void asioClientFailsOverWithZeroLoss()
    {
        if (a.process().state() == QProcess::NotRunning) // killed by the test above
            QVERIFY(a.start(args));
        QVERIFY(waitHealth(nam, a, 200));
        const QString channel = QStringLiteral("asioticks");
        const std::string urlA = a.url("/ws", "ws").toString().toStdString();
        const std::string urlB = b.url("/ws", "ws").toString().toStdString();
        switchboard::AsioClientOptions options;
        options.client.urls = {urlA, urlB};
        options.client.backoff.initial = std::chrono::milliseconds(50);
        switchboard::AsioClient client(options);
        std::mutex mutex; // guards offsets and sequence, written on the client's thread
        std::vector<std::uint64_t> offsets;
        std::vector<int> sequence;
        auto listener = client.on("asioticks.*", [&](const switchboard::ClientEvent &e) {
            std::lock_guard lock(mutex);
            offsets.push_back(e.offset);
            sequence.push_back(e.data.is_int64() ? int(e.data.get_int64()) : -1);
        });
        auto received = [&] { std::lock_guard lock(mutex); return offsets.size(); };
        std::atomic<bool> lost{false};
        auto states = client.onStateChanged([&](switchboard::ClientState s) {
            if (s == switchboard::ClientState::Reconnecting)
                lost = true;
        });
        std::promise<std::error_code> subscribed;
        client.subscribe(channel.toStdString(), {}, [&](std::error_code ec) { subscribed.set_value(ec); });
        client.open();
        auto first = subscribed.get_future();
        QCOMPARE(first.wait_for(std::chrono::seconds(10)), std::future_status::ready);
        QVERIFY(!first.get());
        // Session state the methods do not mirror, read on the client's strand.
        auto onB = [&] {
            auto answer = std::make_shared<std::promise<bool>>(); // outlives a timed-out wait
            client.dispatch([answer, urlB](switchboard::ClientSession &s) {
                const auto *ch = s.channel("asioticks");
                answer->set_value(s.currentUrl() == urlB && s.state() == switchboard::ClientState::Connected && ch
                                  && ch->subscribed() && ch->recovered());
            });
            auto f = answer->get_future();
            return f.wait_for(std::chrono::seconds(2)) == std::future_status::ready && f.get();
        };

        std::vector<std::pair<int, int>> acknowledged;
        int sent = 0, acknowledgedWhileAway = 0;
        auto publishOne = [&] {
            const int n = ++sent;
            const bool away = client.state() != switchboard::ClientState::Connected;
            const HttpResult r = publish(nam, b, {{"channel", channel}, {"event", "tick"}, {"data", n}});
            if (r.status == 200) {
                acknowledged.emplace_back(n, firstStored(r)["offset"].toInt());
                acknowledgedWhileAway += away ? 1 : 0;
            }
        };
        for (int i = 0; i < 20; ++i)
            publishOne();
        QTRY_COMPARE_WITH_TIMEOUT(received(), std::size_t(20), 10000); // live through A

        a.kill();
        QDeadlineTimer deadline(15000);
        auto backOnB = [&] { return lost && onB(); };
        while (!backOnB() && !deadline.hasExpired()) {
            publishOne();
            QTest::qWait(kPublishIntervalMs);
        }
        QVERIFY2(backOnB(), "the Asio client did not fail over to B");
        for (int i = 0; i < 20; ++i)
            publishOne();
        QTRY_VERIFY_WITH_TIMEOUT(received() >= acknowledged.size(), 10000);
        QCOMPARE(int(acknowledged.size()), sent);
        std::lock_guard lock(mutex);
        QCOMPARE(offsets.size(), acknowledged.size());
        for (std::size_t i = 0; i < acknowledged.size(); ++i) {
            QCOMPARE(sequence[i], acknowledged[i].first);
            QCOMPARE(int(offsets[i]), acknowledged[i].second);
        }
        qInfo("Asio client: %d of %d publications acknowledged while away, all recovered", acknowledgedWhileAway,
              int(acknowledged.size()));
        QVERIFY2(acknowledgedWhileAway > 0, "no publication fell into the outage: the test proved nothing");
    }
};

QTEST_MAIN(TestClusterFailover)
#include "tst_clusterfailover.moc"
