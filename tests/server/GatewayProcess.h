#pragma once
// Test helpers: a switchboard-gateway child process on port 0, a WebSocket client that records
// frames and its close code, HTTP calls and token signing. Every wait is bounded, and the gateway
// dies with the test even when the test is killed (see tests/support/ChildProcessGuard.h).

#include "../support/BuildProgram.h"
#include "../support/ChildProcessGuard.h"

#include <QByteArray>
#include <QDeadlineTimer>
#include <QDir>
#include <QEventLoop>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QMessageAuthenticationCode>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QNetworkRequest>
#include <QProcess>
#include <QRegularExpression>
#include <QSignalSpy>
#include <QTest>
#include <QTimer>
#include <QWebSocket>

#include <algorithm>
#include <memory>
#include <optional>

#include <csignal>

namespace gatewaytest {

inline const QByteArray kApiKey = "test-api-key";
inline const QByteArray kSecret = "test-token-secret";

/// The gateway binary, started with a known API key and token secret; killed on destruction and
/// by the kernel when the test process dies.
class GatewayProcess {
public:
    GatewayProcess() { testsupport::dieWithTest(m_process); }
    ~GatewayProcess() { kill(); }

    /// Sets an environment variable for the next start() (e.g. ASAN_OPTIONS for one test).
    void setEnvironmentVariable(const QString &name, const QString &value)
    {
        QProcessEnvironment env = m_process.processEnvironment();
        if (env.isEmpty())
            env = QProcessEnvironment::systemEnvironment();
        env.insert(name, value);
        m_process.setProcessEnvironment(env);
    }

    /// For tests that measure the gateway's memory: under AddressSanitizer (the asan preset)
    /// freed memory waits in a quarantine (256 MiB by default) before it is reused, so RSS grows
    /// with what was allocated rather than with what is held. The next start() runs the gateway
    /// without it; a build without ASan ignores the option.
    void disableAsanQuarantine()
    {
        const QString asan = qEnvironmentVariable("ASAN_OPTIONS");
        setEnvironmentVariable(QStringLiteral("ASAN_OPTIONS"),
                               (asan.isEmpty() ? QString() : asan + QLatin1Char(':'))
                                   + QStringLiteral("quarantine_size_mb=0:thread_local_quarantine_size_kb=0"));
    }

    /// Removes an environment variable for the next start() (e.g. NOTIFY_SOCKET).
    void removeEnvironmentVariable(const QString &name)
    {
        QProcessEnvironment env = m_process.processEnvironment();
        if (env.isEmpty())
            env = QProcessEnvironment::systemEnvironment();
        env.remove(name);
        m_process.setProcessEnvironment(env);
    }

    /// The next start() keeps the gateway's log (stderr) for waitForLog() instead of forwarding
    /// it, at `--log-level info`.
    void captureLog() { m_captureLog = true; }

    bool start(const QStringList &extra = {})
    {
        // Two io threads unless SWITCHBOARD_TEST_GATEWAY_IO_THREADS says otherwise (the suites
        // run a second time with one: connections then share the io_context's executor).
        const QString ioThreads = qEnvironmentVariable("SWITCHBOARD_TEST_GATEWAY_IO_THREADS", QStringLiteral("2"));
        QStringList args{"--port", QString::number(m_fixedPort), "--api-key", kApiKey, "--token-secret", kSecret,
                         "--io-threads", ioThreads, "--log-level", m_captureLog ? "info" : "warn"};
        testsupport::setBuildProgram(m_process, QStringLiteral(SWITCHBOARD_GATEWAY_BIN), args + extra);
        m_process.setProcessChannelMode(m_captureLog ? QProcess::SeparateChannels : QProcess::ForwardedErrorChannel);
        m_process.start();
        if (!m_process.waitForStarted(5000))
            return false;
        const QRegularExpression listening(QStringLiteral("listening on 127\\.0\\.0\\.1:(\\d+)"));
        QDeadlineTimer deadline(10000);
        QByteArray out;
        while (!deadline.hasExpired()) {
            if (!m_process.waitForReadyRead(int(deadline.remainingTime())))
                break;
            out += m_process.readAllStandardOutput();
            const auto match = listening.match(QString::fromUtf8(out));
            if (match.hasMatch()) {
                m_port = match.captured(1).toUShort();
                return m_port != 0;
            }
        }
        return false;
    }

    /// The first log line (captureLog() before start()) matching `pattern` that was not returned
    /// before, waited for; empty when none came within `timeoutMs`.
    QString waitForLog(const QRegularExpression &pattern, int timeoutMs = 5000)
    {
        QDeadlineTimer deadline(timeoutMs);
        while (true) {
            m_partialLine += m_process.readAllStandardError();
            qsizetype end = -1;
            while ((end = m_partialLine.indexOf('\n')) >= 0) {
                m_logLines.append(QString::fromUtf8(m_partialLine.left(end)));
                m_partialLine.remove(0, end + 1);
            }
            for (qsizetype i = 0; i < m_logLines.size(); ++i)
                if (pattern.match(m_logLines[i]).hasMatch())
                    return m_logLines.takeAt(i);
            if (deadline.hasExpired())
                return {};
            m_process.waitForReadyRead(int(std::min<qint64>(50, deadline.remainingTime())));
            QCoreApplication::processEvents();
        }
    }

    /// The next start() listens on `port` instead of an OS-chosen one (a restart on the same
    /// port, for clients that reconnect to the same URL).
    void setFixedPort(quint16 port) { m_fixedPort = port; }
    quint16 port() const { return m_port; }
    qint64 pid() const { return m_process.processId(); }
    QProcess &process() { return m_process; }
    QUrl url(const QString &pathAndQuery, const QString &scheme = "http") const
    {
        return QUrl(QStringLiteral("%1://127.0.0.1:%2%3").arg(scheme).arg(m_port).arg(pathAndQuery));
    }
    void kill()
    {
        if (m_process.state() != QProcess::NotRunning) {
            m_process.kill();
            m_process.waitForFinished(5000);
        }
    }

private:
    QProcess m_process;
    quint16 m_port = 0;
    quint16 m_fixedPort = 0;
    bool m_captureLog = false;
    QStringList m_logLines;   ///< captured log lines not yet returned by waitForLog()
    QByteArray m_partialLine; ///< captured stderr after the last whole line
};

/// A WebSocket client recording every text frame as JSON and the close code.
class WsClient {
public:
    WsClient()
    {
        QObject::connect(&m_socket, &QWebSocket::textMessageReceived, &m_socket, [this](const QString &text) {
            m_frames.append(QJsonDocument::fromJson(text.toUtf8()).object());
        });
        // Tests use self-signed certificates for wss://.
        QObject::connect(&m_socket, &QWebSocket::sslErrors, &m_socket, [this] { m_socket.ignoreSslErrors(); });
        QObject::connect(&m_socket, &QWebSocket::disconnected, &m_socket, [this] {
            m_closeCode = int(m_socket.closeCode());
            m_disconnected = true;
        });
    }

    bool open(const GatewayProcess &gateway, int timeoutMs = 5000, const QString &scheme = "ws")
    {
        return open(gateway.url("/ws", scheme), timeoutMs);
    }
    /// Any WebSocket endpoint (e.g. an in-process Qt gateway).
    bool open(const QUrl &url, int timeoutMs = 5000)
    {
        m_socket.open(url);
        QDeadlineTimer deadline(timeoutMs);
        while (m_socket.state() != QAbstractSocket::ConnectedState && !m_disconnected && !deadline.hasExpired())
            QTest::qWait(5);
        return m_socket.state() == QAbstractSocket::ConnectedState;
    }
    /// Opens and sends `connect` with `token`; true when `welcome` arrives.
    bool connectSession(const GatewayProcess &gateway, const QString &token = {}, const QString &scheme = "ws")
    {
        return connectSession(gateway.url("/ws", scheme), token);
    }
    bool connectSession(const QUrl &url, const QString &token = {})
    {
        if (!open(url))
            return false;
        send({{"op", "connect"}, {"version", 1}, {"token", token}});
        return waitFor("welcome").has_value();
    }
    /// Opens a session on `gateway` with a connect frame carrying no token; its session id, empty
    /// when the handshake failed.
    QString connectWithId(const GatewayProcess &gateway)
    {
        if (!open(gateway))
            return {};
        send({{"op", "connect"}, {"version", 1}});
        const auto welcome = waitFor("welcome");
        return welcome ? (*welcome)["session"].toString() : QString();
    }
    void send(const QJsonObject &frame) { m_socket.sendTextMessage(QString::fromUtf8(QJsonDocument(frame).toJson(QJsonDocument::Compact))); }
    /// Waits for a frame with this op (and optional ackId) not yet returned; consumes it.
    std::optional<QJsonObject> waitFor(const QString &op, int ackId = -1, int timeoutMs = 5000)
    {
        QDeadlineTimer deadline(timeoutMs);
        while (true) {
            for (qsizetype i = 0; i < m_frames.size(); ++i) {
                const QJsonObject &f = m_frames[i];
                if (f.value("op").toString() == op && (ackId < 0 || f.value("ackId").toInt() == ackId))
                    return m_frames.takeAt(i);
            }
            if (deadline.hasExpired())
                return std::nullopt;
            QTest::qWait(5);
        }
    }
    /// Waits until the server closed the connection; returns the close code (-1 on timeout).
    int waitClosed(int timeoutMs = 5000)
    {
        QDeadlineTimer deadline(timeoutMs);
        while (!m_disconnected && !deadline.hasExpired())
            QTest::qWait(5);
        return m_disconnected ? m_closeCode : -1;
    }
    QList<QJsonObject> &frames() { return m_frames; }
    QWebSocket &socket() { return m_socket; }
    bool disconnected() const { return m_disconnected; }

private:
    QWebSocket m_socket;
    QList<QJsonObject> m_frames;
    int m_closeCode = -1;
    bool m_disconnected = false;
};

struct HttpResult {
    int status = 0;
    QByteArray body;
    QJsonObject json() const { return QJsonDocument::fromJson(body).object(); }
};

/// One HTTP request, waited for (bounded).
inline HttpResult http(QNetworkAccessManager &nam, const QByteArray &method, const QUrl &url,
                       const QByteArray &body = {}, bool withKey = true)
{
    QNetworkRequest request(url);
    if (withKey)
        request.setRawHeader("X-API-Key", kApiKey);
    if (!body.isEmpty())
        request.setHeader(QNetworkRequest::ContentTypeHeader, "application/json");
    std::unique_ptr<QNetworkReply> reply(nam.sendCustomRequest(request, method, body));
    if (url.scheme() == "https")
        reply->ignoreSslErrors(); // self-signed test certificate
    QSignalSpy finished(reply.get(), &QNetworkReply::finished);
    if (!reply->isFinished())
        finished.wait(10000);
    return {reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt(), reply->readAll()};
}

inline HttpResult publish(QNetworkAccessManager &nam, const GatewayProcess &g, const QJsonObject &body)
{
    return http(nam, "POST", g.url("/api/publish"), QJsonDocument(body).toJson(QJsonDocument::Compact));
}

/// HS256 JWT signed with `secret`.
inline QString makeToken(const QJsonObject &claims, const QByteArray &secret = kSecret)
{
    const auto b64 = [](const QByteArray &b) {
        return b.toBase64(QByteArray::Base64UrlEncoding | QByteArray::OmitTrailingEquals);
    };
    const QByteArray input = b64(R"({"alg":"HS256","typ":"JWT"})") + '.' + b64(QJsonDocument(claims).toJson(QJsonDocument::Compact));
    const QByteArray mac = QMessageAuthenticationCode::hash(input, secret, QCryptographicHash::Sha256);
    return QString::fromLatin1(input + '.' + b64(mac));
}

/// Parses Prometheus text into name{labels} -> value.
inline QHash<QString, double> parseMetrics(const QByteArray &text)
{
    QHash<QString, double> out;
    for (const QByteArray &line : text.split('\n')) {
        if (line.isEmpty() || line.startsWith('#'))
            continue;
        const int space = line.lastIndexOf(' ');
        out.insert(QString::fromUtf8(line.left(space)), line.mid(space + 1).toDouble());
    }
    return out;
}

inline QHash<QString, double> metrics(QNetworkAccessManager &nam, const GatewayProcess &g)
{
    return parseMetrics(http(nam, "GET", g.url("/metrics"), {}, false).body);
}

} // namespace gatewaytest
