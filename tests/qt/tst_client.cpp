// Clients through an in-process Gateway over real sockets on 127.0.0.1 (OS-chosen port):
// broadcast, private channel authorization, presence, client publish, request/reply, and
// reconnect with recovery after a gateway restart.

#include <switchboard/Hub.h>
#include <switchboard/ServerProtocol.h>
#include <switchboard/qt/Client.h>
#include <switchboard/qt/Gateway.h>

#include <QAbstractItemModelTester>
#include <QSignalSpy>
#include <QTest>

#include <QDateTime>
#include <QElapsedTimer>
#include <QPointer>
#include <QScopeGuard>

#include <algorithm>
#include <cmath>
#include <memory>
#include <vector>

using namespace switchboard;
using namespace switchboard::qt;

// Connected, over the encoding the test case offers.
#define CONNECTED(client)                                                                                    \
    do {                                                                                                     \
        QTRY_COMPARE_WITH_TIMEOUT((client)->state(), Client::Connected, 10000);                              \
        QCOMPARE((client)->wireEncoding(), m_encoding);                                                      \
    } while (false)

class TestClient : public QObject
{
    Q_OBJECT

private:
    std::unique_ptr<Gateway> m_gateway;
    Client::Encoding m_encoding = Client::Json; ///< what every client of the test case offers

    std::unique_ptr<Client> newClient()
    {
        auto c = std::make_unique<Client>();
        c->setEncoding(m_encoding);
        return c;
    }

    std::unique_ptr<Client> client(const QString &token = {})
    {
        auto c = newClient();
        c->setUrl(QUrl(m_gateway->url()));
        c->setToken(token);
        c->open();
        return c;
    }

    static std::unique_ptr<QAbstractItemModelTester> tester(QAbstractItemModel *model)
    {
        return std::make_unique<QAbstractItemModelTester>(model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    }

private Q_SLOTS:
    // Every test runs over JSON and over the binary encoding (switchboard.v1.binary).
    void initTestCase_data()
    {
        QTest::addColumn<bool>("binary");
        QTest::newRow("json") << false;
        QTest::newRow("binary") << true;
    }

    void init()
    {
        QFETCH_GLOBAL(bool, binary);
        m_encoding = binary ? Client::Binary : Client::Json;
        m_gateway = std::make_unique<Gateway>();
        m_gateway->setStatsInterval(0);
        m_gateway->setTokens({
            {QStringLiteral("token-alice"), QVariantMap{{QStringLiteral("user"), QStringLiteral("alice")},
                                                        {QStringLiteral("info"), QVariantMap{{QStringLiteral("name"), QStringLiteral("Alice")}}},
                                                        {QStringLiteral("channels"), QStringList{QStringLiteral("private-ops"), QStringLiteral("presence-room")}}}},
            {QStringLiteral("token-bob"), QVariantMap{{QStringLiteral("user"), QStringLiteral("bob")},
                                                      {QStringLiteral("channels"), QStringList{QStringLiteral("presence-room")}}}},
        });
        QVERIFY(m_gateway->start());
        QVERIFY(m_gateway->running());
        QVERIFY(m_gateway->port() > 0);
        QVERIFY(m_gateway->url().startsWith(QStringLiteral("ws://127.0.0.1:")));
    }

    void cleanup()
    {
        m_gateway.reset();
    }

    void publicBroadcast()
    {
        auto a = client();
        auto b = client();
        CONNECTED(a);
        CONNECTED(b);
        QVERIFY(!a->sessionId().isEmpty());
        QVERIFY(a->sessionId() != b->sessionId());
        Channel *ca = a->subscribe(QStringLiteral("news"));
        Channel *cb = b->subscribe(QStringLiteral("news"));
        QCOMPARE(a->subscribe(QStringLiteral("news")), ca); // same object for the same name
        QCOMPARE(ca->type(), QStringLiteral("public"));
        QVERIFY(ca->presence() == nullptr);
        auto ta = tester(ca->messages());
        auto tb = tester(cb->messages());
        QTRY_VERIFY(ca->subscribed() && cb->subscribed());
        QTRY_COMPARE(m_gateway->clientCount(), 2);
        QSignalSpy received(cb, &Channel::messageReceived);

        m_gateway->publish(QStringLiteral("news"), QStringLiteral("update"), QVariantMap{{QStringLiteral("n"), 1}});
        m_gateway->publish(QStringLiteral("news"), QStringLiteral("update"), QVariantMap{{QStringLiteral("n"), 2}});
        QTRY_COMPARE(ca->messages()->count(), 2);
        QTRY_COMPARE(cb->messages()->count(), 2);
        QCOMPARE(received.count(), 2);
        QCOMPARE(received.at(0).at(0).toString(), QStringLiteral("update"));
        QCOMPARE(received.at(1).at(1).toMap().value(QStringLiteral("n")).toInt(), 2);
        const QModelIndex first = cb->messages()->index(0);
        QCOMPARE(first.data(int(MessageModel::Role::Payload)).toMap().value(QStringLiteral("n")).toInt(), 1);
        QCOMPARE(first.data(int(MessageModel::Role::Offset)).toULongLong(), 1u);
        QVERIFY(first.data(int(MessageModel::Role::Timestamp)).toLongLong() > 0);
        QCOMPARE(cb->latest().toMap().value(QStringLiteral("n")).toInt(), 2);

        // Larger than the client's 64 KiB socket read buffer: assembled across reads.
        const QString big(300'000, QLatin1Char('b'));
        m_gateway->publish(QStringLiteral("news"), QStringLiteral("big"), big);
        QTRY_COMPARE(cb->messages()->count(), 3);
        QCOMPARE(cb->latest().toString(), big);
        QVERIFY(m_gateway->framesOut() >= 6);
        QVERIFY(m_gateway->framesIn() >= 4); // connect + subscribe per client

        m_gateway->refreshStats();
        ChannelListModel *channels = m_gateway->channels();
        auto tc = tester(channels);
        QCOMPARE(channels->count(), 1);
        QCOMPARE(channels->get(0).value(QStringLiteral("name")).toString(), QStringLiteral("news"));
        QCOMPARE(channels->get(0).value(QStringLiteral("subscribers")).toInt(), 2);
    }

    void doublesArriveAsPublished()
    {
        // Doubles whose text a JSON parser may read one unit in the last place off: QML gets the
        // published value, bit for bit (QCOMPARE on doubles would accept a neighbour).
        const QVariantList values{474.59380568556355, 1.3927926388013963E-143, 5.409760742964738E124, 0.1 + 0.2};
        auto c = client();
        CONNECTED(c);
        Channel *channel = c->subscribe(QStringLiteral("readings"));
        QTRY_VERIFY(channel->subscribed());
        m_gateway->publish(QStringLiteral("readings"), QStringLiteral("e"), values);
        QTRY_COMPARE(channel->messages()->count(), 1);
        const QVariantList received = channel->latest().toList();
        QCOMPARE(received.size(), values.size());
        for (qsizetype i = 0; i < values.size(); ++i)
            QVERIFY2(received[i].toDouble() == values[i].toDouble(),
                     qPrintable(QString::number(received[i].toDouble(), 'g', 17)));

        // The same in a presence roster: a member's info.
        m_gateway->setTokens({{QStringLiteral("token-carol"),
                               QVariantMap{{QStringLiteral("user"), QStringLiteral("carol")},
                                           {QStringLiteral("info"), QVariantMap{{QStringLiteral("v"), values}}},
                                           {QStringLiteral("channels"), QStringList{QStringLiteral("presence-room")}}}}});
        auto carol = client(QStringLiteral("token-carol"));
        CONNECTED(carol);
        Channel *room = carol->subscribe(QStringLiteral("presence-room"));
        QTRY_COMPARE(room->presence()->count(), 1);
        const QVariantList info =
            room->presence()->get(0).value(QStringLiteral("info")).toMap().value(QStringLiteral("v")).toList();
        QCOMPARE(info.size(), values.size());
        for (qsizetype i = 0; i < values.size(); ++i)
            QVERIFY2(info[i].toDouble() == values[i].toDouble(), qPrintable(QString::number(info[i].toDouble(), 'g', 17)));
    }

    void privateChannelNeedsCredentials()
    {
        auto anonymous = client();
        auto alice = client(QStringLiteral("token-alice"));
        CONNECTED(anonymous);
        CONNECTED(alice);
        QCOMPARE(alice->userId(), QStringLiteral("alice"));
        QSignalSpy errors(anonymous.get(), &Client::errorOccurred);
        Channel *denied = anonymous->subscribe(QStringLiteral("private-ops"));
        Channel *allowed = alice->subscribe(QStringLiteral("private-ops"));
        QCOMPARE(denied->type(), QStringLiteral("private"));
        QTRY_VERIFY(!denied->lastError().isEmpty() || errors.count() > 0);
        QTRY_VERIFY(allowed->subscribed());
        QVERIFY(!denied->subscribed());
        m_gateway->publish(QStringLiteral("private-ops"), QStringLiteral("alert"), QStringLiteral("disk full"));
        QTRY_COMPARE(allowed->messages()->count(), 1);
        QCOMPARE(allowed->latest().toString(), QStringLiteral("disk full"));
        QCOMPARE(denied->messages()->count(), 0);
        QCOMPARE(m_gateway->hub()->subscriberCount("private-ops"), std::size_t(1));

        // An unknown token is refused at connect (close 3501: no reconnect).
        auto forged = client(QStringLiteral("forged"));
        QTRY_COMPARE_WITH_TIMEOUT(forged->state(), Client::Closed, 10000);
    }

    void presenceRoster()
    {
        auto alice1 = client(QStringLiteral("token-alice"));
        auto alice2 = client(QStringLiteral("token-alice"));
        auto bob = client(QStringLiteral("token-bob"));
        CONNECTED(alice1);
        CONNECTED(alice2);
        CONNECTED(bob);
        Channel *a1 = alice1->subscribe(QStringLiteral("presence-room"));
        QTRY_VERIFY(a1->subscribed());
        Channel *a2 = alice2->subscribe(QStringLiteral("presence-room"));
        QTRY_VERIFY(a2->subscribed());
        Channel *b = bob->subscribe(QStringLiteral("presence-room"));
        QTRY_VERIFY(b->subscribed());
        QVERIFY(b->presence());
        auto t1 = tester(a1->presence());
        auto tb = tester(b->presence());

        // One member per user, however many connections.
        QTRY_COMPARE(b->presence()->count(), 2);
        QTRY_COMPARE(a1->presence()->count(), 2);
        QCOMPARE(a2->presence()->count(), 2);
        const int aliceRow = b->presence()->indexOf(QStringLiteral("alice"));
        QVERIFY(aliceRow >= 0);
        QVERIFY(b->presence()->indexOf(QStringLiteral("bob")) >= 0);
        QCOMPARE(b->presence()->get(aliceRow).value(QStringLiteral("info")).toMap().value(QStringLiteral("name")).toString(),
                 QStringLiteral("Alice"));

        // Alice's first connection leaves: she is still present through the second one.
        alice1->close();
        QTRY_COMPARE(m_gateway->clientCount(), 2);
        QTRY_COMPARE(m_gateway->hub()->subscriberCount("presence-room"), std::size_t(2));
        // A message after the leave is a barrier: presence frames would have arrived before it.
        m_gateway->publish(QStringLiteral("presence-room"), QStringLiteral("tick"), 1);
        // Bob's channel saw its roster, its own member_added (the newcomer hears it too), then
        // the tick; no presence frame about alice.
        const auto eventAt = [&](int row) { return b->messages()->get(row).value(QStringLiteral("event")).toString(); };
        QTRY_COMPARE(b->messages()->count(), 3);
        QCOMPARE(eventAt(0), QStringLiteral("presence:subscription_succeeded"));
        QCOMPARE(eventAt(1), QStringLiteral("presence:member_added"));
        QCOMPARE(b->messages()->get(1).value(QStringLiteral("payload")).toMap().value(QStringLiteral("id")).toString(),
                 QStringLiteral("bob"));
        QCOMPARE(eventAt(2), QStringLiteral("tick"));
        QCOMPARE(b->presence()->count(), 2);
        QVERIFY(b->presence()->indexOf(QStringLiteral("alice")) >= 0);

        // The last connection leaves: member_removed.
        alice2.reset();
        QTRY_COMPARE(b->presence()->count(), 1);
        QCOMPARE(b->presence()->get(0).value(QStringLiteral("userId")).toString(), QStringLiteral("bob"));
    }

    void clientPublishSkipsSenderWhenAsked()
    {
        auto a = client();
        auto b = client();
        CONNECTED(a);
        CONNECTED(b);
        Channel *ca = a->subscribe(QStringLiteral("chat"));
        Channel *cb = b->subscribe(QStringLiteral("chat"));
        QTRY_VERIFY(ca->subscribed() && cb->subscribed());

        a->publish(QStringLiteral("chat"), QStringLiteral("say"), QVariantMap{{QStringLiteral("text"), QStringLiteral("one")}});
        QTRY_COMPARE(cb->messages()->count(), 1);
        QTRY_COMPARE(ca->messages()->count(), 1); // the sender gets its own message by default
        QCOMPARE(cb->messages()->get(0).value(QStringLiteral("sender")).toString(), a->sessionId());

        a->publish(QStringLiteral("chat"), QStringLiteral("say"), QVariantMap{{QStringLiteral("text"), QStringLiteral("two")}}, true);
        QTRY_COMPARE(cb->messages()->count(), 2);
        // Barrier: b's next message reaches a after "two" would have.
        b->publish(QStringLiteral("chat"), QStringLiteral("say"), QVariantMap{{QStringLiteral("text"), QStringLiteral("three")}});
        QTRY_COMPARE(cb->messages()->count(), 3);
        QTRY_COMPARE(ca->messages()->count(), 2);
        QCOMPARE(ca->messages()->get(1).value(QStringLiteral("payload")).toMap().value(QStringLiteral("text")).toString(),
                 QStringLiteral("three"));
    }

    void requestReply()
    {
        m_gateway->protocol()->setRequestHandler("echo", [](const RequestContext &context, std::shared_ptr<Responder> responder) {
            responder->reply(std::string(context.payload));
        });
        m_gateway->protocol()->setRequestHandler("fail", [](const RequestContext &, std::shared_ptr<Responder> responder) {
            responder->fail("nope", 422);
        });
        auto c = client();
        CONNECTED(c);

        int status = -1;
        QVariant reply;
        c->request(QStringLiteral("echo"), QVariantMap{{QStringLiteral("x"), 42}}, [&](int s, const QString &, const QVariant &r) {
            status = s;
            reply = r;
        });
        QTRY_COMPARE(status, 0);
        QCOMPARE(reply.toMap().value(QStringLiteral("x")).toInt(), 42);

        status = -1;
        QString message;
        c->request(QStringLiteral("fail"), QVariant(), [&](int s, const QString &m, const QVariant &) {
            status = s;
            message = m;
        });
        QTRY_COMPARE(status, 422);
        QCOMPARE(message, QStringLiteral("nope"));

        status = -1;
        c->request(QStringLiteral("no-such-topic"), 1, [&](int s, const QString &, const QVariant &) { status = s; });
        QTRY_COMPARE(status, 404);
        QCOMPARE(c->pendingOperations(), 0);
    }

    // Right after open(), as the docs' examples do: the calls wait for the connection instead of
    // failing with 503; with failFast they fail at once.
    void callsRightAfterOpenWaitForTheConnection()
    {
        m_gateway->protocol()->setRequestHandler("echo", [](const RequestContext &context, std::shared_ptr<Responder> responder) {
            responder->reply(std::string(context.payload));
        });
        auto watcher = client();
        Channel *news = watcher->subscribe(QStringLiteral("news"));
        QTRY_VERIFY_WITH_TIMEOUT(news->subscribed(), 10000);

        auto c = client(); // open() called, not connected yet
        QCOMPARE(c->state(), Client::Connecting);
        int status = -1;
        QVariant reply;
        c->request(QStringLiteral("echo"), 7, [&](int s, const QString &, const QVariant &r) {
            status = s;
            reply = r;
        });
        c->subscribe(QStringLiteral("news")); // publishing needs the subscription; it goes first
        c->publish(QStringLiteral("news"), QStringLiteral("hello"), QVariantMap{{QStringLiteral("n"), 1}});
        QCOMPARE(c->waitingCalls(), 2);
        QTRY_COMPARE_WITH_TIMEOUT(status, 0, 10000);
        QCOMPARE(reply.toInt(), 7);
        QTRY_COMPARE_WITH_TIMEOUT(news->messages()->rowCount(), 1, 10000);
        QCOMPARE(c->waitingCalls(), 0);

        auto fast = newClient();
        QSignalSpy failFastChanged(fast.get(), &Client::failFastChanged);
        fast->setFailFast(true);
        QCOMPARE(failFastChanged.count(), 1);
        fast->setUrl(QUrl(m_gateway->url()));
        fast->open();
        status = -1;
        fast->request(QStringLiteral("echo"), 7, [&](int s, const QString &, const QVariant &) { status = s; });
        QTRY_COMPARE(status, 503);
        QCOMPARE(fast->waitingCalls(), 0);
    }

    // The session's log lines reach QLoggingCategory "switchboard.client".
    void logsToItsCategory()
    {
        static QStringList lines; // the handler is a plain function
        lines.clear();
        const QtMessageHandler previous = qInstallMessageHandler([](QtMsgType type, const QMessageLogContext &context, const QString &message) {
            if (QLatin1String(context.category) == QLatin1String("switchboard.client"))
                lines << QString::number(int(type)) + QLatin1Char(' ') + message;
        });
        auto restore = qScopeGuard([previous] { qInstallMessageHandler(previous); });
        auto c = client(QStringLiteral("token-alice"));
        CONNECTED(c);
        const QString url = m_gateway->url();
        auto has = [](QtMsgType type, const QString &text) {
            return std::any_of(lines.begin(), lines.end(), [&](const QString &l) {
                return l.startsWith(QString::number(int(type)) + QLatin1Char(' ')) && l.contains(text);
            });
        };
        QVERIFY2(has(QtInfoMsg, QStringLiteral("connecting to ") + url), qPrintable(lines.join(QLatin1Char('\n'))));
        QVERIFY2(has(QtInfoMsg, QStringLiteral("connected to ") + url + QStringLiteral(": session ")), qPrintable(lines.join(QLatin1Char('\n'))));
        QVERIFY(has(QtInfoMsg, QStringLiteral(", user alice")));
        Channel *denied = c->subscribe(QStringLiteral("private-elsewhere"));
        QTRY_VERIFY(!denied->lastError().isEmpty());
        QVERIFY2(has(QtWarningMsg, QStringLiteral("on private-elsewhere")), qPrintable(lines.join(QLatin1Char('\n'))));
        m_gateway->stop();
        QTRY_VERIFY_WITH_TIMEOUT(has(QtInfoMsg, QStringLiteral("connection to ") + url + QStringLiteral(" closed: code ")), 10000);
    }

    // The server subscribes the client (Gateway::subscribeUser): a Channel appears, receives the
    // channel's messages, and goes when the server ends the subscription.
    void serverSubscriptionsBecomeChannels()
    {
        auto c = client(QStringLiteral("token-alice"));
        CONNECTED(c);
        QSignalSpy subscribed(c.get(), &Client::serverSubscribed);
        QSignalSpy unsubscribed(c.get(), &Client::serverUnsubscribed);
        QCOMPARE(m_gateway->subscribeUser(QStringLiteral("alice"), QStringLiteral("alerts")), 1);
        QTRY_COMPARE_WITH_TIMEOUT(subscribed.count(), 1, 10000);
        auto *alerts = subscribed.first().first().value<Channel *>();
        QVERIFY(alerts);
        QCOMPARE(c->channel(QStringLiteral("alerts")), alerts);
        QVERIFY(alerts->subscribed());
        m_gateway->publish(QStringLiteral("alerts"), QStringLiteral("fire"), QVariantMap{{QStringLiteral("room"), 1}});
        QTRY_COMPARE_WITH_TIMEOUT(alerts->messages()->rowCount(), 1, 10000);
        QPointer<Channel> guard(alerts);
        QCOMPARE(m_gateway->unsubscribeUser(QStringLiteral("alice"), QStringLiteral("alerts")), 1);
        QTRY_COMPARE_WITH_TIMEOUT(unsubscribed.count(), 1, 10000);
        QCOMPARE(unsubscribed.first().first().toString(), QStringLiteral("alerts"));
        QVERIFY(!c->channel(QStringLiteral("alerts")));
        QTRY_VERIFY(guard.isNull()); // deleted later
    }

    void reconnectResubscribeRecover()
    {
        auto c = client();
        CONNECTED(c);
        Channel *feed = c->subscribe(QStringLiteral("feed"));
        QTRY_VERIFY(feed->subscribed());
        m_gateway->publish(QStringLiteral("feed"), QStringLiteral("tick"), 1);
        QTRY_COMPARE(feed->messages()->count(), 1);
        const QString firstSession = c->sessionId();
        const int port = m_gateway->port();

        QSignalSpy states(c.get(), &Client::stateChanged);
        m_gateway->stop();
        QVERIFY(!m_gateway->running());
        QTRY_COMPARE_WITH_TIMEOUT(c->state(), Client::Reconnecting, 10000);
        QTRY_VERIFY(!feed->subscribed());
        // Published while the gateway is down: kept in the channel's history.
        m_gateway->publish(QStringLiteral("feed"), QStringLiteral("tick"), 2);
        m_gateway->publish(QStringLiteral("feed"), QStringLiteral("tick"), 3);

        QVERIFY(m_gateway->start());
        QCOMPARE(m_gateway->port(), port); // the same port again
        CONNECTED(c);
        QVERIFY(c->sessionId() != firstSession);
        QTRY_VERIFY(feed->subscribed());
        QTRY_COMPARE(feed->messages()->count(), 3);
        QVERIFY(feed->recovered());
        QCOMPARE(feed->messages()->get(1).value(QStringLiteral("payload")).toInt(), 2);
        QCOMPARE(feed->messages()->get(2).value(QStringLiteral("payload")).toInt(), 3);
        QVERIFY(states.count() >= 2);
    }

    /// A session whose token expires is told so by the Qt gateway and refreshes it in place:
    /// the Client asks its token provider and the connection (and its channel) lives on.
    void tokenRefreshedInPlace()
    {
        ServerProtocol *protocol = m_gateway->protocol();
        QElapsedTimer clock;
        clock.start();
        protocol->setConnectAuthenticator([](std::string_view token) {
            ConnectDecision decision;
            decision.principal.userId = token.starts_with("carol") ? "carol" : "mallory";
            decision.expiresAtMs = QDateTime::currentMSecsSinceEpoch() + 2'000; // hint after 1 s
            return decision;
        });
        auto c = newClient();
        c->setUrl(QUrl(m_gateway->url()));
        int issued = 0;
        c->setTokenProvider([&issued](std::function<void(const QString &)> deliver) {
            deliver(QStringLiteral("carol-%1").arg(++issued));
        });
        c->open();
        CONNECTED(c);
        Channel *feed = c->subscribe(QStringLiteral("feed"));
        QTRY_VERIFY(feed->subscribed());
        const QString session = c->sessionId();
        QSignalSpy states(c.get(), &Client::stateChanged);
        // Twice the token's lifetime: refreshed at least twice, never closed.
        QTRY_VERIFY_WITH_TIMEOUT(protocol->counters().tokenRefreshes >= 2 && clock.elapsed() > 4'000, 10'000);
        QCOMPARE(c->state(), Client::Connected);
        QCOMPARE(c->sessionId(), session);
        QCOMPARE(states.count(), 0);
        QCOMPARE(protocol->counters().tokenExpirations, std::uint64_t(0));
        QVERIFY(issued >= 3);
        m_gateway->publish(QStringLiteral("feed"), QStringLiteral("tick"), 1);
        QTRY_COMPARE(feed->messages()->count(), 1);
    }

    /// A private channel allowed for 2 s at a time: the Qt gateway hints before each end, the
    /// Client sends the subscribe's auth again, the authorizer extends it; the channel stays.
    void channelAuthorizationRefreshedInPlace()
    {
        int asked = 0;
        m_gateway->setAuthorizer([&asked](const AuthRequest &request) {
            ++asked;
            AuthDecision decision;
            decision.allowed = request.auth == "grant";
            decision.expiresAtMs = QDateTime::currentMSecsSinceEpoch() + 2'000;
            return decision;
        });
        auto c = client();
        CONNECTED(c);
        Channel *ops = c->subscribe(QStringLiteral("private-ops"), {{QStringLiteral("auth"), QStringLiteral("grant")}});
        QTRY_VERIFY(ops->subscribed());
        QElapsedTimer clock;
        clock.start();
        QTRY_VERIFY_WITH_TIMEOUT(clock.elapsed() > 4'500, 10'000);
        QVERIFY(ops->subscribed());
        QVERIFY2(asked >= 3, std::to_string(asked).c_str());
        const HubCounters counters = m_gateway->hub()->counters();
        QVERIFY(counters.channelAuthorizationRefreshes >= 2);
        QCOMPARE(counters.channelAuthorizationExpirations, std::uint64_t(0));
        m_gateway->publish(QStringLiteral("private-ops"), QStringLiteral("alert"), 1);
        QTRY_COMPARE(ops->messages()->count(), 1);
    }

    void failoverToAnotherGateway()
    {
        Gateway other;
        other.setStatsInterval(0);
        QVERIFY(other.start());
        auto c = newClient();
        QCOMPARE(c->currentUrl(), QUrl());
        c->setUrl(QUrl(QStringLiteral("ws://127.0.0.1:1/ignored"))); // urls, when set, take precedence
        QSignalSpy currentUrls(c.get(), &Client::currentUrlChanged);
        QSignalSpy urlsSpy(c.get(), &Client::urlsChanged);
        c->setUrls({m_gateway->url(), other.url()});
        QCOMPARE(urlsSpy.count(), 1);
        QCOMPARE(c->urls(), (QStringList{m_gateway->url(), other.url()}));
        QCOMPARE(c->currentUrl(), QUrl(m_gateway->url()));
        c->open();
        CONNECTED(c);
        Channel *feed = c->subscribe(QStringLiteral("feed"));
        QTRY_VERIFY(feed->subscribed());
        currentUrls.clear();

        // The first gateway goes away: the client moves to the second and subscribes there.
        m_gateway->stop();
        QTRY_COMPARE_WITH_TIMEOUT(c->currentUrl(), QUrl(other.url()), 10000);
        QVERIFY(currentUrls.count() >= 1);
        CONNECTED(c);
        QTRY_VERIFY(feed->subscribed());
        other.publish(QStringLiteral("feed"), QStringLiteral("tick"), 7);
        QTRY_COMPARE(feed->messages()->count(), 1);
        QCOMPARE(c->currentUrl(), QUrl(other.url()));
    }

    void roundTripTime()
    {
        auto c = newClient();
        QCOMPARE(c->roundTripTime(), -1.0);
        QCOMPARE(c->pingInterval(), 2000);
        QSignalSpy changes(c.get(), &Client::roundTripTimeChanged);
        QElapsedTimer sinceOpen;
        sinceOpen.start();
        c->setUrl(QUrl(m_gateway->url()));
        c->open();
        CONNECTED(c);
        // The first probe goes out with the connection, not an interval later.
        QTRY_VERIFY_WITH_TIMEOUT(c->roundTripTime() >= 0, 1500);
        const double first = c->roundTripTime();
        QVERIFY(std::isfinite(first));
        QVERIFY2(first <= double(sinceOpen.elapsed()) + 1, qPrintable(QString::number(first)));
        QCOMPARE(changes.count(), 1);
        qInfo("first round trip on 127.0.0.1: %.3f ms", first);

        // Shorter interval: probes keep coming, each one a fresh measurement.
        std::vector<double> figures{first};
        const QMetaObject::Connection collect = QObject::connect(
            c.get(), &Client::roundTripTimeChanged, c.get(), [&] { figures.push_back(c->roundTripTime()); });
        QSignalSpy intervalChanges(c.get(), &Client::pingIntervalChanged);
        c->setPingInterval(10);
        QCOMPARE(intervalChanges.count(), 1);
        QTRY_VERIFY_WITH_TIMEOUT(changes.count() >= 6, 5000);
        QVERIFY(c->roundTripTime() >= 0 && std::isfinite(c->roundTripTime()));
        // Microsecond resolution, not whole milliseconds: loopback figures have fractions.
        QVERIFY(std::any_of(figures.begin(), figures.end(), [](double ms) { return ms != std::floor(ms); }));
        qInfo("round trips on 127.0.0.1: %d figures, min %.3f ms, max %.3f ms", int(figures.size()),
              *std::min_element(figures.begin(), figures.end()), *std::max_element(figures.begin(), figures.end()));
        QObject::disconnect(collect);

        // 0 switches probing off and forgets the figure; a positive interval probes at once.
        c->setPingInterval(0);
        QCOMPARE(c->roundTripTime(), -1.0);
        c->setPingInterval(-5);
        QCOMPARE(c->pingInterval(), 0);
        QCOMPARE(intervalChanges.count(), 2);
        c->setPingInterval(60000);
        QTRY_VERIFY_WITH_TIMEOUT(c->roundTripTime() >= 0, 1500);

        // Unknown again as soon as the connection is gone, measured again after reconnecting.
        m_gateway->stop();
        QTRY_COMPARE_WITH_TIMEOUT(c->state(), Client::Reconnecting, 10000);
        QCOMPARE(c->roundTripTime(), -1.0);
        QVERIFY(m_gateway->start());
        CONNECTED(c);
        QTRY_VERIFY_WITH_TIMEOUT(c->roundTripTime() >= 0, 1500);
        c->close();
        QCOMPARE(c->state(), Client::Closed);
        QCOMPARE(c->roundTripTime(), -1.0);
    }

    void unsubscribeStopsDelivery()
    {
        auto c = client();
        auto other = client();
        CONNECTED(c);
        CONNECTED(other);
        QPointer<Channel> ch = c->subscribe(QStringLiteral("temp"));
        Channel *keep = c->subscribe(QStringLiteral("keep"));
        QTRY_VERIFY(ch->subscribed() && keep->subscribed());
        c->unsubscribe(QStringLiteral("temp"));
        QTRY_VERIFY(ch.isNull());
        QTRY_COMPARE(m_gateway->hub()->subscriberCount("temp"), std::size_t(0));
        QVERIFY(c->channel(QStringLiteral("temp")) == nullptr);
        QCOMPARE(c->channel(QStringLiteral("keep")), keep);
    }
};

QTEST_GUILESS_MAIN(TestClient)
#include "tst_client.moc"
