// /api/channels on the Redis engine lists the channels whose history lives in Redis with nobody
// subscribed on any node (0 subscribers), beside the channels with subscribers, the same from
// every node; the listing is bounded (SCAN with COUNT, at most 10000 history-only channels, then
// "truncated": true) and a large keyspace does not stall the node.
#include "ClusterHelpers.h"

#include <QElapsedTimer>

using namespace clustertest;

namespace {

const QString kPrefix = "histlist:";

/// name -> subscribers of one /api/channels answer; {"status": N} when it was not 200.
QHash<QString, int> listed(const HttpResult &r)
{
    QHash<QString, int> out;
    if (r.status != 200)
        return {{"status", r.status}};
    for (const QJsonValue &ch : r.json()["channels"].toArray())
        out.insert(ch.toObject()["name"].toString(), ch.toObject()["subscribers"].toInt(-1));
    return out;
}

} // namespace

class TestClusterHistoryChannels : public QObject {
    Q_OBJECT

private:
    RedisProcess redis;
    GatewayProcess a, b;
    QNetworkAccessManager nam;

    /// One command to the test's Redis in RESP (binary-safe arguments); its first reply line.
    QByteArray redisCommand(const QList<QByteArray> &args, int timeoutMs = 10000)
    {
        QTcpSocket socket;
        socket.connectToHost(QHostAddress::LocalHost, redis.port());
        if (!socket.waitForConnected(2000))
            return {};
        QByteArray request = "*" + QByteArray::number(args.size()) + "\r\n";
        for (const QByteArray &arg : args)
            request += "$" + QByteArray::number(arg.size()) + "\r\n" + arg + "\r\n";
        socket.write(request);
        QByteArray reply;
        QDeadlineTimer deadline(timeoutMs);
        while (!reply.contains("\r\n") && !deadline.hasExpired() && socket.waitForReadyRead(int(deadline.remainingTime())))
            reply += socket.readAll();
        return reply;
    }

private slots:
    void initTestCase()
    {
        QVERIFY(startCluster(redis, nam, kPrefix, {&a, &b}));
    }

    void historyOnlyChannelsAreListed()
    {
        // `news` only has history (published on A over HTTP, nobody subscribed anywhere); `live`
        // has one subscriber on B.
        for (int i = 0; i < 3; ++i)
            QCOMPARE(publishText(nam, a, "news", QString::number(i)).status, 200);
        WsClient onB;
        QVERIFY(onB.connectSession(b));
        QVERIFY(subscribe(onB, "live"));

        // Both nodes list both, `news` with 0 subscribers (`live` appears once B's beat recorded it).
        for (GatewayProcess *g : {&a, &b}) {
            QHash<QString, int> answer;
            QDeadlineTimer deadline(5000);
            do {
                answer = listed(http(nam, "GET", g->url("/api/channels")));
                if (answer.value("live") == 1 && answer.contains("news"))
                    break;
                QTest::qWait(50);
            } while (!deadline.hasExpired());
            QVERIFY2(answer.contains("news"), qPrintable(QStringList(answer.keys()).join(',')));
            QCOMPARE(answer.value("news"), 0);
            QCOMPARE(answer.value("live"), 1);
        }
        // Ordered by name, and not truncated.
        const QJsonObject body = http(nam, "GET", a.url("/api/channels")).json();
        QVERIFY(!body.value("truncated").toBool());
        QStringList names;
        for (const QJsonValue &ch : body["channels"].toArray())
            names << ch.toObject()["name"].toString();
        QStringList sorted = names;
        sorted.sort();
        QCOMPARE(names, sorted);

        // A channel whose history expired (its keys are gone from Redis) is no longer listed.
        QCOMPARE(redisCommand({"DEL", kPrefix.toUtf8() + "{news}:meta", kPrefix.toUtf8() + "{news}:stream"}), QByteArray(":2\r\n"));
        QVERIFY(!listed(http(nam, "GET", b.url("/api/channels"))).contains("news"));
    }

    void listingIsBounded()
    {
        // 20000 history streams (written straight into Redis, as 20000 publishes would leave
        // them) and other keys under the prefix that are not streams.
        const QByteArray fill =
            "for i = 1, 20000 do redis.call('XADD', ARGV[1] .. '{bulk/' .. i .. '}:stream', '1-0', 'b', 'x') end "
            "for i = 1, 1000 do redis.call('SET', ARGV[1] .. '{other/' .. i .. '}:stream-not', 'x') end return 1";
        QCOMPARE(redisCommand({"EVAL", fill, "0", kPrefix.toUtf8()}, 30000), QByteArray(":1\r\n"));

        // While listings scan (three at once, asynchronous), the node keeps answering.
        QNetworkRequest request(a.url("/api/channels"));
        request.setRawHeader("X-API-Key", kApiKey);
        QElapsedTimer timer;
        timer.start();
        std::vector<std::unique_ptr<QNetworkReply>> listings;
        for (int i = 0; i < 3; ++i)
            listings.emplace_back(nam.get(request));
        QElapsedTimer health;
        health.start();
        QCOMPARE(http(nam, "GET", a.url("/healthz"), {}, false).status, 200);
        const qint64 healthMs = health.elapsed();
        for (const auto &reply : listings) {
            QSignalSpy finished(reply.get(), &QNetworkReply::finished);
            QVERIFY(reply->isFinished() || finished.wait(20000));
        }
        const qint64 listingMs = timer.elapsed();
        for (const auto &reply : listings) {
            QCOMPARE(reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt(), 200);
            const QJsonObject body = QJsonDocument::fromJson(reply->readAll()).object();
            const QJsonArray channels = body["channels"].toArray();
            int historyOnly = 0;
            for (const QJsonValue &ch : channels)
                historyOnly += ch.toObject()["subscribers"].toInt() == 0 ? 1 : 0;
            QCOMPARE(historyOnly, 10000);
            QVERIFY(body["truncated"].toBool());
        }
        qInfo("three listings over 20000 history streams: %lld ms; /healthz meanwhile: %lld ms", listingMs, healthMs);
        QVERIFY2(healthMs < 1000, qPrintable(QString::number(healthMs)));
    }
};

QTEST_MAIN(TestClusterHistoryChannels)
#include "tst_clusterhistorychannels.moc"
