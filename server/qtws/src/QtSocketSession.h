#pragma once
// QtSocketSession: one upgraded WebSocket connection over a QTcpSocket / QSslSocket as a core
// Session (internal to the Qt gateway). Client bytes go through the shared websocket::FrameReader;
// messages go to ServerProtocol::receive, pings and pongs to ServerProtocol::receiveControl; on
// the Pusher endpoint (`pusher` set) messages go to PusherProtocol::receive and pings are answered.
// Outgoing frames wait in a bounded Outbox and are written once per event-loop turn.

#include <switchboard/Outbox.h>
#include <switchboard/PusherProtocol.h>
#include <switchboard/ServerProtocol.h>
#include <switchboard/Session.h>
#include <switchboard/qtws/QtWebSocketGateway.h>
#include <switchboard/websocket/FrameReader.h>

#include <QPointer>
#include <QTcpSocket>

#include <memory>
#include <string>
#include <vector>

namespace switchboard::qtws {

class QtSocketSession;

/// What a session needs from its gateway. All calls on the gateway's thread.
class SessionHost {
public:
    virtual ~SessionHost() = default;
    /// Queues `session` for the flush at the end of this event-loop turn.
    virtual void scheduleFlush(std::shared_ptr<QtSocketSession> session) = 0;
    virtual void countWrite(std::size_t frames, std::size_t bytes) = 0;
    virtual ServerProtocol &protocol() = 0;
    virtual QtGatewayCounters &counters() = 0;
    /// Milliseconds on the gateway's monotonic clock.
    virtual qint64 nowMs() const = 0;
};

/// Lifetime: owned by the gateway (shared with the ServerProtocol / Hub while they hold it);
/// the socket is owned by the gateway and outlives the session's use of it (detach() before the
/// socket goes). Thread safety: none; everything on the gateway's thread.
///
/// Closing: close() queues a close frame after everything already queued. When the peer's close
/// frame has arrived, or the reader stopped on a protocol violation, the TCP connection is closed
/// right after the close frame is written; otherwise the gateway waits closeTimeout for the
/// peer's close. A peer's close is echoed (1000 when it carried no code).
class QtSocketSession final : public Session,
                              private websocket::FrameHandler,
                              public std::enable_shared_from_this<QtSocketSession> {
public:
    /// `deflateWindowBits`: 0 without permessage-deflate, else the agreed compressor window.
    QtSocketSession(SessionHost &host, QTcpSocket *socket, OutboxLimits limits, std::size_t maxMessageBytes,
                    bool directWrites, int deflateWindowBits = 0);
    ~QtSocketSession() override;

    SendOutcome send(const SharedFrame &frame) override;
    void close(DisconnectCode code, std::string_view reason) override;
    void attached(std::string_view sessionId, std::string_view userId) override;
    /// Logs the refusal (logRefusal: peer, user, session, reason), rate-limited per error code.
    void refused(Error code, std::string_view reason) override;

    /// Reads the bytes that came with the upgrade request, then everything the socket has.
    void start(std::string leftover);
    /// Reads everything available from the socket into the frame reader; Qt keeps no read
    /// buffer for the socket afterwards (SocketRead.h).
    void readAvailable();
    /// Writes every queued frame, the pending ping / pong and the close frame (once per turn).
    /// `batch` and `scratch` are the gateway's, shared by every session's flush: the outbox is
    /// drained into `batch` (empty on entry and on return), the bytes are built in `scratch`.
    void flush(std::vector<SharedFrame> &batch, std::string &scratch);
    /// Qt wrote bytes of its buffer to the kernel: progress for the write deadline; a pong held
    /// back by the backlog may go now.
    void onBytesWritten();
    /// Queues a server ping (liveness).
    void ping();
    /// The socket is going away: later sends are dropped, nothing more is read or written.
    void detach();

    QTcpSocket *socket() const { return m_socket.data(); }
    ServerProtocol::ConnectionHandle handle = 0;
    /// Set (before start()) for a connection on `/app/{key}`: `handle` is then PusherProtocol's.
    PusherProtocol *pusher = nullptr;
    /// The connection's id in its protocol (session id, or Pusher socket_id); empty before it has one.
    std::string sessionId() const;

    qint64 lastActivityMs() const { return m_lastActivityMs; }
    bool pingOutstanding() const { return m_pingOutstanding; }
    /// True once a close frame is queued or sent: the gateway's close deadline runs from closingSinceMs().
    bool closing() const { return m_closeQueued; }
    /// The close that ended the connection: the first close frame, ours or the peer's; 1006
    /// when there was none. What the gateway reports to ServerProtocol::closed().
    std::uint16_t endCode() const { return m_endCode == 0 ? std::uint16_t(1006) : m_endCode; }
    const std::string &endReason() const { return m_endReason; }
    qint64 closingSinceMs() const { return m_closingSinceMs; }
    /// Bytes in Qt's socket buffer, and since when they have been waiting without progress.
    qint64 pendingSocketBytes() const;
    qint64 writeWaitSinceMs() const { return m_writeWaitSinceMs; }
    /// Bytes this connection holds in user space (outbox, socket buffer, pong, partial frames).
    qint64 bufferedBytes() const;

private:
    // websocket::FrameHandler
    bool onMessage(std::string_view payload, bool binary) override;
    bool onPing(std::string_view payload) override;
    bool onPong(std::string_view payload) override;
    void onClose(std::uint16_t code, std::string_view reason) override;
    void onViolation(websocket::CloseCode code, std::string_view reason) override;

    void feed(std::uint8_t *data, std::size_t size);
    void queueClose(std::uint16_t code, std::string_view reason);
    void schedule();

    SessionHost &m_host;
    QPointer<QTcpSocket> m_socket;
    Outbox m_outbox;
    websocket::FrameReader m_reader;
    int m_deflateWindowBits = 0;          ///< 0: permessage-deflate not negotiated
    std::string m_pong;          ///< payload of the pending pong (latest ping wins)
    std::string m_closeFrame;    ///< encoded close frame waiting for the next flush
    int m_fd = -1;               ///< descriptor of a plain TCP socket, for direct sends
    qint64 m_lastActivityMs = 0;
    qint64 m_closingSinceMs = 0;
    qint64 m_writeWaitSinceMs = 0;
    bool m_scheduled = false;
    bool m_pongPending = false;
    bool m_pingPending = false;
    bool m_pingOutstanding = false;
    std::uint16_t m_endCode = 0;
    std::string m_endReason;
    bool m_closeQueued = false;  ///< a close frame is queued or written: no more data or pongs
    bool m_closeWritten = false;
    bool m_detached = false;
    std::string m_user;          ///< set by attached(), for log lines
    std::string m_sessionId;     ///< set by attached(), for log lines
};

} // namespace switchboard::qtws
