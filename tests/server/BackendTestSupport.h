#pragma once
// Test helpers shared by the tests of the gateway's HTTP backends (webhooks, the RPC, connect and
// subscribe proxies, their TLS): user tokens, a connected session, a port where no backend
// listens, a metric awaited, and the gateway refusing to start on bad options. Every wait is
// bounded; the gateways started here die with the test.

#include "GatewayProcess.h"
#include "WebhookBackend.h"

#include <QByteArrayView>
#include <QDateTime>
#include <QHostAddress>
#include <QTcpServer>

namespace gatewaytest {

/// A token for `user`, valid for an hour, allowing `channels`, with `info` when not empty.
inline QString userToken(const QString &user, const QJsonArray &channels = {QStringLiteral("**")},
                         const QJsonObject &info = {})
{
    QJsonObject claims{{"sub", user}, {"channels", channels}, {"exp", QDateTime::currentSecsSinceEpoch() + 3600}};
    if (!info.isEmpty())
        claims.insert("info", info);
    return makeToken(claims);
}

/// Opens `client` and connects with `token` (and a client `name` when given); the welcome frame,
/// or an empty object when none came.
inline QJsonObject connectWithToken(WsClient &client, const GatewayProcess &gateway, const QString &token,
                                    const QString &name = {})
{
    if (!client.open(gateway))
        return {};
    QJsonObject connect{{"op", "connect"}, {"version", 1}, {"token", token}};
    if (!name.isEmpty())
        connect.insert("name", name);
    client.send(connect);
    return client.waitFor("welcome").value_or(QJsonObject{});
}

/// A port on 127.0.0.1 where nobody listens (a backend that is down); 0 when none could be had.
inline quint16 unusedPort()
{
    QTcpServer reserve;
    if (!reserve.listen(QHostAddress::LocalHost, 0))
        return 0;
    return reserve.serverPort(); // released when `reserve` goes: nobody listens there
}

/// Waits until /metrics shows `name` >= `atLeast`; the last value read (-1: never shown).
inline double waitForMetric(QNetworkAccessManager &nam, const GatewayProcess &g, const QString &name, double atLeast,
                            int timeoutMs = 10000)
{
    double value = -1;
    (void)QTest::qWaitFor([&] {
        value = metrics(nam, g).value(name, -1);
        return value >= atLeast;
    }, timeoutMs);
    return value;
}

/// Runs the gateway on port 0 with `args`, expecting it to refuse to start: its output (stdout
/// and stderr), or "(not refused)" when it did not exit with a failure within 10 s.
inline QByteArray refusedStart(const QStringList &args)
{
    QProcess process;
    testsupport::dieWithTest(process);
    process.setProcessChannelMode(QProcess::MergedChannels);
    testsupport::startBuildProgram(process, QStringLiteral(SWITCHBOARD_GATEWAY_BIN), QStringList{"--port", "0"} + args);
    if (!process.waitForFinished(10000) || process.exitStatus() != QProcess::NormalExit || process.exitCode() == 0)
        return "(not refused)";
    return process.readAll();
}

/// True when the gateway refuses to start with each of `cases`, naming `mention` (the flag at
/// fault) in what it prints; otherwise warns with the first case that did not and returns false.
inline bool everyRefusesToStart(const QList<QStringList> &cases, QByteArrayView mention)
{
    for (const QStringList &args : cases) {
        const QByteArray output = refusedStart(args);
        if (!output.contains(mention)) {
            qWarning("gateway %s: expected a refusal naming %s, got: %s", qPrintable(args.join(' ')),
                     mention.toByteArray().constData(), output.constData());
            return false;
        }
    }
    return true;
}

} // namespace gatewaytest
