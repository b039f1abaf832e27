#include "QtSocketSession.h"

#include <QSslSocket>

#ifdef Q_OS_UNIX
#include <sys/socket.h>
#include <sys/types.h>
#endif

namespace switchboard::qtws {

namespace {

// RFC 6455 section 5.2 header of an unmasked (server to client), unfragmented frame.
void appendFrameHeader(std::string &out, Frame::Kind kind, std::size_t length)
{
    out.push_back(static_cast<char>(0x80 | (kind == Frame::Kind::Text ? 0x1 : 0x2)));
    if (length < 126) {
        out.push_back(static_cast<char>(length));
    } else if (length <= 0xFFFF) {
        out.push_back(static_cast<char>(126));
        out.push_back(static_cast<char>((length >> 8) & 0xFF));
        out.push_back(static_cast<char>(length & 0xFF));
    } else {
        out.push_back(static_cast<char>(127));
        for (int shift = 56; shift >= 0; shift -= 8)
            out.push_back(static_cast<char>((static_cast<std::uint64_t>(length) >> shift) & 0xFF));
    }
}

} // namespace

QtSocketSession::QtSocketSession(SessionHost &host, QWebSocket *socket, QTcpSocket *raw, OutboxLimits limits)
    : m_host(host), m_socket(socket), m_raw(raw), m_outbox(limits)
{
    // TLS sockets encrypt in QSslSocket: they always take the Qt path.
    if (raw && !qobject_cast<QSslSocket *>(raw))
        m_fd = static_cast<int>(raw->socketDescriptor());
}

qint64 QtSocketSession::pendingSocketBytes() const
{
    if (m_raw)
        return m_raw->bytesToWrite();
    return m_socket ? m_socket->bytesToWrite() : 0;
}

SendResult QtSocketSession::send(const SharedFrame &frame)
{
    if (!m_socket || m_closing)
        return SendResult::Dropped;
    const SendResult result = m_outbox.push(frame, static_cast<std::size_t>(pendingSocketBytes()));
    if (result != SendResult::Dropped && !m_scheduled) {
        m_scheduled = true;
        m_host.scheduleFlush(shared_from_this());
    }
    return result;
}

void QtSocketSession::flush(std::string &scratch)
{
    m_scheduled = false;
    if (m_outbox.empty())
        return;
    m_writing.clear();
    m_outbox.takeAll(m_writing);
    if (!m_socket || m_socket->state() != QAbstractSocket::ConnectedState) {
        m_writing.clear();
        return;
    }
    std::size_t bytes = 0;
    if (m_raw) {
        // One copy of each shared frame into a cork buffer, then one write into the socket's
        // buffer: the kernel sees one large write per socket per loop turn.
        scratch.clear();
        for (const SharedFrame &frame : m_writing) {
            appendFrameHeader(scratch, frame->kind, frame->bytes.size());
            scratch.append(frame->bytes);
            bytes += frame->bytes.size();
        }
        const char *data = scratch.data();
        std::size_t left = scratch.size();
#ifdef Q_OS_UNIX
        // Plain TCP with nothing queued in Qt's buffer: straight to the kernel. This skips the
        // socket's ring buffer (memory kept per connection) and the write-notifier toggling a
        // buffered write costs. Order is kept: only when Qt holds no earlier bytes.
        if (m_fd >= 0 && m_raw->bytesToWrite() == 0) {
            const ssize_t sent = ::send(m_fd, data, left, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (sent > 0) {
                data += sent;
                left -= static_cast<std::size_t>(sent);
            }
        }
#endif
        if (left > 0) {
            // The rest waits in the socket's buffer (counted by bytesToWrite()); flush() hands
            // what the kernel accepts now instead of at the next write notification.
            m_raw->write(data, static_cast<qint64>(left));
            m_raw->flush();
        }
    } else {
        for (const SharedFrame &frame : m_writing) {
            const auto size = static_cast<qsizetype>(frame->bytes.size());
            if (frame->kind == Frame::Kind::Text) {
                m_socket->sendTextMessage(QString::fromUtf8(frame->bytes.data(), size));
            } else {
                // The bytes are copied into the socket buffer inside the call; `frame` lives
                // in m_writing until then.
                m_socket->sendBinaryMessage(QByteArray::fromRawData(frame->bytes.data(), size));
            }
            bytes += frame->bytes.size();
        }
    }
    m_host.countWrite(m_writing.size(), bytes);
    m_writing.clear();
}

void QtSocketSession::close(DisconnectCode code, std::string_view reason)
{
    if (m_closing || !m_socket)
        return;
    // What is already queued (the `disconnect` frame among it) goes out before the close frame.
    std::string scratch;
    flush(scratch);
    m_closing = true;
    m_socket->close(static_cast<QWebSocketProtocol::CloseCode>(code),
                    QString::fromUtf8(reason.data(), static_cast<qsizetype>(reason.size())));
}

void QtSocketSession::detach()
{
    m_socket.clear();
    m_raw.clear();
    m_closing = true;
    std::vector<SharedFrame> discard;
    m_outbox.takeAll(discard);
}

} // namespace switchboard::qtws
