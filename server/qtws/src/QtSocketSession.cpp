#include "QtSocketSession.h"

#include "RefusalLog.h"
#include "SocketRead.h"
#include "SocketWrite.h"

#include <switchboard/websocket/Codec.h>
#include <switchboard/websocket/MessageDeflate.h>

namespace switchboard::qtws {

namespace ws = switchboard::websocket;

QtSocketSession::QtSocketSession(SessionHost &host, QTcpSocket *socket, OutboxLimits limits,
                                 std::size_t maxMessageBytes, bool directWrites, int deflateWindowBits)
    : m_host(host), m_socket(socket), m_outbox(limits), m_reader(maxMessageBytes), m_deflateWindowBits(deflateWindowBits)
{
    if (m_deflateWindowBits) {
        m_reader.enableDeflate();
        ++host.counters().deflateSessions;
    }
    m_fd = directWriteDescriptor(*socket, directWrites);
    m_lastActivityMs = host.nowMs();
}

QtSocketSession::~QtSocketSession() = default;

qint64 QtSocketSession::pendingSocketBytes() const
{
    return m_socket ? m_socket->bytesToWrite() : 0;
}

qint64 QtSocketSession::bufferedBytes() const
{
    qint64 bytes = static_cast<qint64>(m_outbox.byteCount() + m_reader.bufferedBytes() + m_closeFrame.size());
    if (m_pongPending)
        bytes += static_cast<qint64>(m_pong.size());
    if (m_socket)
        bytes += m_socket->bytesToWrite() + m_socket->bytesAvailable();
    return bytes;
}

std::string QtSocketSession::sessionId() const
{
    return pusher ? pusher->socketId(handle) : m_host.protocol().sessionId(handle);
}

void QtSocketSession::schedule()
{
    if (m_scheduled)
        return;
    m_scheduled = true;
    m_host.scheduleFlush(shared_from_this());
}

// ---- queueing --------------------------------------------------------------------------------

SendOutcome QtSocketSession::send(const SharedFrame &frame)
{
    if (m_detached || m_closeQueued)
        return SendResult::Closed;
    // Qt's socket buffer and a pending pong count against the same byte limit.
    const auto external = static_cast<std::size_t>(pendingSocketBytes()) + (m_pongPending ? m_pong.size() : 0);
    const SendOutcome result = m_outbox.push(frame, external);
    if (result != SendResult::Dropped)
        schedule();
    return result;
}

void QtSocketSession::close(DisconnectCode code, std::string_view reason)
{
    if (m_detached || m_closeQueued)
        return;
    // Every close the server decides on, but a normal end or a shutdown, is a refusal to log
    // (idle timeout, flood, slow consumer, bad token, repeated malformed frames...).
    if (code != DisconnectCode::Normal && code != DisconnectCode::Shutdown)
        logRefusal("websocket close", m_socket.data(), sessionId(),
                   std::to_string(static_cast<int>(code)) + " " + std::string(reason), m_user);
    queueClose(static_cast<std::uint16_t>(code), reason);
}

void QtSocketSession::attached(std::string_view sessionId, std::string_view userId)
{
    m_sessionId.assign(sessionId);
    m_user.assign(userId);
}

void QtSocketSession::refused(Error code, std::string_view reason)
{
    logRefusal(std::string("websocket ").append(errorName(code)), m_socket.data(), m_sessionId,
               "error " + std::to_string(static_cast<int>(code)) + " (" + std::string(reason) + ")", m_user);
}

void QtSocketSession::queueClose(std::uint16_t code, std::string_view reason)
{
    if (m_detached || m_closeQueued)
        return;
    if (m_endCode == 0) {
        m_endCode = code;
        m_endReason.assign(reason);
    }
    m_closeQueued = true;
    m_closingSinceMs = m_host.nowMs();
    m_pongPending = false;
    ws::appendCloseFrame(m_closeFrame, code, reason);
    schedule(); // after everything already queued (the `disconnect` frame among it)
}

void QtSocketSession::ping()
{
    if (m_detached || m_closeQueued)
        return;
    // At most once per ping interval: give back the storage the outbox keeps for rounds of many
    // frames, which a session that went quiet after a burst would otherwise hold for good.
    m_outbox.releaseStorage();
    m_pingPending = true;
    m_pingOutstanding = true;
    ++m_host.counters().pingsSent;
    schedule();
}

// ---- writing ---------------------------------------------------------------------------------

void QtSocketSession::flush(std::vector<SharedFrame> &batch, std::string &scratch)
{
    m_scheduled = false;
    if (m_detached || !m_socket || m_socket->state() != QAbstractSocket::ConnectedState) {
        std::vector<SharedFrame> discard;
        m_outbox.takeAll(discard);
        return;
    }
    const qint64 backlog = m_socket->bytesToWrite();
    m_outbox.takeAll(batch);

    // One copy of each shared frame into a cork buffer, then one write (SocketWrite.h): the
    // kernel sees one large write per socket per loop turn. Control frames go after the data.
    scratch.clear();
    std::size_t bytes = 0;
    QtGatewayCounters &counters = m_host.counters();
    for (const SharedFrame &frame : batch) {
        const std::string *payload = &frame->bytes;
        bool compressed = false;
        if (m_deflateWindowBits && frame->compress) {
            // Built by the first deflate session that writes the frame, shared by the others.
            const std::string &deflated = frame->deflated.getOrBuild(
                [&] { return ws::deflateMessage(frame->bytes, m_deflateWindowBits); },
                [&] { ++counters.deflateCompressions; });
            if (!deflated.empty()) { // empty: not smaller, the frame goes out plain
                ++counters.deflateFramesOut;
                counters.deflateBytesSaved += frame->bytes.size() - deflated.size();
                payload = &deflated;
                compressed = true;
            }
        }
        ws::appendHeader(scratch, frame->kind == Frame::Kind::Binary ? ws::Binary : ws::Text, payload->size(), compressed);
        scratch.append(*payload);
        bytes += payload->size();
    }
    if (m_pingPending) {
        ws::appendHeader(scratch, ws::Ping, 0);
        m_pingPending = false;
    }
    // A pong waits while Qt's buffer still holds earlier bytes (the peer is not reading): it
    // stays one pending pong, replaced by later pings, instead of a queue of them.
    if (m_pongPending && backlog == 0) {
        ws::appendHeader(scratch, ws::Pong, m_pong.size());
        scratch.append(m_pong);
        m_pongPending = false;
    }
    const bool closeInBatch = !m_closeFrame.empty();
    if (closeInBatch) {
        scratch.append(m_closeFrame);
        std::string().swap(m_closeFrame);
    }
    const std::size_t frames = batch.size();
    batch.clear(); // the frames' bytes are in scratch
    if (scratch.empty())
        return;

    writeToSocket(*m_socket, m_fd, scratch.data(), scratch.size());
    if (backlog == 0 && m_socket && m_socket->bytesToWrite() > 0)
        m_writeWaitSinceMs = m_host.nowMs(); // the write deadline starts now
    m_host.countWrite(frames, bytes);

    if (closeInBatch) {
        m_closeWritten = true;
        // The peer's close has arrived (handshake complete) or the reader stopped on a
        // violation (nothing more will be read): the server closes TCP first (RFC 6455 7.1.1).
        if (m_reader.stopped() && m_socket)
            m_socket->disconnectFromHost();
    }
}

void QtSocketSession::onBytesWritten()
{
    m_writeWaitSinceMs = m_host.nowMs();
    if (m_pongPending && pendingSocketBytes() == 0)
        schedule();
}

// ---- reading ---------------------------------------------------------------------------------

void QtSocketSession::start(std::string leftover)
{
    if (!leftover.empty()) // frames sent right behind the upgrade request
        feed(reinterpret_cast<std::uint8_t *>(leftover.data()), leftover.size());
    readAvailable();
}

void QtSocketSession::readAvailable()
{
    while (!m_detached && m_socket) {
        QByteArray block = takeBufferedBytes(*m_socket);
        if (block.isEmpty())
            return;
        feed(reinterpret_cast<std::uint8_t *>(block.data()), static_cast<std::size_t>(block.size()));
    }
}

void QtSocketSession::feed(std::uint8_t *data, std::size_t size)
{
    m_lastActivityMs = m_host.nowMs();
    if (!m_reader.stopped()) // after the peer's close or a violation, input is discarded
        m_reader.feed(data, size, *this);
    if (const std::uint64_t inflated = m_reader.takeInflatedMessages())
        m_host.counters().deflateMessagesIn += inflated;
}

bool QtSocketSession::onMessage(std::string_view payload, bool binary)
{
    if (m_closeQueued)
        return true; // closing: ignored, but keep reading for the peer's close frame
    if (pusher)
        pusher->receive(handle, payload, binary);
    else
        m_host.protocol().receive(handle, payload, binary);
    return !m_detached;
}

bool QtSocketSession::onPing(std::string_view payload)
{
    ++m_host.counters().pingsReceived;
    if (m_closeQueued)
        return true;
    // Pings count against the connection's operation rate; over it they are not answered and
    // repeated violations close the connection (3005).
    // A Pusher connection's pings are answered as they come (PusherProtocol rates its messages).
    if (!pusher && !m_host.protocol().receiveControl(handle))
        return !m_detached;
    if (m_pongPending) {
        ++m_host.counters().pongsCoalesced; // RFC 6455 5.5.3: answering the latest is enough
    } else {
        const std::size_t pongBytes = payload.size() + 2;
        if (m_outbox.byteCount() + static_cast<std::size_t>(pendingSocketBytes()) + pongBytes > m_outbox.limits().maxBytes) {
            ++m_host.counters().controlOverflows;
            logRefusal("control overflow", m_socket.data(), sessionId(), "pong over the outbox byte limit", m_user);
            queueClose(static_cast<std::uint16_t>(DisconnectCode::SlowConsumer), "outbox full");
            return true;
        }
    }
    m_pong.assign(payload);
    m_pongPending = true;
    schedule();
    return true;
}

bool QtSocketSession::onPong(std::string_view)
{
    m_pingOutstanding = false;
    if (!pusher)
        m_host.protocol().receiveControl(handle); // counted against the rate like a ping
    return !m_detached;
}

void QtSocketSession::onClose(std::uint16_t code, std::string_view reason)
{
    if (m_endCode == 0) {
        m_endCode = code;
        m_endReason.assign(reason);
    }
    if (m_closeQueued) {
        // Our close is answered: once it is written, the handshake is complete.
        if (m_closeWritten && m_socket)
            m_socket->disconnectFromHost();
        return;
    }
    // Echo the peer's code (1000 when it sent none); undelivered frames are pointless now. The
    // ServerProtocol hears about the end when the socket disconnects.
    if (code == static_cast<std::uint16_t>(ws::CloseCode::NoStatus))
        code = static_cast<std::uint16_t>(ws::CloseCode::Normal);
    std::vector<SharedFrame> discard;
    m_outbox.takeAll(discard);
    queueClose(code, {});
}

void QtSocketSession::onViolation(ws::CloseCode code, std::string_view reason)
{
    QtGatewayCounters &counters = m_host.counters();
    switch (code) {
    case ws::CloseCode::MessageTooBig: ++(m_reader.inflateRefused() ? counters.inflateRefused : counters.oversizeMessages); break;
    case ws::CloseCode::InvalidPayload: ++counters.invalidUtf8; break;
    default: ++counters.protocolErrors; break;
    }
    logRefusal("websocket protocol", m_socket.data(), sessionId(), reason, m_user);
    if (m_closeQueued) { // our close is out already: nothing more will be read
        if (m_closeWritten && m_socket)
            m_socket->disconnectFromHost();
        return;
    }
    queueClose(static_cast<std::uint16_t>(code), reason);
}

void QtSocketSession::detach()
{
    m_detached = true;
    m_socket.clear();
    m_pongPending = false;
    std::string().swap(m_closeFrame);
    std::vector<SharedFrame> discard;
    m_outbox.takeAll(discard);
}

} // namespace switchboard::qtws
