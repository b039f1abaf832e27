#include "WebSocketSession.h"

#include "Log.h"

#include <switchboard/ControlFrames.h>
#include <switchboard/websocket/MessageDeflate.h>

#include <boost/asio/bind_allocator.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>

#include <array>

namespace switchboard::asio {

namespace {
/// Frames up to this size are copied into the cork buffer; larger ones are gathered by reference.
constexpr std::size_t kCopyLimit = 1024;
/// Write buffers above this capacity are released after the write, so idle sessions stay small.
constexpr std::size_t kKeepCapacity = 64 * 1024;
constexpr std::size_t kReadChunk = 64 * 1024;

/// The write buffers of the io thread: a plain TCP session builds its batch here and owns a
/// cork only while the kernel holds back part of a batch, so an idle session keeps none.
struct ThreadWriteBuffers {
    std::string cork;
    std::vector<boost::asio::const_buffer> buffers;
};
ThreadWriteBuffers &threadWriteBuffers()
{
    thread_local ThreadWriteBuffers local;
    return local;
}
} // namespace

WebSocketSession::WebSocketSession(ServerContext &context, AnyStream stream, TcpSlot slot, std::string leftover,
                                   ConnectionInfo info, int deflateWindowBits, std::optional<PusherTarget> pusher)
    : m_slot(std::move(slot))
    , m_ctx(context)
    , m_stream(std::move(stream))
    , m_shard(context.shards->of(m_stream.get_executor()))
    , m_outbox(OutboxLimits{context.config.outboxFrames, context.config.outboxBytes})
    , m_isPusher(pusher.has_value()) // before m_starting takes `pusher`
    , m_deflateWindowBits(deflateWindowBits)
    , m_starting(std::make_unique<Starting>(Starting{std::move(leftover), std::move(info), std::move(pusher)}))
    , m_reader(context.config.maxFrameBytes)
{
    boost::system::error_code ec;
    const auto remote = m_stream.lowest().remote_endpoint(ec);
    if (!ec) {
        m_peer = remote.address().to_string() + ':' + std::to_string(remote.port());
        m_starting->info.remoteAddress = remote.address().to_string();
    }
    if (m_deflateWindowBits) {
        m_reader.enableDeflate();
        m_ctx.metrics.wsDeflateSessions.fetch_add(1, std::memory_order_relaxed);
    }
}

WebSocketSession::~WebSocketSession() = default;

std::chrono::milliseconds WebSocketSession::closeWait(const GatewayConfig &config)
{
    return std::min<std::chrono::milliseconds>(std::chrono::seconds(2), config.drainTimeout);
}

void WebSocketSession::start()
{
    boost::system::error_code ignored;
    if (!m_stream.isTls())
        m_stream.lowest().non_blocking(true, ignored);
    m_ctx.metrics.wsSessions.fetch_add(1);
    m_ctx.metrics.wsHandshakes.fetch_add(1);
    auto self = shared_from_this();
    const std::unique_ptr<Starting> starting = std::move(m_starting);
    m_handle = m_ctx.core.locked([&] {
        if (const auto &pusher = starting->pusher)
            return m_ctx.core.pusher()->open(self, pusher->appKey,
                                             pusher->protocol ? std::optional<std::string_view>(*pusher->protocol) : std::nullopt);
        return m_ctx.core.protocol().open(self, std::move(starting->info));
    });
    m_lastReceived = m_lastPingSent = std::chrono::steady_clock::now();
    m_shard.liveness.watch(self, std::chrono::steady_clock::time_point::max());
    armLiveness();
    if (!starting->leftover.empty()) { // frames sent right behind the upgrade request
        std::string &leftover = starting->leftover;
        onData(reinterpret_cast<std::uint8_t *>(leftover.data()), leftover.size());
    }
    if (!m_finished)
        readMore();
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
        user = m_user;
    }
    log::refusal(std::string("websocket ").append(errorName(code)), m_peer, user,
                 "error " + std::to_string(static_cast<int>(code)) + " (" + std::string(reason) + ")");
}

void WebSocketSession::closeLocked(DisconnectCode code, std::string_view reason)
{
    if (m_closeQueued || m_finishedFlag)
        return;
    if (code != DisconnectCode::Normal && code != DisconnectCode::Shutdown)
        log::refusal(std::string("websocket ").append(disconnectName(code)), m_peer, m_user,
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
    auto &metrics = m_ctx.metrics;
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
        if (m_ctx.config.disconnectSlowClients)
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
    boost::asio::post(m_stream.get_executor(), [self = shared_from_this()] { self->flush(); });
}

// ---- writing (strand) ------------------------------------------------------------------------

void WebSocketSession::flush()
{
    if (m_finished)
        return;
    std::string control;
    {
        std::lock_guard lock(m_mutex);
        m_outbox.takeAll(m_batch);
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
        if (m_batch.empty() && control.empty()) {
            m_writing = false;
            return;
        }
    }
    // One write per batch: headers and small frames go into the cork buffer, large frames are
    // referenced where they are. Buffers are built after the cork stops growing.
    struct Segment {
        const char *external; ///< null: [offset, offset + length) of m_cork
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
    const bool plain = !m_stream.isTls();
    if (plain) {
        // Borrow the thread's buffers; heap-allocated, so a swap moves no bytes and the
        // pointers into the cork stay valid.
        ThreadWriteBuffers &local = threadWriteBuffers();
        if (local.cork.capacity() < 4096)
            local.cork.reserve(4096);
        m_cork.swap(local.cork);
        m_buffers.swap(local.buffers);
    }
    m_cork.clear();
    std::size_t corkStart = 0;
    auto &metrics = m_ctx.metrics;
    for (const SharedFrame &frame : m_batch) {
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
        ws::appendHeader(m_cork, frame->kind == Frame::Kind::Binary ? ws::Binary : ws::Text, bytes.size(), compressed);
        if (bytes.size() <= kCopyLimit) {
            m_cork.append(bytes);
        } else {
            addSegment({nullptr, corkStart, m_cork.size() - corkStart});
            addSegment({bytes.data(), 0, bytes.size()});
            corkStart = m_cork.size();
        }
    }
    m_cork.append(control); // pongs and the close frame: after every data frame
    addSegment({nullptr, corkStart, m_cork.size() - corkStart});

    m_buffers.clear();
    for (std::size_t i = 0; i < segmentCount; ++i) {
        const Segment &s = i < inlineSegments.size() ? inlineSegments[i] : extraSegments[i - inlineSegments.size()];
        m_buffers.emplace_back(s.external ? s.external : m_cork.data() + s.offset, s.length);
    }
    m_batchFrames = m_batch.size();
    m_batchWritten = 0;

    // Plain TCP: the socket is non-blocking, so try the write right here. When the kernel takes
    // the whole batch (the usual case: the socket buffer has room) the batch is done without an
    // asynchronous operation, its completion handler and a second strand hop; only what the
    // kernel refuses waits for writability.
    if (plain) {
        boost::system::error_code ec;
        const std::size_t n = m_stream.lowest().write_some(m_buffers, ec);
        if (ec && ec != boost::asio::error::would_block && ec != boost::asio::error::try_again) {
            returnWriteBuffers();
            onWritten(ec, 0, true);
            return;
        }
        if (!ec) {
            m_batchWritten = n;
            if (consumeWritten(n)) {
                returnWriteBuffers();
                onWritten({}, 0, true);
                return;
            }
        }
        // The rest waits for writability: the session keeps the borrowed buffers meanwhile.
    }
    m_waitingForWrite = true;
    m_lastWriteProgress = std::chrono::steady_clock::now();
    if (m_ctx.config.writeTimeout.count() > 0)
        armLiveness(); // the write deadline may be the earliest now
    writeSome();
}

void WebSocketSession::returnWriteBuffers()
{
    ThreadWriteBuffers &local = threadWriteBuffers();
    m_cork.swap(local.cork);
    m_buffers.swap(local.buffers);
    if (local.cork.capacity() > kKeepCapacity) // one huge batch does not stay with the thread
        std::string().swap(local.cork);
}

void WebSocketSession::writeSome()
{
    m_stream.async_write_some(m_buffers, [self = shared_from_this()](const boost::system::error_code &ec, std::size_t n) {
        if (ec) {
            self->onWritten(ec, 0, false);
            return;
        }
        self->m_batchWritten += n;
        if (n > 0)
            self->m_lastWriteProgress = std::chrono::steady_clock::now();
        if (self->consumeWritten(n))
            self->onWritten({}, 0, false);
        else
            self->writeSome();
    });
}

bool WebSocketSession::consumeWritten(std::size_t n)
{
    std::size_t done = 0;
    while (done < m_buffers.size() && n >= m_buffers[done].size()) {
        n -= m_buffers[done].size();
        ++done;
    }
    m_buffers.erase(m_buffers.begin(), m_buffers.begin() + static_cast<std::ptrdiff_t>(done));
    if (m_buffers.empty())
        return true;
    m_buffers.front() += n;
    return false;
}

void WebSocketSession::onWritten(const boost::system::error_code &ec, std::size_t bytes, bool synchronous)
{
    bytes += m_batchWritten;
    m_batchWritten = 0;
    m_waitingForWrite = false;
    m_batch.clear();
    if (!m_stream.isTls() && !synchronous) {
        // The borrowed buffers of a batch that waited for the kernel: the next batch borrows
        // the thread's again.
        std::string().swap(m_cork);
        std::vector<boost::asio::const_buffer>().swap(m_buffers);
    } else if (m_cork.capacity() > kKeepCapacity) {
        std::string().swap(m_cork);
    }
    if (m_batch.capacity() > 4096)
        std::vector<SharedFrame>().swap(m_batch);
    auto &metrics = m_ctx.metrics;
    metrics.bytesOut.fetch_add(bytes, std::memory_order_relaxed);
    metrics.framesOut.fetch_add(m_batchFrames, std::memory_order_relaxed);
    metrics.writeBatches.fetch_add(1, std::memory_order_relaxed);
    if (m_batchFrames)
        metrics.batchFrames.observe(static_cast<double>(m_batchFrames));
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
        m_closeDeadline = std::chrono::steady_clock::now() + closeWait(m_ctx.config);
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
    if (m_stream.isTls()) {
        if (!m_tlsBuffer)
            m_tlsBuffer = std::make_unique<char[]>(16 * 1024);
        m_stream.async_read_some(boost::asio::buffer(m_tlsBuffer.get(), 16 * 1024),
                                 [self = shared_from_this()](const boost::system::error_code &ec, std::size_t n) {
                                     if (ec) {
                                         self->finish();
                                         return;
                                     }
                                     self->onData(reinterpret_cast<std::uint8_t *>(self->m_tlsBuffer.get()), n);
                                     if (!self->m_finished)
                                         self->readMore();
                                 });
        return;
    }
    // Plain TCP: wait for readability, then read into a per-thread buffer. An idle session owns
    // no read buffer at all; only an incomplete frame is kept (by the FrameReader).
    m_stream.lowest().async_wait(TcpSocket::wait_read, boost::asio::bind_allocator(m_readWaitMemory.allocator(), [self = shared_from_this()](const boost::system::error_code &ec) {
        if (ec) {
            self->finish();
            return;
        }
        thread_local std::unique_ptr<std::uint8_t[]> chunk(new std::uint8_t[kReadChunk]);
        boost::system::error_code readError;
        const std::size_t n = self->m_stream.lowest().read_some(boost::asio::buffer(chunk.get(), kReadChunk), readError);
        if (readError == boost::asio::error::would_block || readError == boost::asio::error::try_again) {
            self->readMore();
            return;
        }
        if (readError) {
            self->finish();
            return;
        }
        self->onData(chunk.get(), n);
        if (!self->m_finished)
            self->readMore();
    }));
}

void WebSocketSession::onData(std::uint8_t *data, std::size_t size)
{
    m_ctx.metrics.wsBytesIn.fetch_add(size, std::memory_order_relaxed);
    m_lastReceived = std::chrono::steady_clock::now();
    m_reader.feed(data, size, *this);
    if (const std::uint64_t inflated = m_reader.inflatedMessages(); inflated != m_inflatedCounted) {
        m_ctx.metrics.wsDeflateMessagesIn.fetch_add(inflated - m_inflatedCounted, std::memory_order_relaxed);
        m_inflatedCounted = inflated;
    }
}

bool WebSocketSession::onMessage(std::string_view message, bool binary)
{
    if (closing())
        return true; // ignored; reading goes on for the peer's close frame
    m_ctx.metrics.wsFramesIn.fetch_add(1, std::memory_order_relaxed);
    m_ctx.core.locked([&] {
        if (m_isPusher)
            m_ctx.core.pusher()->receive(m_handle, message, binary);
        else
            m_ctx.core.protocol().receive(m_handle, message, binary);
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
    if (m_isPusher || m_ctx.core.locked([&] { return m_ctx.core.protocol().receiveControl(m_handle); }))
        queuePong(payload);
    return !m_finished;
}

bool WebSocketSession::onPong(std::string_view)
{
    if (!closing() && !m_isPusher)
        m_ctx.core.locked([&] { m_ctx.core.protocol().receiveControl(m_handle); });
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
    auto &metrics = m_ctx.metrics;
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
    m_stream.close();
    m_ctx.metrics.wsSessions.fetch_sub(1);
    m_ctx.core.locked([&] {
        if (m_isPusher)
            m_ctx.core.pusher()->closed(m_handle, endCode, endReason);
        else
            m_ctx.core.protocol().closed(m_handle, endCode, endReason);
    });
    m_ctx.removeConnection();
}

// ---- liveness (strand) -----------------------------------------------------------------------

void WebSocketSession::armLiveness()
{
    using Clock = std::chrono::steady_clock;
    const GatewayConfig &config = m_ctx.config;
    Clock::time_point next = Clock::time_point::max();
    if (!closing()) {
        if (config.wsIdleTimeout.count() > 0)
            next = std::min(next, m_lastReceived + config.wsIdleTimeout);
        if (config.wsPingInterval.count() > 0)
            next = std::min(next, std::max(m_lastReceived, m_lastPingSent) + config.wsPingInterval);
    }
    if (m_waitingForWrite && config.writeTimeout.count() > 0)
        next = std::min(next, m_lastWriteProgress + config.writeTimeout);
    next = std::min(next, m_closeDeadline);
    m_shard.liveness.setDeadline(*this, next); // max(): nothing to watch until a write waits (flush() sets it then)
}

void WebSocketSession::livenessDue()
{
    if (m_finished)
        return;
    const auto now = std::chrono::steady_clock::now();
    if (now >= m_closeDeadline) { // our close frame went out and the peer's did not come
        finish();
        return;
    }
    const GatewayConfig &config = m_ctx.config;
    auto &metrics = m_ctx.metrics;
    if (m_waitingForWrite && config.writeTimeout.count() > 0 && now - m_lastWriteProgress >= config.writeTimeout) {
        // The client does not read: a close frame would never arrive either. Drop the TCP
        // connection.
        metrics.wsWriteTimeouts.fetch_add(1, std::memory_order_relaxed);
        std::string user;
        {
            std::lock_guard lock(m_mutex);
            user = m_user;
        }
        log::refusal("websocket write timeout", m_peer, user,
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
                   && now - std::max(m_lastReceived, m_lastPingSent) >= config.wsPingInterval) {
            m_lastPingSent = now;
            std::lock_guard lock(m_mutex);
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
