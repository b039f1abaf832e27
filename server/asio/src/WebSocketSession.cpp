#include "WebSocketSession.h"

#include "Log.h"
#include "PeerText.h"

#include <switchboard/ControlFrames.h>
#include <switchboard/websocket/MessageDeflate.h>

#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>

#include <array>
#include <cassert>
#include <cerrno>
#include <cstring>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

namespace switchboard::asio {

namespace {
/// Frames up to this size are copied into the cork buffer; larger ones are gathered by reference.
constexpr std::size_t kCopyLimit = 1024;
/// Write buffers above this capacity are released after the write, so idle sessions stay small.
constexpr std::size_t kKeepCapacity = 64 * 1024;
constexpr std::size_t kReadChunk = 64 * 1024;

} // namespace

/// The write buffers of the io thread: a plain TCP session builds its batch here and owns
/// buffers of its own only while the kernel holds back part of a batch, so an idle session
/// keeps none.
WebSocketSession::WriteBuffers &WebSocketSession::threadWriteBuffers()
{
    thread_local WriteBuffers local;
    return local;
}

WebSocketSession::WebSocketSession(ServerContext &context, AnyStream stream, TcpSlot slot,
                                   const boost::asio::ip::tcp::endpoint &peer, int deflateWindowBits)
    : m_slot(std::move(slot))
    , m_shard(context.shards->of(stream.get_executor()))
    , m_tls(stream.isTls() ? std::make_unique<Tls>(stream.takeTls()) : nullptr)
    , m_deflateWindowBits(static_cast<std::uint8_t>(deflateWindowBits))
    , m_peer(peer)
    , m_outbox(OutboxLimits{context.config.outboxFrames, context.config.outboxBytes})
    , m_reader(context.config.maxFrameBytes)
{
    assert(m_shard.context == &context);
    TcpSocket &socket = m_tls ? m_tls->stream->next_layer() : stream.lowest();
    boost::system::error_code ec;
    if (!m_tls) {
        // The session reads and writes the descriptor itself (ReadinessPoller.h); Asio's state
        // for the socket goes back to its pool for the next accept. The HTTP phase's reads made
        // the descriptor non-blocking already, as a rule: no second ioctl then.
        if (!socket.native_non_blocking())
            socket.non_blocking(true, ec);
        if (!ec)
            m_fd = socket.release(ec);
        if (ec) {
            log::debug("websocket: cannot take over the socket: ", ec.message());
            m_fd = -1; // start() ends the session
        }
    }
    if (m_deflateWindowBits) {
        m_reader.enableDeflate();
        ctx().metrics.wsDeflateSessions.fetch_add(1, std::memory_order_relaxed);
    }
}

WebSocketSession::~WebSocketSession()
{
    if (m_fd >= 0) // destroyed without finish() (the gateway stopping): closing ends its registration
        ::close(m_fd);
}

std::chrono::milliseconds WebSocketSession::closeWait(const GatewayConfig &config)
{
    return std::min<std::chrono::milliseconds>(std::chrono::seconds(2), config.drainTimeout);
}

void WebSocketSession::start(std::string leftover, ConnectionInfo info, std::optional<PusherTarget> pusher)
{
    ServerContext &context = ctx();
    context.metrics.wsSessions.fetch_add(1);
    context.metrics.wsHandshakes.fetch_add(1);
    auto self = shared_from_this();
    m_isPusher = pusher.has_value();
    info.remoteAddress = m_peer.endpoint().address().to_string();
    m_handle = context.core.locked([&] {
        if (pusher)
            return context.core.pusher()->open(self, pusher->appKey,
                                               pusher->protocol ? std::optional<std::string_view>(*pusher->protocol) : std::nullopt);
        return context.core.protocol().open(self, std::move(info));
    });
    m_lastReceived = m_lastProbeSent = std::chrono::steady_clock::now();
    m_shard.liveness.watch(self, std::chrono::steady_clock::time_point::max());
    armLiveness();
    if (!leftover.empty()) // frames sent right behind the upgrade request
        onData(reinterpret_cast<std::uint8_t *>(leftover.data()), leftover.size());
    if (m_finished)
        return;
    if (m_tls)
        readMore();
    else
        watchSocket();
}

// ---- queueing (any thread) -------------------------------------------------------------------

SendOutcome WebSocketSession::send(const SharedFrame &frame)
{
    std::lock_guard lock(m_mutex);
    if (m_closeQueued || m_finishedFlag)
        return SendResult::Closed;
    const SendOutcome result = m_outbox.push(frame, controlBytesLocked());
    if (result != SendResult::Dropped)
        scheduleFlushLocked();
    return result;
}

void WebSocketSession::close(DisconnectCode code, std::string_view reason)
{
    std::lock_guard lock(m_mutex);
    closeLocked(code, reason);
}

void WebSocketSession::attached(std::string_view sessionId, std::string_view userId)
{
    (void)sessionId;
    std::lock_guard lock(m_mutex);
    m_user.assign(userId);
}

void WebSocketSession::refused(Error code, std::string_view reason)
{
    std::string user;
    {
        std::lock_guard lock(m_mutex);
        user = m_user.view();
    }
    log::refusal(std::string("websocket ").append(errorName(code)), peerText(m_peer), user,
                 "error " + std::to_string(static_cast<int>(code)) + " (" + std::string(reason) + ")");
}

void WebSocketSession::closeLocked(DisconnectCode code, std::string_view reason)
{
    if (m_closeQueued || m_finishedFlag)
        return;
    if (code != DisconnectCode::Normal && code != DisconnectCode::Shutdown)
        log::refusal(std::string("websocket ").append(disconnectName(code)), peerText(m_peer), m_user.view(),
                     "close " + std::to_string(static_cast<int>(code)) + " (" + std::string(reason) + ")");
    m_closeQueued = true;
    m_pongPending = false; // the close frame is the last word
    m_endCode = static_cast<std::uint16_t>(code);
    ControlFrames &control = controlLocked();
    control.endReason.assign(reason);
    ws::appendCloseFrame(control.closeFrame, static_cast<std::uint16_t>(code), reason);
    scheduleFlushLocked();
}

void WebSocketSession::queuePong(std::string_view payload)
{
    std::lock_guard lock(m_mutex);
    if (m_closeQueued || m_finishedFlag)
        return;
    auto &metrics = ctx().metrics;
    if (m_pongPending) {
        // RFC 6455 5.5.3: answering only the latest ping is enough. The flush that will carry
        // the pending pong is already scheduled.
        controlLocked().pongPayload.assign(payload);
        metrics.wsPongsCoalesced.fetch_add(1, std::memory_order_relaxed);
        return;
    }
    const std::size_t frameBytes = 2 + payload.size();
    if (m_outbox.byteCount() + controlBytesLocked() + frameBytes > m_outbox.limits().maxBytes) {
        // The client does not read what it has been sent: its outbox policy decides.
        metrics.wsPongsDropped.fetch_add(1, std::memory_order_relaxed);
        if (ctx().config.disconnectSlowClients)
            closeLocked(DisconnectCode::SlowConsumer, "outbox full");
        return;
    }
    m_pongPending = true;
    controlLocked().pongPayload.assign(payload);
    scheduleFlushLocked();
}

std::size_t WebSocketSession::controlBytesLocked() const
{
    if (!m_control)
        return m_pingPending ? 2 : 0;
    return (m_pongPending ? 2 + m_control->pongPayload.size() : 0) + (m_pingPending ? 2 : 0) + m_control->closeFrame.size();
}

WebSocketSession::ControlFrames &WebSocketSession::controlLocked()
{
    if (!m_control)
        m_control = std::make_unique<ControlFrames>();
    return *m_control;
}

bool WebSocketSession::closing()
{
    std::lock_guard lock(m_mutex);
    return m_closeQueued;
}

void WebSocketSession::scheduleFlushLocked()
{
    if (m_writing)
        return; // the running flush loop picks the new frames up when its write completes
    m_writing = true;
    postFlush();
}

void WebSocketSession::postFlush()
{
    FlushRounds &rounds = m_shard.flushRounds;
    if (rounds.shared() || m_shard.ioc.get_executor().running_in_this_thread()) {
        rounds.add(m_shard.ioc, shared_from_this());
        return;
    }
    boost::asio::post(m_shard.ioc, [self = shared_from_this()] { self->flush(); });
}

// ---- writing (strand) ------------------------------------------------------------------------

void WebSocketSession::flush()
{
    if (m_finished)
        return;
    // Plain TCP builds the batch in the thread's buffers; a TLS session in its own.
    const bool plain = !m_tls;
    if (!plain && !m_write)
        m_write = std::make_unique<WriteBuffers>();
    WriteBuffers &out = plain ? threadWriteBuffers() : *m_write;
    std::string control;
    {
        std::lock_guard lock(m_mutex);
        m_outbox.takeAll(out.frames);
        if (m_pongPending) {
            const std::string &payload = m_control->pongPayload;
            ws::appendHeader(control, ws::Pong, payload.size());
            control.append(payload);
            m_pongPending = false;
        }
        if (m_pingPending) {
            ws::appendHeader(control, ws::Ping, 0);
            m_pingPending = false;
        }
        m_closeInBatch = m_control && !m_control->closeFrame.empty();
        if (m_closeInBatch) {
            control.append(m_control->closeFrame);
            m_control->closeFrame.clear();
        }
        if (out.frames.empty() && control.empty()) {
            m_writing = false;
            return;
        }
    }
    // One write per batch: headers and small frames go into the cork buffer, large frames are
    // referenced where they are. Buffers are built after the cork stops growing.
    struct Segment {
        const char *external; ///< null: [offset, offset + length) of the cork
        std::size_t offset;
        std::size_t length;
    };
    std::array<Segment, 64> inlineSegments;
    std::vector<Segment> extraSegments;
    std::size_t segmentCount = 0;
    auto addSegment = [&](Segment s) {
        if (s.length == 0)
            return;
        if (segmentCount < inlineSegments.size())
            inlineSegments[segmentCount] = s;
        else
            extraSegments.push_back(s);
        ++segmentCount;
    };
    CorkBuffer &cork = out.cork;
    if (plain)
        cork.reserve(4096);
    cork.clear();
    std::size_t corkStart = 0;
    auto &metrics = ctx().metrics;
    for (const SharedFrame &frame : out.frames) {
        const std::string *payload = &frame->bytes;
        bool compressed = false;
        if (m_deflateWindowBits && frame->compress) {
            // Sessions on other io threads may compress the same frame at this moment: one
            // result is kept and counted.
            const std::string &deflated = frame->deflated.getOrBuild(
                [&] { return ws::deflateMessage(frame->bytes, m_deflateWindowBits); },
                [&] { metrics.wsDeflateCompressions.fetch_add(1, std::memory_order_relaxed); });
            if (!deflated.empty()) { // empty: compression did not help, the frame goes out plain
                metrics.wsDeflateFramesOut.fetch_add(1, std::memory_order_relaxed);
                metrics.wsDeflateBytesSaved.fetch_add(frame->bytes.size() - deflated.size(), std::memory_order_relaxed);
                payload = &deflated;
                compressed = true;
            }
        }
        const std::string &bytes = *payload;
        const ws::Opcode opcode = frame->kind == Frame::Kind::Binary ? ws::Binary : ws::Text;
        if (bytes.size() <= kCopyLimit) {
            char *at = cork.tail(ws::kMaxServerHeader + bytes.size());
            const std::size_t header = ws::writeHeader(at, opcode, bytes.size(), compressed);
            std::memcpy(at + header, bytes.data(), bytes.size());
            cork.commit(header + bytes.size());
        } else {
            cork.commit(ws::writeHeader(cork.tail(ws::kMaxServerHeader), opcode, bytes.size(), compressed));
            addSegment({nullptr, corkStart, cork.size() - corkStart});
            addSegment({bytes.data(), 0, bytes.size()});
            corkStart = cork.size();
        }
    }
    cork.append(control); // pongs and the close frame: after every data frame
    addSegment({nullptr, corkStart, cork.size() - corkStart});

    out.buffers.clear();
    for (std::size_t i = 0; i < segmentCount; ++i) {
        const Segment &s = i < inlineSegments.size() ? inlineSegments[i] : extraSegments[i - inlineSegments.size()];
        out.buffers.emplace_back(s.external ? s.external : cork.data() + s.offset, s.length);
    }
    out.written = 0;

    // Plain TCP: the socket is non-blocking, so try the write right here. When the kernel takes
    // the whole batch (the usual case: the socket buffer has room) the batch is done without an
    // asynchronous operation, its completion handler and a second strand hop; only what the
    // kernel refuses waits for writability.
    if (plain) {
        boost::system::error_code ec;
        out.written = writeSocket(out.buffers, ec);
        if (out.buffers.empty() || ec != boost::asio::error::would_block) {
            trimThreadWriteBuffers(out);
            onWritten(out.buffers.empty() ? boost::system::error_code() : ec, &out);
            return;
        }
        // The rest waits for room (the poller calls ready()): the session takes the thread's
        // buffers meanwhile (heap blocks, so the swap moves no bytes and the buffers into the
        // cork stay valid).
        m_write = std::make_unique<WriteBuffers>();
        m_write->frames.swap(out.frames);
        m_write->cork.swap(out.cork);
        m_write->buffers.swap(out.buffers);
        m_write->written = out.written;
    }
    m_waitingForWrite = true;
    m_write->lastProgress = std::chrono::steady_clock::now();
    if (ctx().config.writeTimeout.count() > 0)
        armLiveness(); // the write deadline may be the earliest now
    if (!plain)
        writeSome();
}

std::size_t WebSocketSession::writeSocket(std::vector<boost::asio::const_buffer> &buffers, boost::system::error_code &ec)
{
    ec.clear();
    if (m_fd < 0) {
        ec = boost::asio::error::bad_descriptor;
        return 0;
    }
    constexpr std::size_t kMaxIov = 64;
    std::array<iovec, kMaxIov> iov;
    std::size_t total = 0;
    while (!buffers.empty()) {
        const std::size_t count = std::min(buffers.size(), kMaxIov);
        for (std::size_t i = 0; i < count; ++i) {
            iov[i].iov_base = const_cast<void *>(buffers[i].data());
            iov[i].iov_len = buffers[i].size();
        }
        msghdr message{};
        message.msg_iov = iov.data();
        message.msg_iovlen = count;
        const ssize_t n = ::sendmsg(m_fd, &message, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            ec = errno == EAGAIN || errno == EWOULDBLOCK ? boost::asio::error::would_block
                                                          : boost::system::error_code(errno, boost::system::system_category());
            return total;
        }
        total += std::size_t(n);
        consumeWritten(buffers, std::size_t(n));
        // A part taken means the kernel's buffer is full: the next call says EAGAIN (or takes
        // what fit meanwhile), after which the poller calls when there is room again.
    }
    return total;
}

void WebSocketSession::continueWrite()
{
    boost::system::error_code ec;
    const std::size_t n = writeSocket(m_write->buffers, ec);
    m_write->written += n;
    if (n > 0)
        m_write->lastProgress = std::chrono::steady_clock::now();
    if (m_write->buffers.empty())
        onWritten({});
    else if (ec != boost::asio::error::would_block)
        onWritten(ec);
}

void WebSocketSession::trimThreadWriteBuffers(WriteBuffers &local)
{
    if (local.cork.capacity() > kKeepCapacity) // one huge batch does not stay with the thread
        local.cork.release();
}

void WebSocketSession::writeSome()
{
    m_tls->stream->async_write_some(m_write->buffers, [self = shared_from_this()](const boost::system::error_code &ec, std::size_t n) {
        if (ec) {
            self->onWritten(ec);
            return;
        }
        self->m_write->written += n;
        if (n > 0)
            self->m_write->lastProgress = std::chrono::steady_clock::now();
        if (self->consumeWritten(self->m_write->buffers, n))
            self->onWritten({});
        else
            self->writeSome();
    });
}

bool WebSocketSession::consumeWritten(std::vector<boost::asio::const_buffer> &buffers, std::size_t n)
{
    if (buffers.size() == 1 && n == buffers.front().size()) { // the usual case: all of one buffer
        buffers.clear();
        return true;
    }
    std::size_t done = 0;
    while (done < buffers.size() && n >= buffers[done].size()) {
        n -= buffers[done].size();
        ++done;
    }
    buffers.erase(buffers.begin(), buffers.begin() + static_cast<std::ptrdiff_t>(done));
    if (buffers.empty())
        return true;
    buffers.front() += n;
    return false;
}

void WebSocketSession::onWritten(const boost::system::error_code &ec, WriteBuffers *threadBatch)
{
    m_waitingForWrite = false;
    const bool synchronous = threadBatch != nullptr;
    WriteBuffers &done = synchronous ? *threadBatch : *m_write;
    const std::size_t bytes = done.written;
    const std::size_t frames = done.frames.size();
    done.frames.clear();
    done.written = 0;
    if (done.frames.capacity() > 4096)
        std::vector<SharedFrame>().swap(done.frames);
    if (!m_tls && !synchronous) {
        // The buffers of a batch that waited for the kernel: the next batch is built in the
        // thread's again.
        m_write.reset();
    } else if (m_tls && m_write->cork.capacity() > kKeepCapacity) {
        m_write->cork.release();
    }
    m_shard.writes.addWrite(frames, bytes); // this session's io thread: no locked instruction
    if (ec) {
        finish();
        return;
    }
    if (m_closeInBatch) {
        m_closeInBatch = false;
        m_closeWritten = true;
        if (m_peerClosed) {
            finish(); // the closing handshake is complete: the server closes TCP first
            return;
        }
        // Wait a little for the client's close frame, then drop the connection anyway.
        m_lastProbeSent = std::chrono::steady_clock::now();
        armLiveness();
    }
    if (synchronous) {
        // Still inside flush(): frames queued meanwhile go out in the next turn, not by recursion.
        {
            std::lock_guard lock(m_mutex);
            if (m_outbox.empty() && !m_pongPending && !m_pingPending && (!m_control || m_control->closeFrame.empty())) {
                m_writing = false;
                return;
            }
        }
        postFlush();
        return;
    }
    flush();
}

// ---- reading (strand) ------------------------------------------------------------------------

void WebSocketSession::readMore()
{
    m_tls->stream->async_read_some(boost::asio::buffer(m_tls->readBuffer),
                                   [self = shared_from_this()](const boost::system::error_code &ec, std::size_t n) {
                                       if (ec) {
                                           self->finish();
                                           return;
                                       }
                                       self->onData(reinterpret_cast<std::uint8_t *>(self->m_tls->readBuffer.data()), n);
                                       if (!self->m_finished)
                                           self->readMore();
                                   });
}

void WebSocketSession::watchSocket()
{
    boost::system::error_code ec;
    if (m_fd >= 0)
        m_shard.poller.add(m_fd, shared_from_this(), ec);
    if (m_fd < 0 || ec) {
        log::debug("websocket ", m_handle, ": cannot watch the socket: ", ec.message());
        finish();
    }
}

void WebSocketSession::ready(std::uint32_t events)
{
    if (m_finished)
        return;
    if ((events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) && m_waitingForWrite)
        continueWrite();
    if (!m_finished && (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
        readSocket((events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0);
}

void WebSocketSession::readSocket(bool peerEnded)
{
    // Into a per-thread buffer: an idle session owns no read buffer at all; only an incomplete
    // frame is kept (by the FrameReader).
    thread_local std::unique_ptr<std::uint8_t[]> chunk(new std::uint8_t[kReadChunk]);
    constexpr int kChunksPerTurn = 4; // then the io thread's other work runs first
    for (int turn = 0; turn < kChunksPerTurn; ++turn) {
        const ssize_t n = ::recv(m_fd, chunk.get(), kReadChunk, 0);
        if (n > 0) {
            onData(chunk.get(), std::size_t(n));
            if (m_finished)
                return;
            if (std::size_t(n) < kReadChunk && !peerEnded)
                return; // a short read took everything: the poller calls when more comes
            continue;
        }
        if (n < 0 && errno == EINTR) {
            --turn;
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        finish(); // 0: the peer closed its side; or a socket error
        return;
    }
    // More may be waiting, and edge-triggered readiness will not say so again: read on later.
    boost::asio::post(m_shard.ioc, [self = shared_from_this(), peerEnded] {
        if (!self->m_finished)
            self->readSocket(peerEnded);
    });
}

void WebSocketSession::closeSocket()
{
    if (m_fd < 0) {
        if (m_tls) { // pending TLS operations complete with operation_aborted
            boost::system::error_code ignored;
            m_tls->stream->next_layer().shutdown(TcpSocket::shutdown_both, ignored);
            m_tls->stream->next_layer().close(ignored);
        }
        return;
    }
    m_shard.poller.removeClosing(*this); // the close below ends the registration
    ::shutdown(m_fd, SHUT_RDWR);
    ::close(m_fd);
    m_fd = -1;
}

struct WebSocketSession::FrameEvents final : ws::FrameHandler {
    explicit FrameEvents(WebSocketSession &s) : session(s) {}
    bool onMessage(std::string_view payload, bool binary) override { return session.onMessage(payload, binary); }
    bool onPing(std::string_view payload) override { return session.onPing(payload); }
    bool onPong(std::string_view payload) override { return session.onPong(payload); }
    void onClose(std::uint16_t code, std::string_view reason) override { session.onClose(code, reason); }
    void onViolation(ws::CloseCode code, std::string_view reason) override { session.onViolation(code, reason); }
    WebSocketSession &session;
};

void WebSocketSession::onData(std::uint8_t *data, std::size_t size)
{
    ctx().metrics.wsBytesIn.fetch_add(size, std::memory_order_relaxed);
    m_lastReceived = std::chrono::steady_clock::now();
    FrameEvents events(*this);
    m_reader.feed(data, size, events);
    if (const std::uint64_t inflated = m_reader.takeInflatedMessages())
        ctx().metrics.wsDeflateMessagesIn.fetch_add(inflated, std::memory_order_relaxed);
}

bool WebSocketSession::onMessage(std::string_view message, bool binary)
{
    if (closing())
        return true; // ignored; reading goes on for the peer's close frame
    ServerContext &context = ctx();
    context.metrics.wsFramesIn.fetch_add(1, std::memory_order_relaxed);
    context.core.locked([&] {
        if (m_isPusher)
            context.core.pusher()->receive(m_handle, message, binary);
        else
            context.core.protocol().receive(m_handle, message, binary);
    });
    return !m_finished;
}

bool WebSocketSession::onPing(std::string_view payload)
{
    if (closing())
        return true;
    // Pings count against the connection's rate like messages; over it, no pong (and 3005 when
    // it keeps happening).
    // A Pusher connection's pings are answered as they come (one pong waits at most).
    CoreHost &core = ctx().core;
    if (m_isPusher || core.locked([&] { return core.protocol().receiveControl(m_handle); }))
        queuePong(payload);
    return !m_finished;
}

bool WebSocketSession::onPong(std::string_view)
{
    if (!closing() && !m_isPusher) {
        CoreHost &core = ctx().core;
        core.locked([&] { core.protocol().receiveControl(m_handle); });
    }
    return !m_finished;
}

void WebSocketSession::onClose(std::uint16_t code, std::string_view reason)
{
    m_peerClosed = true;
    {
        std::lock_guard lock(m_mutex);
        if (m_endCode == 0) {
            m_endCode = code;
            controlLocked().endReason.assign(reason);
        }
    }
    if (m_closeWritten) {
        finish(); // our close was answered: the closing handshake is complete
        return;
    }
    // Echo the client's code (1000 when it sent none); the ServerProtocol learns about the end
    // in finish().
    if (code == static_cast<std::uint16_t>(ws::CloseCode::NoStatus))
        code = static_cast<std::uint16_t>(ws::CloseCode::Normal);
    std::lock_guard lock(m_mutex);
    if (!m_closeQueued) {
        m_closeQueued = true;
        m_pongPending = false;
        std::vector<SharedFrame> discarded; // the peer is gone: undelivered frames are pointless
        m_outbox.takeAll(discarded);
        ws::appendCloseFrame(controlLocked().closeFrame, code, {});
        scheduleFlushLocked();
    }
}

void WebSocketSession::onViolation(ws::CloseCode code, std::string_view reason)
{
    auto &metrics = ctx().metrics;
    switch (code) {
    case ws::CloseCode::MessageTooBig:
        (m_reader.inflateRefused() ? metrics.wsInflateRefused : metrics.wsOversize).fetch_add(1, std::memory_order_relaxed);
        break;
    case ws::CloseCode::InvalidPayload: metrics.wsInvalidUtf8.fetch_add(1, std::memory_order_relaxed); break;
    default: metrics.wsProtocolViolations.fetch_add(1, std::memory_order_relaxed); break;
    }
    fail(static_cast<DisconnectCode>(code), reason);
}

void WebSocketSession::fail(DisconnectCode code, std::string_view reason)
{
    log::debug("websocket ", m_handle, ": closing ", static_cast<int>(code), " (", reason, ")");
    close(code, reason);
}

void WebSocketSession::finish()
{
    if (m_finished)
        return;
    m_finished = true;
    std::vector<SharedFrame> discarded;
    std::uint16_t endCode = 0;
    std::string endReason;
    {
        std::lock_guard lock(m_mutex);
        m_finishedFlag = true;
        endCode = m_endCode == 0 ? std::uint16_t(1006) : m_endCode; // 1006: no close frame either way
        if (m_control)
            endReason = std::move(m_control->endReason);
        m_outbox.takeAll(discarded);
        m_pongPending = false;
        m_pingPending = false;
        m_control.reset();
    }
    m_shard.liveness.unwatch(*this);
    closeSocket();
    ServerContext &context = ctx();
    context.metrics.wsSessions.fetch_sub(1);
    context.core.locked([&] {
        if (m_isPusher)
            context.core.pusher()->closed(m_handle, endCode, endReason);
        else
            context.core.protocol().closed(m_handle, endCode, endReason);
    });
    context.removeConnection();
}

// ---- liveness (strand) -----------------------------------------------------------------------

void WebSocketSession::armLiveness()
{
    using Clock = std::chrono::steady_clock;
    const GatewayConfig &config = ctx().config;
    Clock::time_point next = Clock::time_point::max();
    if (!closing()) {
        if (config.wsIdleTimeout.count() > 0)
            next = std::min(next, m_lastReceived + config.wsIdleTimeout);
        if (config.wsPingInterval.count() > 0)
            next = std::min(next, std::max(m_lastReceived, m_lastProbeSent) + config.wsPingInterval);
    }
    if (m_waitingForWrite && config.writeTimeout.count() > 0)
        next = std::min(next, m_write->lastProgress + config.writeTimeout);
    next = std::min(next, closeDeadline(config));
    m_shard.liveness.setDeadline(*this, next); // max(): nothing to watch until a write waits (flush() sets it then)
}

std::chrono::steady_clock::time_point WebSocketSession::closeDeadline(const GatewayConfig &config) const
{
    return m_closeWritten ? m_lastProbeSent + closeWait(config) : std::chrono::steady_clock::time_point::max();
}

void WebSocketSession::livenessDue()
{
    if (m_finished)
        return;
    const auto now = std::chrono::steady_clock::now();
    const GatewayConfig &config = ctx().config;
    if (now >= closeDeadline(config)) { // our close frame went out and the peer's did not come
        finish();
        return;
    }
    auto &metrics = ctx().metrics;
    if (m_waitingForWrite && config.writeTimeout.count() > 0 && now - m_write->lastProgress >= config.writeTimeout) {
        // The client does not read: a close frame would never arrive either. Drop the TCP
        // connection.
        metrics.wsWriteTimeouts.fetch_add(1, std::memory_order_relaxed);
        std::string user;
        {
            std::lock_guard lock(m_mutex);
            user = m_user.view();
        }
        log::refusal("websocket write timeout", peerText(m_peer), user,
                     "no write progress for " + std::to_string(config.writeTimeout.count()) + " ms");
        finish();
        return;
    }
    if (!closing()) {
        if (config.wsIdleTimeout.count() > 0 && now - m_lastReceived >= config.wsIdleTimeout) {
            metrics.wsIdleTimeouts.fetch_add(1, std::memory_order_relaxed);
            send(encodeDisconnectFrame(DisconnectCode::IdleTimeout, "idle timeout"));
            close(DisconnectCode::IdleTimeout, "idle timeout");
        } else if (config.wsPingInterval.count() > 0
                   && now - std::max(m_lastReceived, m_lastProbeSent) >= config.wsPingInterval) {
            m_lastProbeSent = now;
            std::lock_guard lock(m_mutex);
            // At most once per ping interval: the outbox gives back what it keeps for rounds of
            // many frames (the io thread's batch storage it was swapped, up to 4 KiB), which a
            // session that went quiet after a burst would otherwise hold for good.
            m_outbox.releaseStorage();
            if (!m_closeQueued && !m_finishedFlag && !m_pingPending) {
                m_pingPending = true;
                metrics.wsPingsSent.fetch_add(1, std::memory_order_relaxed);
                scheduleFlushLocked();
            }
        }
    }
    armLiveness();
}

} // namespace switchboard::asio
