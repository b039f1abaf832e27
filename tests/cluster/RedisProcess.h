#pragma once
// A redis-server child process for cluster tests: on a free port of 127.0.0.1, without
// persistence, dying with the test (tests/support/ChildProcessGuard.h). redis-server cannot pick
// its own port (--port 0 disables TCP), so the test binds port 0 first and hands that port over.

#include "../support/ChildProcessGuard.h"

#include <QDeadlineTimer>
#include <QFile>
#include <QProcess>
#include <QRandomGenerator>
#include <QRegularExpression>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTest>

#include <csignal>
#include <sys/types.h>

namespace clustertest {

class RedisProcess {
public:
    RedisProcess() { testsupport::dieWithTest(m_process); }
    ~RedisProcess() { stop(); }

    /// Starts on a free port (or on the port of a previous start, to restart "the same" Redis
    /// empty). True once it answers PING.
    bool start()
    {
        if (m_port == 0 && (m_port = freePortOutsideEphemeralRange()) == 0)
            return false;
        m_process.setProgram(QStringLiteral("redis-server"));
        QStringList args{"--port", QString::number(m_port), "--bind", "127.0.0.1", "--save", "", "--loglevel", "warning"};
        if (!m_tlsCertificate.isEmpty()) // TLS only: the plaintext port is off (port 0)
            args = QStringList{"--port", "0", "--tls-port", QString::number(m_port), "--bind", "127.0.0.1", "127.0.0.2",
                               "--tls-cert-file", m_tlsCertificate, "--tls-key-file", m_tlsKey,
                               "--tls-ca-cert-file", m_tlsCa, "--tls-auth-clients", m_tlsClientCertificates ? "yes" : "no", "--save", "", "--loglevel", "warning"};
        if (!m_password.isEmpty())
            args += QStringList{"--requirepass", m_password};
        if (m_dataDir.isEmpty())
            args += QStringList{"--appendonly", "no"};
        else // every write on disk before Redis answers it: a kill -9 loses nothing acknowledged
            args += QStringList{"--appendonly", "yes", "--appendfsync", "always", "--dir", m_dataDir};
        m_process.setArguments(args);
        m_process.setProcessChannelMode(QProcess::ForwardedErrorChannel);
        m_process.setStandardOutputFile(QProcess::nullDevice());
        m_process.start();
        if (!m_process.waitForStarted(5000))
            return false;
        QDeadlineTimer deadline(10000);
        while (!deadline.hasExpired()) {
            if (ping())
                return true;
            QTest::qWait(20);
        }
        return false;
    }
    /// A port no other process holds now and the kernel does not hand out by itself: below the
    /// ephemeral range (ip_local_port_range), which every bind to port 0 and every outgoing
    /// connection's local port come from. Tests stop and restart Redis on its port while gateways
    /// and clients of tests running beside them open connections; a port from the ephemeral range
    /// could be taken by one of those in between, and the restart would fail. 0: none found.
    static quint16 freePortOutsideEphemeralRange()
    {
        int low = 32768;
        if (QFile range(QStringLiteral("/proc/sys/net/ipv4/ip_local_port_range")); range.open(QIODevice::ReadOnly))
            low = QString::fromLatin1(range.readAll()).split(QRegularExpression(QStringLiteral("\\s+")), Qt::SkipEmptyParts).value(0).toInt();
        const int first = 10000;
        for (int attempt = 0; low > first + 1 && attempt < 200; ++attempt) {
            const auto port = static_cast<quint16>(QRandomGenerator::global()->bounded(first, low));
            QTcpServer probe;
            if (probe.listen(QHostAddress::LocalHost, port))
                return port;
        }
        QTcpServer probe; // the ephemeral range starts low: take any free port
        return probe.listen(QHostAddress::LocalHost, 0) ? probe.serverPort() : 0;
    }

    /// The next start() keeps its data in `directory` (append-only file, fsync on every write), so
    /// a restart on the same port and directory finds every stream and epoch again.
    void persistTo(const QString &directory) { m_dataDir = directory; }
    /// The next start() requires this password (AUTH) from every client.
    void requirePassword(const QString &password) { m_password = password; }
    /// The next start() serves TLS only (on 127.0.0.1 and 127.0.0.2), with this certificate and
    /// key (PEM); `ca` is Redis's own trust store, which signs the client certificates Redis
    /// requires when `clientCertificates` is set.
    void useTls(const QString &certificate, const QString &key, const QString &ca, bool clientCertificates = false)
    {
        m_tlsClientCertificates = clientCertificates;
        m_tlsCertificate = certificate;
        m_tlsKey = key;
        m_tlsCa = ca;
    }
    /// SIGSTOP / SIGCONT: a Redis that keeps its sockets open but stops answering.
    void pause() { ::kill(pid_t(m_process.processId()), SIGSTOP); }
    void resume() { ::kill(pid_t(m_process.processId()), SIGCONT); }
    /// Kills it (SIGKILL: no shutdown work, like a crash) and waits until it is gone.
    void stop()
    {
        if (m_process.state() != QProcess::NotRunning) {
            m_process.kill();
            m_process.waitForFinished(5000);
        }
    }
    bool ping()
    {
        QTcpSocket socket;
        socket.connectToHost(QHostAddress::LocalHost, m_port);
        if (!socket.waitForConnected(500))
            return false;
        if (!m_tlsCertificate.isEmpty())
            return true; // TLS: listening is enough (the gateways under test do the handshakes)
        if (!m_password.isEmpty())
            socket.write("AUTH " + m_password.toUtf8() + "\r\n");
        socket.write("PING\r\n");
        QByteArray reply;
        QDeadlineTimer deadline(1000);
        while (!reply.contains("\r\n") && !deadline.hasExpired() && socket.waitForReadyRead(int(deadline.remainingTime())))
            reply += socket.readAll();
        return reply.contains("+PONG");
    }
    /// One inline command (e.g. "SCRIPT FLUSH") on a connection of its own, to a plaintext Redis
    /// without a password; the reply's first line ("+OK\r\n"), or what came within a second.
    QByteArray command(const QByteArray &line)
    {
        QTcpSocket socket;
        socket.connectToHost(QHostAddress::LocalHost, m_port);
        if (!socket.waitForConnected(500))
            return {};
        socket.write(line + "\r\n");
        QByteArray reply;
        QDeadlineTimer deadline(1000);
        while (!reply.contains("\r\n") && !deadline.hasExpired() && socket.waitForReadyRead(int(deadline.remainingTime())))
            reply += socket.readAll();
        return reply;
    }
    quint16 port() const { return m_port; }
    QString url() const { return QStringLiteral("redis://127.0.0.1:%1").arg(m_port); }

private:
    QProcess m_process;
    quint16 m_port = 0;
    QString m_dataDir;
    QString m_password;
    QString m_tlsCertificate;
    QString m_tlsKey;
    QString m_tlsCa;
    bool m_tlsClientCertificates = false;
};

} // namespace clustertest
