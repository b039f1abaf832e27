// switchboard-gateway --history-snapshot: history survives a graceful restart, so a client that
// recovers with the position it saw before the restart gets exactly what it missed (published
// before the shutdown and after the new start); a corrupt snapshot is set aside and the gateway
// starts with empty history.
#include "GatewayProcess.h"

#include <QFile>
#include <QTemporaryDir>

using namespace gatewaytest;

class tst_GatewaySnapshot : public QObject
{
    Q_OBJECT

private slots:
    void restartRecovers_data();
    void restartRecovers();
    void corruptSnapshotIsSetAside();

private:
    /// SIGTERM, then the exit code (-1 when it did not exit in time or crashed).
    static int terminate(GatewayProcess &g)
    {
        g.process().terminate();
        if (!g.process().waitForFinished(10000) || g.process().exitStatus() != QProcess::NormalExit)
            return -1;
        return g.process().exitCode();
    }
    /// Subscribes to `channel` (with `recover` when not empty); returns the `subscribed` frame.
    static std::optional<QJsonObject> subscribe(WsClient &c, const QString &channel, const QJsonObject &recover = {})
    {
        QJsonObject frame{{"op", "subscribe"}, {"channel", channel}, {"ackId", 1}};
        if (!recover.isEmpty())
            frame["recover"] = recover;
        c.send(frame);
        return c.waitFor("subscribed", 1);
    }
    /// The stored position of a single-channel HTTP publish: {"publications":[{channel, offset, epoch}]}.
    static QJsonObject stored(const HttpResult &result)
    {
        return result.json()["publications"].toArray().first().toObject();
    }
    static QStringList texts(const QJsonArray &publications)
    {
        QStringList out;
        for (const auto &p : publications)
            out << p.toObject()["data"].toObject()["text"].toString();
        return out;
    }
};

void tst_GatewaySnapshot::restartRecovers_data()
{
    QTest::addColumn<bool>("withSnapshot");
    QTest::addColumn<bool>("recovered");
    QTest::addColumn<QStringList>("missed");
    QTest::newRow("with --history-snapshot") << true << true << QStringList{"three", "four", "five", "six"};
    // Without: the old epoch's history is lost; the new epoch's is replayed, recovered false.
    QTest::newRow("without: history is lost") << false << false << QStringList{"five", "six"};
}

void tst_GatewaySnapshot::restartRecovers()
{
    QFETCH(bool, withSnapshot);
    QFETCH(bool, recovered);
    QFETCH(QStringList, missed);

    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const QString snapshot = dir.filePath("history.json");
    QNetworkAccessManager nam;
    auto publishText = [&](const GatewayProcess &g, const QString &text) {
        return publish(nam, g, {{"channel", "feed"}, {"event", "say"}, {"data", QJsonObject{{"text", text}}}});
    };

    // First run: a client sees "one" and "two", then goes away; "three" and "four" follow.
    GatewayProcess first;
    QVERIFY(first.start(withSnapshot ? QStringList{"--history-snapshot", snapshot} : QStringList{}));
    QJsonObject seen;
    {
        WsClient client;
        QVERIFY(client.connectSession(first));
        const auto subscribed = subscribe(client, "feed");
        QVERIFY(subscribed);
        const QString epoch = (*subscribed)["epoch"].toString();
        QVERIFY(!epoch.isEmpty());
        QCOMPARE(publishText(first, "one").status, 200);
        QCOMPARE(publishText(first, "two").status, 200);
        QVERIFY(client.waitFor("message"));
        const auto last = client.waitFor("message");
        QVERIFY(last);
        QCOMPARE((*last)["offset"].toInt(), 2);
        seen = {{"offset", (*last)["offset"]}, {"epoch", epoch}};
    }
    QCOMPARE(publishText(first, "three").status, 200);
    QCOMPARE(publishText(first, "four").status, 200);
    QCOMPARE(terminate(first), 0);
    QCOMPARE(QFile::exists(snapshot), withSnapshot);
    QVERIFY(!QFile::exists(snapshot + ".tmp"));

    // Second run, configured through the JSON key this time: "five" and "six" are published
    // before the client is back.
    QFile config(dir.filePath("gateway.json"));
    QVERIFY(config.open(QIODevice::WriteOnly));
    config.write(QJsonDocument(QJsonObject{{"historySnapshot", snapshot}}).toJson());
    config.close();
    GatewayProcess second;
    QVERIFY(second.start({"--config", config.fileName()}));
    QVERIFY(!QFile::exists(snapshot)); // consumed: a crash from here on must not restore it
    const auto five = publishText(second, "five");
    QCOMPARE(five.status, 200);
    QCOMPARE(stored(five)["offset"].toInt(), withSnapshot ? 5 : 1);
    QCOMPARE(stored(five)["epoch"].toString() == seen["epoch"].toString(), withSnapshot);
    QCOMPARE(publishText(second, "six").status, 200);

    WsClient back;
    QVERIFY(back.connectSession(second));
    const auto subscribed = subscribe(back, "feed", seen);
    QVERIFY(subscribed);
    QCOMPARE((*subscribed)["recovered"].toBool(), recovered);
    const QJsonArray publications = (*subscribed)["publications"].toArray();
    QCOMPARE(texts(publications), missed);
    for (qsizetype i = 0; i < publications.size(); ++i)
        QCOMPARE(publications[i].toObject()["offset"].toInt(), int(i) + (withSnapshot ? 3 : 1));
    // Live again after the recovery, in the same stream.
    QCOMPARE(publishText(second, "seven").status, 200);
    const auto seven = back.waitFor("message");
    QVERIFY(seven);
    QCOMPARE((*seven)["data"].toObject()["text"].toString(), QStringLiteral("seven"));
    QCOMPARE((*seven)["offset"].toInt(), withSnapshot ? 7 : 3);

    QCOMPARE(terminate(second), 0);
    QCOMPARE(QFile::exists(snapshot), true); // the JSON key names the same file
}

void tst_GatewaySnapshot::corruptSnapshotIsSetAside()
{
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const QString snapshot = dir.filePath("history.json");
    QFile file(snapshot);
    QVERIFY(file.open(QIODevice::WriteOnly));
    file.write(R"({"format":"switchboard-history-snapshot","version":1,"streams":[{"channel":"feed","epoch":"x","top":)");
    file.close();

    GatewayProcess g;
    QVERIFY(g.start({"--history-snapshot", snapshot}));
    QVERIFY(QFile::exists(snapshot + ".rejected"));
    QVERIFY(!QFile::exists(snapshot));
    QNetworkAccessManager nam;
    const auto first = publish(nam, g, {{"channel", "feed"}, {"data", 1}});
    QCOMPARE(first.status, 200);
    QCOMPARE(stored(first)["offset"].toInt(), 1); // empty history
    WsClient client;
    QVERIFY(client.connectSession(g));
    const auto subscribed = subscribe(client, "feed", {{"offset", 0}, {"epoch", "x"}});
    QVERIFY(subscribed);
    QCOMPARE((*subscribed)["recovered"].toBool(), false);
    QCOMPARE(terminate(g), 0);

    // The snapshot written at shutdown replaces the bad one and is read by the next start.
    QVERIFY(QFile::exists(snapshot));
    GatewayProcess again;
    QVERIFY(again.start({"--history-snapshot", snapshot}));
    const auto second = publish(nam, again, {{"channel", "feed"}, {"data", 2}});
    QCOMPARE(stored(second)["offset"].toInt(), 2);
    QCOMPARE(stored(second)["epoch"].toString(), stored(first)["epoch"].toString());
    QCOMPARE(terminate(again), 0);
}

QTEST_MAIN(tst_GatewaySnapshot)
#include "tst_gatewaysnapshot.moc"
