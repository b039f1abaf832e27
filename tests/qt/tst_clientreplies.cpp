// Replies between Qt Clients and waitFor(), through an in-process Gateway over real sockets on
// 127.0.0.1 (OS-chosen port): the C++ forms, and the QML forms' Promises in a QJSEngine.

#include <switchboard/qt/Client.h>
#include <switchboard/qt/Gateway.h>
#include <switchboard/qt/MessageModel.h>

#include <QJSEngine>
#include <QQmlEngine>
#include <QSignalSpy>
#include <QTest>

#include <memory>

using namespace switchboard;
using namespace switchboard::qt;

#define CONNECTED(client) QTRY_COMPARE_WITH_TIMEOUT((client)->state(), Client::Connected, 10000)

class TestClientReplies : public QObject
{
    Q_OBJECT

private:
    std::unique_ptr<Gateway> m_gateway;

    std::unique_ptr<Client> client()
    {
        auto c = std::make_unique<Client>();
        c->setUrl(QUrl(m_gateway->url()));
        c->setPingInterval(0);
        c->open();
        return c;
    }

private Q_SLOTS:
    void init()
    {
        m_gateway = std::make_unique<Gateway>();
        m_gateway->setStatsInterval(0);
        QVERIFY(m_gateway->start());
    }

    void cleanup() { m_gateway.reset(); }

    void publishForReplyGetsTheSubscribersReply()
    {
        auto asker = client();
        auto answerer = client();
        CONNECTED(asker);
        CONNECTED(answerer);
        Channel *mine = asker->subscribe(QStringLiteral("chat"));
        Channel *theirs = answerer->subscribe(QStringLiteral("chat"));
        QTRY_VERIFY(mine->subscribed() && theirs->subscribed());

        int replyStatus = -1;
        connect(theirs, &Channel::messageReceived, this,
                [&](const QString &, const QVariant &payload, const QString &replyTo) {
                    QVERIFY(!replyTo.isEmpty());
                    answerer->reply(replyTo, QVariantMap{{QStringLiteral("answer"), payload.toMap().value(QStringLiteral("q")).toInt() * 2}},
                                    [&](int status, const QString &) { replyStatus = status; });
                });

        int status = -1;
        QVariant answer;
        QString from;
        asker->publishForReply(QStringLiteral("chat"), QStringLiteral("question"), QVariantMap{{QStringLiteral("q"), 21}},
                               [&](int s, const QString &, const QVariant &payload, const QString &replier) {
                                   status = s;
                                   answer = payload;
                                   from = replier;
                               },
                               {{QStringLiteral("skipSelf"), true}});
        QTRY_COMPARE_WITH_TIMEOUT(status, 0, 10000);
        QCOMPARE(answer.toMap().value(QStringLiteral("answer")).toInt(), 42);
        QCOMPARE(from, answerer->sessionId());
        QTRY_COMPARE(replyStatus, 0);
        QCOMPARE(asker->pendingOperations(), 0);
        // The model row carries the token too; skipSelf kept the asker's own copy away.
        QCOMPARE(theirs->messages()->count(), 1);
        QVERIFY(!theirs->messages()->get(0).value(QStringLiteral("replyTo")).toString().isEmpty());
        QCOMPARE(mine->messages()->count(), 0);
    }

    void unansweredPublishTimesOut()
    {
        auto asker = client();
        auto listener = client();
        CONNECTED(asker);
        CONNECTED(listener);
        Channel *mine = asker->subscribe(QStringLiteral("quiet"));
        Channel *theirs = listener->subscribe(QStringLiteral("quiet"));
        QTRY_VERIFY(mine->subscribed() && theirs->subscribed());
        int status = -1;
        asker->publishForReply(QStringLiteral("quiet"), QStringLiteral("q"), 1,
                               [&](int s, const QString &, const QVariant &, const QString &) { status = s; },
                               {{QStringLiteral("timeout"), 300}});
        QTRY_COMPARE(theirs->messages()->count(), 1); // delivered, nobody answers
        QTRY_COMPARE_WITH_TIMEOUT(status, 408, 5000);
    }

    void replyWithoutTokenIsRefused()
    {
        auto c = client();
        CONNECTED(c);
        int status = -1;
        c->reply(QString(), 1, [&](int s, const QString &) { status = s; });
        QTRY_COMPARE(status, 400);
    }

    void waitForEventTimeoutAndClose()
    {
        auto c = client();
        auto other = client();
        CONNECTED(c);
        CONNECTED(other);
        Channel *ch = c->subscribe(QStringLiteral("feed"));
        Channel *och = other->subscribe(QStringLiteral("feed"));
        QTRY_VERIFY(ch->subscribed() && och->subscribed());

        int status = -1;
        QVariantMap seen;
        c->waitFor(QStringLiteral("feed.*"), 5000, [&](int s, const QVariantMap &event) {
            status = s;
            seen = event;
        });
        other->publish(QStringLiteral("feed"), QStringLiteral("tick"), QVariantMap{{QStringLiteral("n"), 3}});
        QTRY_COMPARE(status, 0);
        QCOMPARE(seen.value(QStringLiteral("key")).toString(), QStringLiteral("feed.tick"));
        QCOMPARE(seen.value(QStringLiteral("data")).toMap().value(QStringLiteral("n")).toInt(), 3);
        QCOMPARE(seen.value(QStringLiteral("sender")).toString(), other->sessionId());

        status = -1;
        c->waitFor(QStringLiteral("feed.never"), 200, [&](int s, const QVariantMap &) { status = s; });
        QTRY_COMPARE(status, 408);

        status = -1;
        c->waitFor(QStringLiteral("feed.never"), 10000, [&](int s, const QVariantMap &) { status = s; });
        c->close();
        QTRY_COMPARE(status, 499);
    }

    // The QML forms: Promises (and callbacks) in a JavaScript engine, one client asking, the
    // other answering from a waitFor() event.
    void qmlPromises()
    {
        QJSEngine engine;
        engine.installExtensions(QJSEngine::ConsoleExtension);
        auto asker = client();
        auto answerer = client();
        QQmlEngine::setObjectOwnership(asker.get(), QQmlEngine::CppOwnership);
        QQmlEngine::setObjectOwnership(answerer.get(), QQmlEngine::CppOwnership);
        engine.globalObject().setProperty(QStringLiteral("asker"), engine.newQObject(asker.get()));
        engine.globalObject().setProperty(QStringLiteral("answerer"), engine.newQObject(answerer.get()));
        CONNECTED(asker);
        CONNECTED(answerer);
        Channel *mine = asker->subscribe(QStringLiteral("room"));
        Channel *theirs = answerer->subscribe(QStringLiteral("room"));
        QTRY_VERIFY(mine->subscribed() && theirs->subscribed());

        const QJSValue result = engine.evaluate(QStringLiteral(R"(
            var state = { answered: "", asked: "", callback: "", waitError: 0, replyError: 0 };
            answerer.waitFor("room.question", 5000)
                .then(function(e) { return answerer.reply(e, { echo: e.data.text }); })
                .then(function(ok) { state.answered = String(ok); });
            asker.publishForReply("room", "question", { text: "ping" },
                                  function(err, r) { state.callback = err ? "error" : r.payload.echo; },
                                  { skipSelf: true })
                .then(function(r) { state.asked = r.payload.echo + "@" + r.from; });
            answerer.waitFor("room.nothing", 100).catch(function(e) { state.waitError = e.status; });
            answerer.reply("", 1).catch(function(e) { state.replyError = e.status; });
            state;
        )"));
        QVERIFY2(!result.isError(), qPrintable(result.toString()));
        const auto field = [&](const char *name) { return result.property(QString::fromLatin1(name)); };
        QTRY_COMPARE_WITH_TIMEOUT(field("asked").toString(), QStringLiteral("ping@") + answerer->sessionId(), 10000);
        QCOMPARE(field("callback").toString(), QStringLiteral("ping"));
        QTRY_COMPARE(field("answered").toString(), QStringLiteral("true"));
        QTRY_COMPARE(field("waitError").toInt(), 408);
        QTRY_COMPARE(field("replyError").toInt(), 400);
    }
};

QTEST_MAIN(TestClientReplies)
#include "tst_clientreplies.moc"
