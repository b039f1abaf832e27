#pragma once
// QtSocketSession: one accepted QWebSocket as a core Session (internal to the Qt gateway).

#include <switchboard/Outbox.h>
#include <switchboard/ServerProtocol.h>
#include <switchboard/Session.h>

#include <QPointer>
#include <QTcpSocket>
#include <QWebSocket>

#include <memory>
#include <string>
#include <vector>

namespace switchboard::qtws {

class QtSocketSession;

/// What a session needs from its gateway.
class SessionHost {
public:
    virtual ~SessionHost() = default;
    /// Queues `session` for the flush at the end of this event-loop turn.
    virtual void scheduleFlush(std::shared_ptr<QtSocketSession> session) = 0;
    virtual void countWrite(std::size_t frames, std::size_t bytes) = 0;
};

/// Session over one QWebSocket. send() only appends to the Outbox; flush() writes everything
/// queued. `raw` is the TCP (or TLS) socket under the QWebSocket, used for direct writes; null
/// makes flush() use QWebSocket's own send functions.
class QtSocketSession final : public Session, public std::enable_shared_from_this<QtSocketSession> {
public:
    QtSocketSession(SessionHost &host, QWebSocket *socket, QTcpSocket *raw, OutboxLimits limits);

    SendResult send(const SharedFrame &frame) override;
    void close(DisconnectCode code, std::string_view reason) override;

    /// Writes every queued frame to the socket (called by the gateway once per loop turn).
    void flush(std::string &scratch);
    /// The socket is gone: later sends are dropped.
    void detach();

    QWebSocket *socket() const { return m_socket.data(); }
    ServerProtocol::ConnectionHandle handle = 0;
    qint64 lastActivityMs = 0;
    bool pingOutstanding = false;
    bool closeTimerArmed = false;
    bool closing() const { return m_closing; }

private:
    qint64 pendingSocketBytes() const;

    SessionHost &m_host;
    QPointer<QWebSocket> m_socket;
    QPointer<QTcpSocket> m_raw;
    Outbox m_outbox;
    std::vector<SharedFrame> m_writing;
    int m_fd = -1; ///< descriptor of a plain TCP `raw` socket, for direct sends
    bool m_scheduled = false;
    bool m_closing = false;
};

} // namespace switchboard::qtws
