#pragma once
// Test helper: tests/server/webhook_backend.py (or another backend served by backend_server.py,
// e.g. rpc_backend.py) as a child process (dies with the test) on port 0 or a given port; every
// request it received, parsed from its stdout. Waits are bounded.

#include "../support/ChildProcessGuard.h"

#include <QByteArray>
#include <QDeadlineTimer>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTest>

namespace gatewaytest {

struct WebhookRequest {
    QString path;
    QJsonObject headers; ///< lower-case names
    QByteArray body;     ///< raw bytes as received
    QJsonArray events() const { return QJsonDocument::fromJson(body).object().value("events").toArray(); }
};

class WebhookBackend {
public:
#ifdef SWITCHBOARD_WEBHOOK_BACKEND
    WebhookBackend() : WebhookBackend(QStringLiteral(SWITCHBOARD_WEBHOOK_BACKEND)) {}
#endif
    /// `script`: the Python backend to run.
    explicit WebhookBackend(QString script) : m_script(std::move(script)) { testsupport::dieWithTest(m_process); }
    ~WebhookBackend() { stop(); }

    /// Starts the backend (`extra`: --mode, --delay, --fail-first, --port, --tls CERT KEY);
    /// false when it did not report its port within 10 s.
    bool start(const QStringList &extra = {})
    {
        m_scheme = extra.contains(QStringLiteral("--tls")) ? QStringLiteral("https") : QStringLiteral("http");
        m_process.setProgram(QStringLiteral("python3"));
        m_process.setArguments(QStringList{m_script} + extra);
        m_process.setProcessChannelMode(QProcess::ForwardedErrorChannel);
        m_process.start();
        if (!m_process.waitForStarted(5000))
            return false;
        QDeadlineTimer deadline(10000);
        while (!deadline.hasExpired()) {
            if (m_process.canReadLine() || m_process.waitForReadyRead(int(deadline.remainingTime()))) {
                while (m_process.canReadLine()) {
                    const QByteArray line = m_process.readLine().trimmed();
                    if (line.startsWith("port ")) {
                        m_port = line.mid(5).toUShort();
                        return m_port != 0;
                    }
                }
            }
        }
        return false;
    }
    void stop()
    {
        if (m_process.state() != QProcess::NotRunning) {
            m_process.kill();
            m_process.waitForFinished(5000);
        }
    }
    quint16 port() const { return m_port; }
    QString url(const QString &path = QStringLiteral("/hook")) const
    {
        return QStringLiteral("%1://127.0.0.1:%2%3").arg(m_scheme).arg(m_port).arg(path);
    }

    /// Requests received so far (reads what the backend printed).
    const QList<WebhookRequest> &requests()
    {
        m_process.waitForReadyRead(0);
        while (m_process.canReadLine()) {
            const QJsonObject o = QJsonDocument::fromJson(m_process.readLine()).object();
            m_requests.append(WebhookRequest{o.value("path").toString(), o.value("headers").toObject(),
                                             QByteArray::fromBase64(o.value("body").toString().toLatin1())});
        }
        return m_requests;
    }
    /// Every event of every request so far, in arrival order.
    QList<QJsonObject> events()
    {
        QList<QJsonObject> out;
        for (const WebhookRequest &request : requests())
            for (const auto &event : request.events())
                out.append(event.toObject());
        return out;
    }
    /// Waits until at least `count` events arrived.
    bool waitForEvents(qsizetype count, int timeoutMs = 10000)
    {
        return QTest::qWaitFor([&] { return events().size() >= count; }, timeoutMs);
    }
    bool waitForRequests(qsizetype count, int timeoutMs = 10000)
    {
        return QTest::qWaitFor([&] { return requests().size() >= count; }, timeoutMs);
    }

private:
    QString m_script;
    QProcess m_process;
    quint16 m_port = 0;
    QString m_scheme = QStringLiteral("http");
    QList<WebhookRequest> m_requests;
};

} // namespace gatewaytest
