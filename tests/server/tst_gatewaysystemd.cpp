// switchboard-gateway as a systemd Type=notify service: the test plays systemd's part. It binds
// an AF_UNIX datagram socket in a temporary directory, starts the gateway with NOTIFY_SOCKET
// pointing at it (and WATCHDOG_USEC for the watchdog), and reads what the gateway sends:
// READY=1 once it listens, STATUS= lines with its connection counts, WATCHDOG=1 at half the
// watchdog interval, STOPPING=1 on SIGTERM. Without NOTIFY_SOCKET the gateway says nothing.
#include "GatewayProcess.h"

#include <QTcpSocket>
#include <QTemporaryDir>

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

using namespace gatewaytest;

namespace {

/// The notification socket systemd would hold: datagrams, one notification (newline-separated
/// KEY=VALUE lines) each. Every wait is bounded and keeps the Qt event loop running.
class NotifyReceiver {
public:
    explicit NotifyReceiver(const QString &path) : m_path(path)
    {
        m_fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        sockaddr_un address{};
        address.sun_family = AF_UNIX;
        const QByteArray bytes = path.toLocal8Bit();
        if (m_fd >= 0 && bytes.size() < qsizetype(sizeof address.sun_path)) {
            std::memcpy(address.sun_path, bytes.constData(), size_t(bytes.size()));
            m_bound = ::bind(m_fd, reinterpret_cast<sockaddr *>(&address), sizeof address) == 0;
        }
    }
    ~NotifyReceiver()
    {
        if (m_fd >= 0)
            ::close(m_fd);
    }
    bool bound() const { return m_bound; }

    /// The next notification not yet returned that has a line matching `line`, waited for.
    std::optional<QByteArray> waitFor(const QRegularExpression &line, int timeoutMs = 5000)
    {
        QDeadlineTimer deadline(timeoutMs);
        while (true) {
            for (qsizetype i = 0; i < m_received.size(); ++i) {
                const auto lines = m_received[i].split('\n');
                if (std::any_of(lines.begin(), lines.end(), [&](const QByteArray &l) { return line.match(QString::fromUtf8(l)).hasMatch(); }))
                    return m_received.takeAt(i);
            }
            if (deadline.hasExpired())
                return std::nullopt;
            receive(int(std::min<qint64>(20, deadline.remainingTime())));
        }
    }
    /// Receives for `ms` and returns how many notifications had a line matching `line` (removed).
    int count(const QRegularExpression &line, int ms)
    {
        QDeadlineTimer deadline(ms);
        while (!deadline.hasExpired())
            receive(int(std::min<qint64>(20, deadline.remainingTime())));
        int n = 0;
        for (qsizetype i = 0; i < m_received.size();) {
            if (line.match(QString::fromUtf8(m_received[i])).hasMatch()) {
                m_received.removeAt(i);
                ++n;
            } else {
                ++i;
            }
        }
        return n;
    }
    /// Every notification received so far (kept).
    const QList<QByteArray> &received()
    {
        receive(0);
        return m_received;
    }

private:
    void receive(int waitMs)
    {
        QCoreApplication::processEvents();
        pollfd p{m_fd, POLLIN, 0};
        if (::poll(&p, 1, waitMs) <= 0)
            return;
        char buffer[4096];
        ssize_t n;
        while ((n = ::recv(m_fd, buffer, sizeof buffer, 0)) > 0)
            m_received.append(QByteArray(buffer, qsizetype(n)));
    }

    QString m_path;
    int m_fd = -1;
    bool m_bound = false;
    QList<QByteArray> m_received;
};

/// The process exited (or exits within 10 s), while `systemd` keeps receiving as systemd does: a
/// notification socket nobody reads fills up (10 datagrams) and blocks the sender in sd_notify.
bool exited(QProcess &p, NotifyReceiver &systemd)
{
    QDeadlineTimer deadline(10000);
    while (p.state() != QProcess::NotRunning && !deadline.hasExpired()) {
        systemd.received();
        p.waitForFinished(20);
    }
    return p.state() == QProcess::NotRunning;
}

QRegularExpression exactly(const QString &line) { return QRegularExpression("^" + QRegularExpression::escape(line) + "$", QRegularExpression::MultilineOption); }

} // namespace

class tst_GatewaySystemd : public QObject {
    Q_OBJECT

private slots:
    void readyStatusWatchdogAndStopping()
    {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        NotifyReceiver systemd(dir.filePath("notify"));
        QVERIFY(systemd.bound());

        GatewayProcess gateway;
        gateway.setEnvironmentVariable("NOTIFY_SOCKET", dir.filePath("notify"));
        gateway.setEnvironmentVariable("WATCHDOG_USEC", "200000");
        gateway.removeEnvironmentVariable("WATCHDOG_PID"); // unset: the watchdog is this process's
        QVERIFY(gateway.start({"--systemd-status-interval", "100"}));

        // READY=1, and when it comes the port accepts connections.
        const auto ready = systemd.waitFor(exactly("READY=1"));
        QVERIFY2(ready, "no READY=1");
        QTcpSocket probe;
        probe.connectToHost(QHostAddress::LocalHost, gateway.port());
        QVERIFY(probe.waitForConnected(5000));
        probe.abort();
        // READY=1 comes with a first STATUS= line.
        QVERIFY2(ready->contains("STATUS="), ready->constData());

        // STATUS= lines follow the connection counts.
        QVERIFY(systemd.waitFor(QRegularExpression("^STATUS=.*\\b0 WebSocket", QRegularExpression::MultilineOption)));
        WsClient client;
        QVERIFY(client.connectSession(gateway, makeToken({{"sub", "alice"}, {"channels", QJsonArray{"**"}}})));
        const auto one = systemd.waitFor(QRegularExpression("^STATUS=.*\\b1 WebSocket", QRegularExpression::MultilineOption));
        QVERIFY2(one, "no STATUS= line with the WebSocket client");

        // WATCHDOG=1 every 100 ms (half of WATCHDOG_USEC), again and again.
        for (int i = 0; i < 5; ++i)
            QVERIFY2(systemd.waitFor(exactly("WATCHDOG=1")), qPrintable(QString("WATCHDOG=1 number %1 missing").arg(i + 1)));
        QNetworkAccessManager nam;
        QVERIFY(metrics(nam, gateway).contains("switchboard_systemd_watchdog_missed_total"));

        // SIGTERM: STOPPING=1, then a clean exit.
        ::kill(pid_t(gateway.pid()), SIGTERM);
        QVERIFY2(systemd.waitFor(exactly("STOPPING=1")), "no STOPPING=1");
        QVERIFY(exited(gateway.process(), systemd));
        QCOMPARE(gateway.process().exitCode(), 0);
    }

    /// WATCHDOG_PID names another process: the watchdog is not the gateway's, no WATCHDOG=1.
    void watchdogOfAnotherProcessIsNotPinged()
    {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        NotifyReceiver systemd(dir.filePath("notify"));
        QVERIFY(systemd.bound());
        GatewayProcess gateway;
        gateway.setEnvironmentVariable("NOTIFY_SOCKET", dir.filePath("notify"));
        gateway.setEnvironmentVariable("WATCHDOG_USEC", "100000");
        gateway.setEnvironmentVariable("WATCHDOG_PID", "1");
        QVERIFY(gateway.start());
        QVERIFY(systemd.waitFor(exactly("READY=1")));
        QCOMPARE(systemd.count(exactly("WATCHDOG=1"), 500), 0);
    }

    /// No NOTIFY_SOCKET: nothing is sent, and nothing about systemd is logged at info level.
    void withoutNotifySocketNothingHappens()
    {
        GatewayProcess gateway;
        gateway.removeEnvironmentVariable("NOTIFY_SOCKET");
        gateway.setEnvironmentVariable("WATCHDOG_USEC", "100000");
        gateway.captureLog();
        QVERIFY(gateway.start());
        QVERIFY(!gateway.waitForLog(QRegularExpression("serving with")).isEmpty());
        ::kill(pid_t(gateway.pid()), SIGTERM);
        QVERIFY(!gateway.waitForLog(QRegularExpression("\\bstopped\\b")).isEmpty());
        QVERIFY(gateway.waitForLog(QRegularExpression("systemd|sd_notify|watchdog", QRegularExpression::CaseInsensitiveOption), 0).isEmpty());
        QVERIFY(gateway.process().state() == QProcess::NotRunning || gateway.process().waitForFinished(10000));
        QCOMPARE(gateway.process().exitCode(), 0);
    }
};

QTEST_MAIN(tst_GatewaySystemd)
#include "tst_gatewaysystemd.moc"
