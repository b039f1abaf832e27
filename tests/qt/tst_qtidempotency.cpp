// Idempotent publish through the Qt gateway over real sockets on 127.0.0.1: a Client's publish
// whose ack is lost with the connection (a proxy drops the gateway's answers, then cuts) is sent
// again after the reconnect with the same key, its callback gets the original offset, and
// subscribers get it once; with the gateway's idempotencyWindow 0 the same retry is delivered
// twice (what the key prevents).
#include "../support/CuttingProxy.h"

#include <switchboard/qt/Channel.h>
#include <switchboard/qt/Client.h>
#include <switchboard/qt/Gateway.h>

#include <QSignalSpy>
#include <QTest>

#include <memory>

using namespace switchboard::qt;

class TestQtIdempotency : public QObject {
    Q_OBJECT

private:
    struct Ack {
        int calls = 0;
        int status = -1;
        quint64 offset = 0;
    };

    /// Runs the lost-ack scenario on a gateway with `windowMs`; returns the messages the
    /// subscriber got and fills `ack`.
    int publishAcrossACut(int windowMs, Ack &ack)
    {
        Gateway gateway;
        gateway.setStatsInterval(0);
        gateway.setIdempotencyWindow(windowMs);
        if (!gateway.start())
            return -1;
        testsupport::CuttingProxy proxy;
        if (!proxy.listen(quint16(gateway.port())))
            return -2;

        Client subscriber;
        subscriber.setUrl(QUrl(gateway.url()));
        subscriber.open();
        Channel *watched = subscriber.subscribe(QStringLiteral("orders"));
        QSignalSpy messages(watched, &Channel::messageReceived);

        Client publisher;
        publisher.setUrl(QUrl(QStringLiteral("ws://127.0.0.1:%1/ws").arg(proxy.port())));
        publisher.open();
        Channel *own = publisher.subscribe(QStringLiteral("orders")); // clients publish where subscribed
        if (!QTest::qWaitFor([&] { return watched->subscribed() && own->subscribed(); }, 10000))
            return -3;

        proxy.setDropReplies(true);
        publisher.publishWithAck(QStringLiteral("orders"), QStringLiteral("created"), QVariantMap{{"id", 17}},
                                 [&ack](int status, const QString &, quint64 offset) {
                                     ++ack.calls;
                                     ack.status = status;
                                     ack.offset = offset;
                                 },
                                 {{"skipSelf", true}});
        // The gateway took it (the subscriber has it); its ack went nowhere.
        if (!QTest::qWaitFor([&] { return messages.size() == 1; }, 10000))
            return -4;
        if (ack.calls != 0)
            return -5;
        proxy.cutAll();
        if (!QTest::qWaitFor([&] { return ack.calls == 1; }, 10000))
            return -6;
        if (proxy.accepted() < 2)
            return -7; // the answer came over a new connection
        QTest::qWait(300); // a second delivery would be here by now
        return int(messages.size());
    }

private slots:
    void aRetryAfterALostAckIsDeliveredOnce()
    {
        Ack ack;
        QCOMPARE(publishAcrossACut(300000, ack), 1);
        QCOMPARE(ack.status, 0);
        QCOMPARE(ack.offset, quint64(1)); // the original publication's
    }

    void withoutAWindowTheRetryIsDeliveredAgain()
    {
        Ack ack;
        QCOMPARE(publishAcrossACut(0, ack), 2);
        QCOMPARE(ack.status, 0);
        QCOMPARE(ack.offset, quint64(2));
    }
};

QTEST_MAIN(TestQtIdempotency)
#include "tst_qtidempotency.moc"
