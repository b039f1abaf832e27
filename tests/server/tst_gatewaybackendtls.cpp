// switchboard-gateway's outbound HTTP clients over https:// against Python backends started by the
// test (tests/server/rpc_backend.py and webhook_backend.py with --tls), with a CA and certificates
// made by the openssl program at test time: the RPC proxy and webhooks trust --backend-ca; a
// certificate from another CA, for another host, or checked against the system store only is
// refused (502, counted, the reason logged), as is a backend that does not speak TLS; a silent one
// times out (504); client certificates (--backend-cert/--backend-key);
// signed proxy requests (--proxy-secret) that the backend verifies, and refuses (401) when wrong,
// for the RPC proxy and the connect proxy.

#include "BackendTestSupport.h"

#include "../support/TestCertificates.h"

#include <QDateTime>
#include <QElapsedTimer>
#include <QHostInfo>
#include <QMessageAuthenticationCode>
#include <QStandardPaths>
#include <QTcpServer>

#include <algorithm>

using namespace gatewaytest;

namespace {

QString tokenFor(const QString &user)
{
    return userToken(user);
}

WebhookBackend rpcBackend() { return WebhookBackend(QStringLiteral(SWITCHBOARD_RPC_BACKEND)); }

/// Sends `request {topic, payload, ackId}` as a connected `alice` and returns the reply frame
/// (empty object when none came in time).
QJsonObject requestAs(const GatewayProcess &gateway, const QString &topic, const QJsonValue &payload)
{
    WsClient alice;
    if (!alice.open(gateway))
        return {};
    alice.send(QJsonObject{{"op", "connect"}, {"version", 1}, {"token", tokenFor("alice")}});
    if (!alice.waitFor("welcome"))
        return {};
    alice.send(QJsonObject{{"op", "request"}, {"topic", topic}, {"payload", payload}, {"ackId", 1}});
    return alice.waitFor("reply", 1, 10000).value_or(QJsonObject{});
}

} // namespace

class tst_GatewayBackendTls : public QObject
{
    Q_OBJECT

private:
    testsupport::TestCertificates certs;

    QStringList tlsArgs(const QString &certificate) const
    {
        return {"--tls", certs.file(certificate + ".pem"), certs.file(certificate + ".key")};
    }

private slots:
    void initTestCase();
    void rpcProxyOverHttps();
    void untrustedBackend_data();
    void untrustedBackend();
    void clientCertificate();
    void backendThatDoesNotSpeakTls();
    void handshakeCountsAgainstTheTimeout();
    void signedProxyRequests();
    void wrongProxySecretIsRefusedByTheBackend();
    void webhooksOverHttps();
    void webhookToUntrustedBackendFails();
    void badTlsFilesFailTheStart();
    void jsonConfiguration();
    void connectProxyOverHttpsSigned();
    void subscribeProxyOverHttpsSigned();
};

void tst_GatewayBackendTls::initTestCase()
{
    QVERIFY(certs.isValid());
    if (QStandardPaths::findExecutable("openssl").isEmpty())
        QSKIP("the openssl program is needed to make test certificates");
    // A CA and the backend's certificate for 127.0.0.1; a certificate from a CA the gateway is
    // not told about; one from the right CA for another host; a client certificate.
    QVERIFY(certs.makeCa("ca"));
    QVERIFY(certs.makeCa("stranger"));
    QVERIFY(certs.makeCertificate("backend", "ca", "IP:127.0.0.1,DNS:localhost"));
    QVERIFY(certs.makeCertificate("impostor", "stranger", "IP:127.0.0.1,DNS:localhost"));
    QVERIFY(certs.makeCertificate("elsewhere", "ca", "DNS:backend.example,IP:10.9.8.7"));
    QVERIFY(certs.makeCertificate("gateway-client", "ca", "DNS:gateway.example"));
}

void tst_GatewayBackendTls::rpcProxyOverHttps()
{
    WebhookBackend backend = rpcBackend();
    QVERIFY(backend.start(tlsArgs("backend")));
    QVERIFY(backend.url().startsWith("https://"));
    GatewayProcess gateway;
    QVERIFY(gateway.start({"--rpc-proxy", backend.url("/rpc"), "--backend-ca", certs.file("ca.pem")}));
    const QJsonObject reply = requestAs(gateway, "echo", QJsonObject{{"sku", "A-1"}});
    QCOMPARE(reply.value("topic").toString(), QStringLiteral("echo"));
    QCOMPARE(reply.value("payload").toObject().value("payload").toObject().value("sku").toString(), QStringLiteral("A-1"));
    QCOMPARE(reply.value("payload").toObject().value("user").toString(), QStringLiteral("alice"));
    QNetworkAccessManager nam;
    const auto m = metrics(nam, gateway);
    QCOMPARE(m.value("switchboard_rpc_requests_total"), 1.0);
    QCOMPARE(m.value("switchboard_rpc_failed_total{reason=\"unreachable\"}"), 0.0);
    // Unsigned without --proxy-secret.
    QVERIFY(backend.waitForRequests(1));
    QVERIFY(!backend.requests().first().headers.contains("x-switchboard-signature"));

    // What a handshake per request costs: sequential round trips, https vs http backend.
    const auto medianRoundTrip = [](const GatewayProcess &g) {
        WsClient c;
        QList<qint64> times;
        if (!c.connectSession(g, tokenFor("bob")))
            return qint64(-1);
        for (int i = 0; i < 21; ++i) {
            QElapsedTimer t;
            t.start();
            c.send(QJsonObject{{"op", "request"}, {"topic", "echo"}, {"payload", i}, {"ackId", 100 + i}});
            if (!c.waitFor("reply", 100 + i, 5000))
                return qint64(-1);
            times << t.nsecsElapsed() / 1000;
        }
        std::sort(times.begin(), times.end());
        return times[times.size() / 2];
    };
    WebhookBackend plainBackend = rpcBackend();
    QVERIFY(plainBackend.start());
    GatewayProcess plain;
    QVERIFY(plain.start({"--rpc-proxy", plainBackend.url("/rpc")}));
    const qint64 httpsUs = medianRoundTrip(gateway);
    const qint64 httpUs = medianRoundTrip(plain);
    QVERIFY(httpsUs > 0 && httpUs > 0);
    qInfo("median proxied round trip over 21 requests: https %lld us, http %lld us", httpsUs, httpUs);

    // By name: SNI and the certificate's DNS name.
    if (QHostInfo::fromName("localhost").addresses().isEmpty())
        QSKIP("localhost does not resolve here: the DNS-name check is not exercised");
    GatewayProcess byName;
    QVERIFY(byName.start({"--rpc-proxy", backend.url("/rpc").replace("127.0.0.1", "localhost"), "--backend-ca", certs.file("ca.pem")}));
    QCOMPARE(requestAs(byName, "echo", 5).value("payload").toObject().value("payload").toInt(), 5);
}

void tst_GatewayBackendTls::untrustedBackend_data()
{
    QTest::addColumn<QString>("certificate");
    QTest::addColumn<QString>("host");
    QTest::addColumn<bool>("withCa");
    QTest::addColumn<QString>("logged");
    QTest::newRow("signed by another CA") << "impostor" << "127.0.0.1" << true << "certificate verify failed";
    QTest::newRow("for another address") << "elsewhere" << "127.0.0.1" << true << "IP address mismatch";
    QTest::newRow("for another host name") << "elsewhere" << "localhost" << true << "hostname mismatch";
    QTest::newRow("system store only") << "backend" << "127.0.0.1" << false << "certificate verify failed";
}

void tst_GatewayBackendTls::untrustedBackend()
{
    QFETCH(QString, certificate);
    QFETCH(QString, host);
    QFETCH(bool, withCa);
    QFETCH(QString, logged);
    if (host == "localhost" && QHostInfo::fromName(host).addresses().isEmpty())
        QSKIP("localhost does not resolve here");
    WebhookBackend backend = rpcBackend();
    QVERIFY(backend.start(tlsArgs(certificate)));
    GatewayProcess gateway;
    gateway.captureLog();
    QStringList args{"--rpc-proxy", backend.url("/rpc").replace("127.0.0.1", host)};
    if (withCa)
        args << "--backend-ca" << certs.file("ca.pem");
    QVERIFY(gateway.start(args));
    const QJsonObject reply = requestAs(gateway, "echo", 1);
    QCOMPARE(reply.value("topic").toString(), QStringLiteral("error"));
    QCOMPARE(reply.value("payload").toObject().value("status").toInt(), 502);
    QCOMPARE(reply.value("payload").toObject().value("message").toString(), QStringLiteral("backend unreachable"));
    const QString line = gateway.waitForLog(QRegularExpression("rpc proxy: .*502 backend unreachable \\(TLS handshake with " + QRegularExpression::escape(host) + ":\\d+ failed: .*"
                                                               + QRegularExpression::escape(logged)));
    QVERIFY2(!line.isEmpty(), "no log line names the TLS failure");
    qInfo("%s", qPrintable(line));
    QNetworkAccessManager nam;
    QCOMPARE(metrics(nam, gateway).value("switchboard_rpc_failed_total{reason=\"unreachable\"}"), 1.0);
    QCOMPARE(backend.requests().size(), 0); // nothing was sent over the refused connection
}

void tst_GatewayBackendTls::clientCertificate()
{
    WebhookBackend backend = rpcBackend();
    QVERIFY(backend.start(tlsArgs("backend") + QStringList{"--client-ca", certs.file("ca.pem")}));
    // Without a client certificate the backend ends the handshake.
    {
        GatewayProcess gateway;
        QVERIFY(gateway.start({"--rpc-proxy", backend.url("/rpc"), "--backend-ca", certs.file("ca.pem")}));
        QCOMPARE(requestAs(gateway, "echo", 1).value("payload").toObject().value("status").toInt(), 502);
    }
    GatewayProcess gateway;
    QVERIFY(gateway.start({"--rpc-proxy", backend.url("/rpc"), "--backend-ca", certs.file("ca.pem"), "--backend-cert",
                           certs.file("gateway-client.pem"), "--backend-key", certs.file("gateway-client.key")}));
    const QJsonObject reply = requestAs(gateway, "echo", 2);
    QCOMPARE(reply.value("topic").toString(), QStringLiteral("echo"));
    QCOMPARE(reply.value("payload").toObject().value("payload").toInt(), 2);
}

void tst_GatewayBackendTls::backendThatDoesNotSpeakTls()
{
    WebhookBackend backend = rpcBackend();
    QVERIFY(backend.start()); // plain http
    GatewayProcess gateway;
    gateway.captureLog();
    QVERIFY(gateway.start({"--rpc-proxy", backend.url("/rpc").replace("http://", "https://")}));
    const QJsonObject reply = requestAs(gateway, "echo", 1);
    QCOMPARE(reply.value("payload").toObject().value("status").toInt(), 502);
    QVERIFY(!gateway.waitForLog(QRegularExpression("502 backend unreachable \\(TLS handshake with 127\\.0\\.0\\.1:\\d+ failed")).isEmpty());
    QNetworkAccessManager nam;
    QCOMPARE(metrics(nam, gateway).value("switchboard_rpc_failed_total{reason=\"unreachable\"}"), 1.0);
}

void tst_GatewayBackendTls::handshakeCountsAgainstTheTimeout()
{
    // Accepts connections (the kernel does) and never answers the TLS hello.
    QTcpServer silent;
    QVERIFY(silent.listen(QHostAddress::LocalHost, 0));
    GatewayProcess gateway;
    QVERIFY(gateway.start({"--rpc-proxy", QStringLiteral("https://127.0.0.1:%1/rpc").arg(silent.serverPort()),
                           "--rpc-timeout", "300"}));
    QElapsedTimer t;
    t.start();
    const QJsonObject reply = requestAs(gateway, "echo", 1);
    QCOMPARE(reply.value("payload").toObject().value("status").toInt(), 504);
    QCOMPARE(reply.value("payload").toObject().value("message").toString(), QStringLiteral("backend timed out"));
    QVERIFY2(t.elapsed() < 3000, qPrintable(QString::number(t.elapsed())));
    QNetworkAccessManager nam;
    QCOMPARE(metrics(nam, gateway).value("switchboard_rpc_timeouts_total"), 1.0);
}

void tst_GatewayBackendTls::signedProxyRequests()
{
    const QByteArray secret = "proxy-secret";
    WebhookBackend backend = rpcBackend();
    QVERIFY(backend.start(tlsArgs("backend") + QStringList{"--secret", secret}));
    GatewayProcess gateway;
    QVERIFY(gateway.start({"--rpc-proxy", backend.url("/rpc"), "--backend-ca", certs.file("ca.pem"), "--proxy-secret", secret}));
    const qint64 before = QDateTime::currentSecsSinceEpoch();
    const QJsonObject reply = requestAs(gateway, "echo", 3);
    QCOMPARE(reply.value("topic").toString(), QStringLiteral("echo")); // the backend accepted the signature
    QVERIFY(backend.waitForRequests(1));
    // The documented check, done here too: HMAC-SHA256(secret, timestamp "." body), a current timestamp.
    const WebhookRequest &request = backend.requests().first();
    const QByteArray timestamp = request.headers.value("x-switchboard-timestamp").toString().toLatin1();
    QVERIFY(qAbs(timestamp.toLongLong() - before) <= 5);
    const QByteArray expected = "sha256="
        + QMessageAuthenticationCode::hash(timestamp + '.' + request.body, secret, QCryptographicHash::Sha256).toHex();
    QCOMPARE(request.headers.value("x-switchboard-signature").toString().toLatin1(), expected);
    QNetworkAccessManager nam;
    QCOMPARE(metrics(nam, gateway).value("switchboard_rpc_failed_total{reason=\"status\"}"), 0.0);
}

void tst_GatewayBackendTls::wrongProxySecretIsRefusedByTheBackend()
{
    WebhookBackend backend = rpcBackend();
    QVERIFY(backend.start({"--secret", "the-right-secret"})); // plain http: signing does not need TLS
    for (const QStringList &signing : {QStringList{"--proxy-secret", "a-wrong-secret"}, QStringList{}}) {
        GatewayProcess gateway;
        QVERIFY(gateway.start(QStringList{"--rpc-proxy", backend.url("/rpc")} + signing));
        const QJsonObject reply = requestAs(gateway, "echo", 4);
        QCOMPARE(reply.value("topic").toString(), QStringLiteral("error"));
        QCOMPARE(reply.value("payload").toObject().value("status").toInt(), 401);
        QCOMPARE(reply.value("payload").toObject().value("message").toString(), QStringLiteral("bad signature"));
        QNetworkAccessManager nam;
        QCOMPARE(metrics(nam, gateway).value("switchboard_rpc_failed_total{reason=\"status\"}"), 1.0);
    }
}

void tst_GatewayBackendTls::webhooksOverHttps()
{
    const QByteArray secret = "webhook-secret";
    WebhookBackend backend;
    QVERIFY(backend.start(tlsArgs("backend")));
    GatewayProcess gateway;
    QVERIFY(gateway.start({"--webhook", backend.url(), "--backend-ca", certs.file("ca.pem"), "--webhook-secret", secret,
                           "--webhook-flush-interval", "50"}));
    WsClient alice;
    QVERIFY(alice.connectSession(gateway, tokenFor("alice")));
    QVERIFY(backend.waitForEvents(1));
    QCOMPARE(backend.events().first().value("name").toString(), QStringLiteral("client_connected"));
    // The webhook signature is unchanged: HMAC over the body only.
    const WebhookRequest &request = backend.requests().first();
    QCOMPARE(request.headers.value("x-switchboard-signature").toString().toLatin1(),
             "sha256=" + QMessageAuthenticationCode::hash(request.body, secret, QCryptographicHash::Sha256).toHex());
    QVERIFY(!request.headers.contains("x-switchboard-timestamp"));
    QNetworkAccessManager nam;
    QVERIFY(QTest::qWaitFor([&] { return metrics(nam, gateway).value("switchboard_webhook_sent_total") >= 1; }, 5000));
    QCOMPARE(metrics(nam, gateway).value("switchboard_webhook_failed_total"), 0.0);
}

void tst_GatewayBackendTls::webhookToUntrustedBackendFails()
{
    WebhookBackend backend;
    QVERIFY(backend.start(tlsArgs("impostor")));
    GatewayProcess gateway;
    gateway.captureLog();
    QVERIFY(gateway.start({"--webhook", backend.url(), "--backend-ca", certs.file("ca.pem"), "--webhook-retries", "0",
                           "--webhook-flush-interval", "50"}));
    WsClient alice;
    QVERIFY(alice.connectSession(gateway, tokenFor("alice")));
    QVERIFY(!gateway.waitForLog(QRegularExpression("webhook https://.*TLS handshake .* certificate verify failed.*dropped")).isEmpty());
    QNetworkAccessManager nam;
    QVERIFY(QTest::qWaitFor([&] { return metrics(nam, gateway).value("switchboard_webhook_failed_total") >= 1; }, 5000));
    QCOMPARE(backend.requests().size(), 0);
}

void tst_GatewayBackendTls::badTlsFilesFailTheStart()
{
    const QString missing = certs.file("missing.pem");
    QVERIFY(refusedStart({"--rpc-proxy", "https://127.0.0.1:1/rpc", "--backend-ca", missing}).contains("--backend-ca " + missing.toUtf8()));
    QVERIFY(refusedStart({"--webhook", "https://127.0.0.1:1/hook", "--backend-ca", certs.file("backend.key")}).contains("--backend-ca"));
    QVERIFY(refusedStart({"--rpc-proxy", "https://127.0.0.1:1/rpc", "--backend-cert", certs.file("gateway-client.pem")})
                .contains("--backend-cert and --backend-key go together"));
    QVERIFY(refusedStart({"--rpc-proxy", "https://127.0.0.1:1/rpc", "--backend-cert", certs.file("gateway-client.pem"),
                          "--backend-key", missing})
                .contains("--backend-key"));
}

void tst_GatewayBackendTls::jsonConfiguration()
{
    const QByteArray secret = "json-secret";
    WebhookBackend backend = rpcBackend();
    QVERIFY(backend.start(tlsArgs("backend") + QStringList{"--secret", secret, "--client-ca", certs.file("ca.pem")}));
    QFile config(certs.file("gateway.json"));
    QVERIFY(config.open(QIODevice::WriteOnly));
    config.write(QJsonDocument(QJsonObject{{"rpcProxy", backend.url("/rpc")},
                                           {"backendCa", certs.file("ca.pem")},
                                           {"backendCert", certs.file("gateway-client.pem")},
                                           {"backendKey", certs.file("gateway-client.key")},
                                           {"proxySecret", QString::fromLatin1(secret)}})
                     .toJson());
    config.close();
    GatewayProcess gateway;
    QVERIFY(gateway.start({"--config", config.fileName()}));
    QCOMPARE(requestAs(gateway, "echo", 6).value("payload").toObject().value("payload").toInt(), 6);
}

void tst_GatewayBackendTls::connectProxyOverHttpsSigned()
{
    const QString secret = "connect-secret";
    WebhookBackend backend(QStringLiteral(SWITCHBOARD_CONNECT_BACKEND));
    QVERIFY(backend.start(tlsArgs("backend") + QStringList{"--secret", secret}));
    const QJsonObject connect{{"op", "connect"}, {"version", 1}, {"data", QJsonObject{{"mode", "accept"}, {"user", "carol"}}}};
    {
        GatewayProcess gateway;
        QVERIFY(gateway.start({"--connect-proxy", backend.url("/auth"), "--backend-ca", certs.file("ca.pem"), "--proxy-secret", secret}));
        WsClient carol;
        QVERIFY(carol.open(gateway));
        carol.send(connect);
        const auto welcome = carol.waitFor("welcome", -1, 8000);
        QVERIFY(welcome);
        QCOMPARE(welcome->value("user").toString(), QStringLiteral("carol"));
        QVERIFY(backend.waitForRequests(1));
        QVERIFY(backend.requests().first().headers.value("x-switchboard-signature").toString().startsWith("sha256="));
    }
    // A wrong secret: the backend answers 401, the connect is refused (3501).
    GatewayProcess gateway;
    QVERIFY(gateway.start({"--connect-proxy", backend.url("/auth"), "--backend-ca", certs.file("ca.pem"), "--proxy-secret", "wrong"}));
    WsClient mallory;
    QVERIFY(mallory.open(gateway));
    mallory.send(connect);
    QCOMPARE(mallory.waitClosed(8000), 3501);
    QNetworkAccessManager nam;
    QCOMPARE(metrics(nam, gateway).value("switchboard_connect_proxy_refused_total"), 1.0);
}

void tst_GatewayBackendTls::subscribeProxyOverHttpsSigned()
{
    const QString secret = "subscribe-secret";
    WebhookBackend backend(QStringLiteral(SWITCHBOARD_SUBSCRIBE_BACKEND));
    QVERIFY(backend.start(tlsArgs("backend") + QStringList{"--secret", secret}));
    auto join = [](const GatewayProcess &gateway, const QString &frame) -> std::optional<QJsonObject> {
        WsClient alice;
        if (!alice.open(gateway))
            return std::nullopt;
        alice.send(QJsonObject{{"op", "connect"}, {"version", 1}, {"token", tokenFor("alice")}});
        if (!alice.waitFor("welcome"))
            return std::nullopt;
        alice.send(QJsonObject{{"op", "subscribe"}, {"channel", "private-team"}, {"ackId", 2}});
        return alice.waitFor(frame, 2, 8000);
    };
    {
        GatewayProcess gateway;
        QVERIFY(gateway.start({"--subscribe-proxy", backend.url("/join"), "--backend-ca", certs.file("ca.pem"), "--proxy-secret", secret}));
        QVERIFY(join(gateway, "subscribed"));
        QVERIFY(backend.waitForRequests(1));
        QVERIFY(backend.requests().first().headers.value("x-switchboard-signature").toString().startsWith("sha256="));
    }
    // A wrong secret: the backend answers 401, the join is refused with it.
    GatewayProcess gateway;
    QVERIFY(gateway.start({"--subscribe-proxy", backend.url("/join"), "--backend-ca", certs.file("ca.pem"), "--proxy-secret", "wrong"}));
    const auto refused = join(gateway, "error");
    QVERIFY(refused);
    QCOMPARE(refused->value("code").toInt(), 401);
}

QTEST_MAIN(tst_GatewayBackendTls)
#include "tst_gatewaybackendtls.moc"
