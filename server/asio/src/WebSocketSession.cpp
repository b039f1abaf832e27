#include "WebSocketSession.h"

#include "Log.h"

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
} // namespace

WebSocketSession::WebSocketSession(ServerContext &context, AnyStream stream, std::string leftover)
    : m_ctx(context)
    , m_stream(std::move(stream))
    , m_outbox(OutboxLimits{context.config.outboxFrames, context.config.outboxBytes})
    , m_partial(std::move(leftover))
    , m_closeTimer(m_stream.get_executor())
{
}

WebSocketSession::~WebSocketSession() = default;

void WebSocketSession::start()
{
    boost::system::error_code ignored;
    if (!m_stream.isTls())
        m_stream.lowest().non_blocking(true, ignored);
    m_ctx.metrics.wsSessions.fetch_add(1);
    m_ctx.metrics.wsHandshakes.fetch_add(1);
    auto self = shared_from_this();
    m_handle = m_ctx.core.locked([&] { return m_ctx.core.protocol().open(self); });
    if (!m_partial.empty()) {
        const std::size_t used = parseFrames(reinterpret_cast<std::uint8_t *>(m_partial.data()), m_partial.size());
        m_partial.erase(0, used);
    }
    if (!m_finished)
        readMore();
}

// ---- queueing (any thread) -------------------------------------------------------------------

SendResult WebSocketSession::send(const SharedFrame &frame)
{
    std::lock_guard lock(m_mutex);
    if (m_closeQueued || m_finishedFlag)
        return SendResult::Dropped;
    const SendResult result = m_outbox.push(frame);
    if (result != SendResult::Dropped)
        scheduleFlushLocked();
    return result;
}

void WebSocketSession::close(DisconnectCode code, std::string_view reason)
{
    std::lock_guard lock(m_mutex);
    if (m_closeQueued || m_finishedFlag)
        return;
    m_closeQueued = true;
    m_closePending = true;
    ws::appendCloseFrame(m_control, static_cast<std::uint16_t>(code), reason);
    scheduleFlushLocked();
}

void WebSocketSession::queueControl(ws::Opcode opcode, std::string_view payload)
{
    std::lock_guard lock(m_mutex);
    if (m_closeQueued || m_finishedFlag)
        return;
    ws::appendHeader(m_control, opcode, payload.size());
    m_control.append(payload);
    scheduleFlushLocked();
}

void WebSocketSession::scheduleFlushLocked()
{
    if (m_writing)
        return; // the running flush loop picks the new frames up when its write completes
    m_writing = true;
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
        control.swap(m_control);
        m_closeInBatch = m_closePending;
        m_closePending = false;
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
    m_cork.clear();
    std::size_t corkStart = 0;
    for (const SharedFrame &frame : m_batch) {
        const std::string &bytes = frame->bytes;
        ws::appendHeader(m_cork, frame->kind == Frame::Kind::Binary ? ws::Binary : ws::Text, bytes.size());
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
    if (!m_stream.isTls()) {
        boost::system::error_code ec;
        const std::size_t n = m_stream.lowest().write_some(m_buffers, ec);
        if (ec && ec != boost::asio::error::would_block && ec != boost::asio::error::try_again) {
            onWritten(ec, 0, true);
            return;
        }
        if (!ec) {
            m_batchWritten = n;
            if (consumeWritten(n)) {
                onWritten({}, 0, true);
                return;
            }
        }
    }
    boost::asio::async_write(m_stream, m_buffers,
                             [self = shared_from_this()](const boost::system::error_code &ec, std::size_t n) {
                                 self->onWritten(ec, n, false);
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
    m_batch.clear();
    if (m_cork.capacity() > kKeepCapacity)
        std::string().swap(m_cork);
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
        m_closeTimer.expires_after(std::min<std::chrono::milliseconds>(std::chrono::seconds(2), m_ctx.config.drainTimeout));
        m_closeTimer.async_wait([self = shared_from_this()](const boost::system::error_code &e) {
            if (!e)
                self->finish();
        });
    }
    if (synchronous) {
        // Still inside flush(): frames queued meanwhile go out in the next turn, not by recursion.
        {
            std::lock_guard lock(m_mutex);
            if (m_outbox.empty() && m_control.empty()) {
                m_writing = false;
                return;
            }
        }
        boost::asio::post(m_stream.get_executor(), [self = shared_from_this()] { self->flush(); });
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
    // no read buffer at all; only an incomplete frame is kept (m_partial).
    m_stream.lowest().async_wait(tcp::socket::wait_read, [self = shared_from_this()](const boost::system::error_code &ec) {
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
    });
}

void WebSocketSession::onData(std::uint8_t *data, std::size_t size)
{
    m_ctx.metrics.wsBytesIn.fetch_add(size, std::memory_order_relaxed);
    if (m_partial.empty()) {
        const std::size_t used = parseFrames(data, size);
        if (!m_finished && used < size)
            m_partial.assign(reinterpret_cast<const char *>(data + used), size - used);
        return;
    }
    m_partial.append(reinterpret_cast<const char *>(data), size);
    const std::size_t used = parseFrames(reinterpret_cast<std::uint8_t *>(m_partial.data()), m_partial.size());
    m_partial.erase(0, used);
    if (m_partial.empty() && m_partial.capacity() > kKeepCapacity)
        std::string().swap(m_partial);
}

std::size_t WebSocketSession::parseFrames(std::uint8_t *data, std::size_t size)
{
    const std::size_t maxMessage = m_ctx.config.maxFrameBytes;
    std::size_t pos = 0;
    while (!m_finished && pos < size) {
        ws::FrameHeader header;
        const ws::ParseStatus status = ws::parseClientHeader(data + pos, size - pos, header);
        if (status == ws::ParseStatus::NeedMore)
            break;
        if (status == ws::ParseStatus::ProtocolError) {
            m_ctx.metrics.wsProtocolViolations.fetch_add(1, std::memory_order_relaxed);
            fail(DisconnectCode::ProtocolError, "invalid WebSocket frame");
            return size;
        }
        const bool control = (header.opcode & 0x8) != 0;
        if (!control && m_message.size() + header.length > maxMessage) {
            // Refused before buffering: the message never enters memory.
            m_ctx.metrics.wsOversize.fetch_add(1, std::memory_order_relaxed);
            fail(DisconnectCode::MessageTooBig, "message too big");
            return size;
        }
        if (size - pos - header.size < header.length)
            break;
        std::uint8_t *payload = data + pos + header.size;
        ws::unmask(payload, header.length, header.mask);
        pos += header.size + header.length;
        if (!handleFrame(header, payload))
            return size;
    }
    return pos;
}

bool WebSocketSession::handleFrame(const ws::FrameHeader &h, std::uint8_t *payload)
{
    const std::string_view bytes(reinterpret_cast<const char *>(payload), h.length);
    switch (h.opcode) {
    case ws::Text:
    case ws::Binary:
        if (m_inMessage) {
            m_ctx.metrics.wsProtocolViolations.fetch_add(1, std::memory_order_relaxed);
            fail(DisconnectCode::ProtocolError, "new message inside a fragmented one");
            return false;
        }
        if (h.fin) {
            deliver(bytes, h.opcode == ws::Binary);
        } else {
            m_inMessage = true;
            m_messageBinary = h.opcode == ws::Binary;
            m_message.assign(bytes);
        }
        return true;
    case ws::Continuation:
        if (!m_inMessage) {
            m_ctx.metrics.wsProtocolViolations.fetch_add(1, std::memory_order_relaxed);
            fail(DisconnectCode::ProtocolError, "continuation without a message");
            return false;
        }
        m_message.append(bytes);
        if (h.fin) {
            m_inMessage = false;
            deliver(m_message, m_messageBinary);
            m_message.clear();
            if (m_message.capacity() > kKeepCapacity)
                std::string().swap(m_message);
        }
        return true;
    case ws::Ping:
        queueControl(ws::Pong, bytes);
        return true;
    case ws::Pong:
        return true;
    case ws::Close: {
        m_peerClosed = true;
        if (m_closeWritten) {
            finish();
            return false;
        }
        if (h.length == 1) {
            m_ctx.metrics.wsProtocolViolations.fetch_add(1, std::memory_order_relaxed);
            fail(DisconnectCode::ProtocolError, "bad close frame");
            return false;
        }
        // Echo the client's code; the ServerProtocol learns about the end in finish().
        const auto code = h.length >= 2 ? static_cast<std::uint16_t>((payload[0] << 8) | payload[1]) : std::uint16_t(1000);
        {
            std::lock_guard lock(m_mutex);
            if (!m_closeQueued) {
                m_closeQueued = true;
                m_closePending = true;
                std::vector<SharedFrame> discarded; // the peer is gone: undelivered frames are pointless
                m_outbox.takeAll(discarded);
                ws::appendCloseFrame(m_control, code, {});
                scheduleFlushLocked();
            }
        }
        return false;
    }
    default:
        return false;
    }
}

void WebSocketSession::deliver(std::string_view message, bool binary)
{
    {
        std::lock_guard lock(m_mutex);
        if (m_closeQueued)
            return; // closing: the rest of the input is ignored
    }
    m_ctx.metrics.wsFramesIn.fetch_add(1, std::memory_order_relaxed);
    m_ctx.core.locked([&] { m_ctx.core.protocol().receive(m_handle, message, binary); });
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
    {
        std::lock_guard lock(m_mutex);
        m_finishedFlag = true;
        m_outbox.takeAll(discarded);
        m_control.clear();
    }
    m_closeTimer.cancel();
    m_stream.close();
    m_ctx.metrics.wsSessions.fetch_sub(1);
    m_ctx.core.locked([&] { m_ctx.core.protocol().closed(m_handle); });
    m_ctx.removeConnection();
}

} // namespace switchboard::asio
