// switchboard-gateway as a new user meets it on the command line: --version, and a mistake in
// the address, the static folder or a port someone else holds is named in one line on stderr,
// with the value given, and a non-zero exit, before anything is served.
#include "GatewayProcess.h"

#include <QTcpServer>
#include <QTemporaryDir>

using namespace gatewaytest;

namespace {

struct Run {
    int exitCode = -1;
    QByteArray out;
    QByteArray err;
};

/// Runs the gateway with `args` to completion (10 s at most; killed after that).
Run runGateway(const QStringList &args)
{
    QProcess process;
    testsupport::dieWithTest(process);
    process.start(QStringLiteral(SWITCHBOARD_GATEWAY_BIN), args);
    Run run;
    if (!process.waitForFinished(10000)) {
        process.kill();
        process.waitForFinished(2000);
        run.err = "(did not exit within 10 s) " + process.readAllStandardError();
        return run;
    }
    run.exitCode = process.exitStatus() == QProcess::NormalExit ? process.exitCode() : -1;
    run.out = process.readAllStandardOutput();
    run.err = process.readAllStandardError();
    return run;
}

} // namespace

class tst_GatewayCommandLine : public QObject
{
    Q_OBJECT

private slots:
    void version();
    void refusedAtStart_data();
    void refusedAtStart();
    void portInUse();
    void channelPolicyRefused();
};

void tst_GatewayCommandLine::version()
{
    for (const char *flag : {"--version", "-V"}) {
        const Run run = runGateway({QString::fromLatin1(flag)});
        QCOMPARE(run.exitCode, 0);
        QVERIFY2(QRegularExpression(QStringLiteral("^switchboard-gateway \\d+\\.\\d+\\.\\d+\\n$")).match(QString::fromUtf8(run.out)).hasMatch(),
                 run.out.constData());
    }
}

void tst_GatewayCommandLine::refusedAtStart_data()
{
    QTest::addColumn<QStringList>("args");
    QTest::addColumn<QString>("expected"); // a regular expression the single stderr line matches

    QTest::newRow("not an address") << QStringList{"--listen", "999.1.1.1"}
                                    << "--listen '999\\.1\\.1\\.1' is not an IP address";
    QTest::newRow("a host name") << QStringList{"--listen", "localhost"}
                                 << "--listen 'localhost' is not an IP address";
    QTest::newRow("no static folder") << QStringList{"--static", "/nonexistent/web"}
                                      << "--static '/nonexistent/web' is not a readable folder";
}

void tst_GatewayCommandLine::refusedAtStart()
{
    QFETCH(QStringList, args);
    QFETCH(QString, expected);
    const Run run = runGateway(args + QStringList{"--port", "0"});
    QCOMPARE(run.exitCode, 2);
    QVERIFY2(!run.out.contains("listening on"), run.out.constData());
    const QString err = QString::fromUtf8(run.err).trimmed();
    QVERIFY2(QRegularExpression(QStringLiteral("^switchboard-gateway: ") + expected).match(err).hasMatch(), qPrintable(err));
    QVERIFY2(!err.contains('\n'), qPrintable(err));

    // The same mistake in a configuration file names the file's key.
    QTemporaryDir dir;
    QFile config(dir.filePath(QStringLiteral("gateway.json")));
    QVERIFY(config.open(QIODevice::WriteOnly));
    const QString key = args[0].mid(2);
    config.write(QJsonDocument(QJsonObject{{key, args[1]}}).toJson());
    config.close();
    const Run fromFile = runGateway({"--config", config.fileName(), "--port", "0"});
    QCOMPARE(fromFile.exitCode, 2);
    const QString fileErr = QString::fromUtf8(fromFile.err).trimmed();
    QVERIFY2(fileErr.contains(args[1]) && fileErr.contains(key), qPrintable(fileErr));
}

void tst_GatewayCommandLine::portInUse()
{
    QTcpServer holder;
    QVERIFY(holder.listen(QHostAddress::LocalHost, 0));
    const QString port = QString::number(holder.serverPort());
    const Run run = runGateway({"--listen", "127.0.0.1", "--port", port});
    QCOMPARE(run.exitCode, 1);
    const QString err = QString::fromUtf8(run.err).trimmed();
    QVERIFY2(err.startsWith(QStringLiteral("switchboard-gateway: cannot listen on 127.0.0.1:%1: address already in use").arg(port)),
             qPrintable(err));
    QVERIFY2(!err.contains(QStringLiteral(".hpp")) && !err.contains('\n'), qPrintable(err)); // no library source paths
}


void tst_GatewayCommandLine::channelPolicyRefused()
{
    const Run run = runGateway({"--channel-policy", "tick/=latest", "--port", "0"});
    QCOMPARE(run.exitCode, 2);
    const QString err = QString::fromUtf8(run.err).trimmed();
    QVERIFY2(err.startsWith(QStringLiteral("switchboard-gateway: --channel-policy: channel policy must be drop-newest, "
                                           "drop-oldest, latest-only, latest-only:FIELD or disconnect, not 'latest'")),
             qPrintable(err));
    QVERIFY2(!err.contains('\n'), qPrintable(err));

    QTemporaryDir dir;
    QFile config(dir.filePath(QStringLiteral("gateway.json")));
    QVERIFY(config.open(QIODevice::WriteOnly));
    config.write(R"({"channelPolicies":[{"prefix":"tick/","policy":"latest-only:"}]})");
    config.close();
    const Run fromFile = runGateway({"--config", config.fileName(), "--port", "0"});
    QCOMPARE(fromFile.exitCode, 2);
    const QString fileErr = QString::fromUtf8(fromFile.err).trimmed();
    QVERIFY2(fileErr.contains(QStringLiteral("channelPolicies")) && fileErr.contains(QStringLiteral("'latest-only:'")),
             qPrintable(fileErr));
}

QTEST_GUILESS_MAIN(tst_GatewayCommandLine)
#include "tst_gatewaycommandline.moc"
