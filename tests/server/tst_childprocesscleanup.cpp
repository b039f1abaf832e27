// Tests stop what they start: a gateway started through GatewayProcess dies when the process
// that started it is killed with SIGKILL (no destructor runs), as happens to a test at ctest's
// timeout. The test becomes a child subreaper, so the orphaned gateway is re-parented to it and
// its exit status (killed by SIGKILL) can be read.
#include "GatewayProcess.h"

#include <QFile>

#include <cerrno>
#include <sys/prctl.h>
#include <sys/wait.h>

using namespace gatewaytest;

class tst_ChildProcessCleanup : public QObject
{
    Q_OBJECT

private slots:
    void initTestCase() { QCOMPARE(::prctl(PR_SET_CHILD_SUBREAPER, 1), 0); }
    void gatewayDiesWithKilledParent();
};

void tst_ChildProcessCleanup::gatewayDiesWithKilledParent()
{
    QProcess launcher;
    testsupport::dieWithTest(launcher);
    launcher.setProcessChannelMode(QProcess::ForwardedErrorChannel);
    testsupport::startBuildProgram(launcher, QStringLiteral(SWITCHBOARD_GATEWAY_LAUNCHER_BIN));
    QVERIFY(launcher.waitForStarted(5000));
    QByteArray out;
    QDeadlineTimer started(15000);
    while (!out.contains('\n') && !started.hasExpired() && launcher.waitForReadyRead(int(started.remainingTime())))
        out += launcher.readAllStandardOutput();
    QVERIFY2(out.startsWith("gateway pid "), out.constData());
    const pid_t gateway = pid_t(out.mid(12).trimmed().toLongLong());
    QVERIFY(gateway > 0);
    QFile cmdline(QStringLiteral("/proc/%1/cmdline").arg(gateway));
    QVERIFY(cmdline.open(QIODevice::ReadOnly));
    QVERIFY(cmdline.readAll().contains("switchboard-gateway"));

    launcher.kill(); // SIGKILL: GatewayProcess's destructor never runs
    QVERIFY(launcher.waitForFinished(5000));
    QCOMPARE(launcher.exitStatus(), QProcess::CrashExit);

    // The orphan is ours now (subreaper): reap it and learn how it ended.
    int status = 0;
    pid_t reaped = 0;
    QDeadlineTimer deadline(5000);
    while ((reaped = ::waitpid(gateway, &status, WNOHANG)) == 0 && !deadline.hasExpired())
        QTest::qWait(10);
    if (reaped == 0) {
        ::kill(gateway, SIGKILL); // do not leave it behind when the check fails
        ::waitpid(gateway, &status, 0);
        QFAIL("the gateway outlived its killed parent by more than 5 s");
    }
    QCOMPARE(reaped, gateway);
    QVERIFY(WIFSIGNALED(status));
    QCOMPARE(WTERMSIG(status), SIGKILL);
}

QTEST_MAIN(tst_ChildProcessCleanup)
#include "tst_childprocesscleanup.moc"
