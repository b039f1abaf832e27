// rediss://: two gateways reach a TLS-only Redis through the gateway's TLS tunnel (hiredis 0.14
// has no TLS) and act as one service; the Redis certificate is verified (CA and address), and a
// node that cannot verify it stays unavailable (503) with the certificate failure in its log,
// never falling back to plaintext.
#include "ClusterHelpers.h"

#include "../support/TestCertificates.h"

#include <QDir>
#include <QHostInfo>

using namespace clustertest;

class TestClusterTls : public QObject {
    Q_OBJECT

private:
    QNetworkAccessManager nam;
    testsupport::TestCertificates certs;
    RedisProcess redis;

    QString file(const QString &name) const { return certs.file(name); }

    QStringList tlsArgs(const QString &ca, const QString &host = "127.0.0.1") const
    {
        return {"--engine", QStringLiteral("rediss://%1:%2").arg(host).arg(redis.port()), "--engine-tls-ca", file(ca),
                "--engine-prefix", "tls:", "--engine-reconnect-max", "200"};
    }

private slots:
    void initTestCase()
    {
        QVERIFY(certs.isValid());
        // A CA, a Redis certificate it signs for 127.0.0.1 and localhost only, and a CA that
        // signed nothing here.
        QVERIFY(certs.makeCa("ca"));
        QVERIFY(certs.makeCa("stranger"));
        QVERIFY(certs.makeCertificate("redis", "ca", "IP:127.0.0.1,DNS:localhost"));
        redis.useTls(file("redis.pem"), file("redis.key"), file("ca.pem"));
        QVERIFY(redis.start());
    }

    void publishOnOneNodeReachesTheOtherOverTls()
    {
        GatewayProcess a, b;
        a.captureLog();
        // A's tunnels offer hiredis their unix sockets under this TMPDIR, each removed once used.
        QVERIFY(QDir(file(".")).mkpath("tunnels"));
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert("TMPDIR", file("tunnels"));
        a.process().setProcessEnvironment(env);
        QVERIFY(a.start(tlsArgs("ca.pem")));
        // B dials by name: SNI and a DNS name in the certificate. A machine without a name for
        // localhost (a bare chroot has no /etc/hosts) dials 127.0.0.1 instead, and says so.
        const bool localhostResolves = !QHostInfo::fromName("localhost").addresses().isEmpty();
        if (!localhostResolves)
            qWarning("localhost does not resolve here: node B dials 127.0.0.1, the DNS-name check is not exercised");
        QVERIFY(b.start(tlsArgs("ca.pem", localhostResolves ? "localhost" : "127.0.0.1")));
        QVERIFY(waitHealth(nam, a, 200));
        QVERIFY(waitHealth(nam, b, 200));
        QVERIFY(!a.waitForLog(QRegularExpression("TLS verified against .*ca\\.pem"), 1000).isEmpty());
        QCOMPARE(QDir(file("tunnels")).entryList(QDir::AllEntries | QDir::NoDotAndDotDot), QStringList());

        WsClient ws;
        QVERIFY(ws.connectSession(b));
        QVERIFY(subscribe(ws, "news"));
        // The channel and the node's reply channel.
        QVERIFY(waitMetric(nam, b, "switchboard_engine_listening_channels", [](double v) { return v == 2; }));
        const HttpResult result = publishText(nam, a, "news", "over tls");
        QCOMPARE(result.status, 200);
        QCOMPARE(firstStored(result)["offset"].toInt(), 1);
        const auto message = ws.waitFor("message");
        QVERIFY(message);
        QCOMPARE((*message)["data"].toObject()["text"].toString(), QStringLiteral("over tls"));
        QCOMPARE(metrics(nam, b).value("switchboard_engine_received_remote_total"), 1.0);

        // Redis restarts: the nodes are refused meanwhile, then reconnect through new tunnels.
        redis.stop();
        QVERIFY(waitHealth(nam, a, 503));
        QCOMPARE(publishText(nam, a, "news", "refused").status, 503);
        QVERIFY(redis.start());
        QVERIFY(waitHealth(nam, a, 200));
        QVERIFY(waitHealth(nam, b, 200));
        QCOMPARE(publishText(nam, a, "news", "again").status, 200);
    }

    void certificateFromAnotherCaKeepsTheNodeUnavailable()
    {
        GatewayProcess g;
        g.captureLog();
        QVERIFY(g.start(tlsArgs("stranger.pem")));
        const QString line = g.waitForLog(QRegularExpression("TLS handshake .* certificate verify failed"), 10000);
        QVERIFY2(!line.isEmpty(), "no log line names the certificate failure");
        QVERIFY2(line.contains("self-signed certificate in certificate chain") || line.contains("unable to get local issuer"),
                 qPrintable(line));
        QCOMPARE(http(nam, "GET", g.url("/healthz"), {}, false).status, 503);
        QCOMPARE(publishText(nam, g, "news", "refused").status, 503);
        // Still refused after several reconnect attempts (backoff at most 200 ms): no fallback.
        QTest::qWait(800);
        QCOMPARE(http(nam, "GET", g.url("/healthz"), {}, false).status, 503);
        QVERIFY(waitMetric(nam, g, "switchboard_engine_errors_total", [](double v) { return v >= 3; }));
    }

    void certificateForAnotherAddressKeepsTheNodeUnavailable()
    {
        // Redis also listens on 127.0.0.2, but its certificate names 127.0.0.1 and localhost only.
        GatewayProcess g;
        g.captureLog();
        QVERIFY(g.start(tlsArgs("ca.pem", "127.0.0.2")));
        const QString line = g.waitForLog(QRegularExpression("TLS handshake with 127\\.0\\.0\\.2:\\d+ failed: .*IP address mismatch"), 10000);
        QVERIFY2(!line.isEmpty(), "no log line names the address mismatch");
        QCOMPARE(http(nam, "GET", g.url("/healthz"), {}, false).status, 503);
    }

    void clientCertificateForARedisThatRequiresOne()
    {
        QVERIFY(certs.makeCertificate("client", "ca", "DNS:gateway"));
        RedisProcess strict;
        strict.useTls(file("redis.pem"), file("redis.key"), file("ca.pem"), true);
        QVERIFY(strict.start());
        const QString url = QStringLiteral("rediss://127.0.0.1:%1").arg(strict.port());
        const QStringList common{"--engine", url, "--engine-tls-ca", file("ca.pem"), "--engine-reconnect-max", "200"};

        GatewayProcess without;
        without.captureLog();
        QVERIFY(without.start(common));
        // TLS 1.3: Redis refuses the missing certificate after the client's handshake finished;
        // the alert is the reason logged.
        const QString line = without.waitForLog(QRegularExpression("unavailable \\(.*certificate required"), 10000);
        QVERIFY2(!line.isEmpty(), "no log line says Redis required a client certificate");
        QCOMPARE(http(nam, "GET", without.url("/healthz"), {}, false).status, 503);

        GatewayProcess with;
        QVERIFY(with.start(common + QStringList{"--engine-tls-cert", file("client.pem"), "--engine-tls-key", file("client.key")}));
        QVERIFY(waitHealth(nam, with, 200));
        QCOMPARE(publishText(nam, with, "news", "signed").status, 200);
    }

    void shardsOverTls()
    {
        // Two shards, the second TLS too: every connection of both goes through its own tunnel.
        RedisProcess second;
        second.useTls(file("redis.pem"), file("redis.key"), file("ca.pem"));
        QVERIFY(second.start());
        const QString urls = QStringLiteral("rediss://127.0.0.1:%1,rediss://127.0.0.1:%2").arg(redis.port()).arg(second.port());
        GatewayProcess g;
        QVERIFY(g.start({"--engine", urls, "--engine-tls-ca", file("ca.pem"), "--engine-prefix", "tlsshards:"}));
        QVERIFY(waitHealth(nam, g, 200));
        for (int i = 0; i < 8; ++i) // channels land on both shards
            QCOMPARE(publishText(nam, g, QStringLiteral("c%1").arg(i), "sharded").status, 200);
        second.stop(); // the node sees shard 1 down through its tunnel: degraded
        QDeadlineTimer deadline(10000);
        bool degraded = false;
        while (!degraded && !deadline.hasExpired()) {
            degraded = http(nam, "GET", g.url("/healthz"), {}, false).body.contains("\"shardsDown\":[1]");
            if (!degraded)
                QTest::qWait(20);
        }
        QVERIFY(degraded);
    }

    void tlsOptionsNeedARedissEngine()
    {
        GatewayProcess g;
        g.captureLog();
        QVERIFY(!g.start({"--engine", redis.url(), "--engine-tls-ca", file("ca.pem")}));
    }
};

QTEST_MAIN(TestClusterTls)
#include "tst_clustertls.moc"
