#include "switchboard/websocket/FrameReader.h"

#include "switchboard/websocket/Codec.h"
#include "switchboard/websocket/MessageDeflate.h"

namespace switchboard::websocket {

namespace {
/// The per-thread inflate buffer is released when one large message made it grow past this.
constexpr std::size_t kKeepCapacity = 64 * 1024;

void trim(std::string &buffer)
{
    if (buffer.empty() && buffer.capacity() > kKeepCapacity)
        std::string().swap(buffer);
}
} // namespace

FrameReader::Pending &FrameReader::pending()
{
    if (!m_pending)
        m_pending = std::make_unique<Pending>();
    return *m_pending;
}

void FrameReader::releaseIdlePending() noexcept
{
    if (m_pending && !m_inMessage && m_pending->partial.empty())
        m_pending.reset();
}

void FrameReader::feed(std::uint8_t *data, std::size_t size, FrameHandler &handler)
{
    if (m_stopped || size == 0)
        return;
    if (!m_pending || m_pending->partial.empty()) {
        const std::size_t used = parse(data, size, handler);
        if (!m_stopped && used < size)
            pending().partial.assign(reinterpret_cast<const char *>(data + used), size - used);
        releaseIdlePending();
        return;
    }
    // parse() may append to the message being assembled, never to the incomplete frame, so the
    // bytes it reads stay where they are until it returns.
    std::string &partial = m_pending->partial;
    partial.append(reinterpret_cast<const char *>(data), size);
    const std::size_t used = parse(reinterpret_cast<std::uint8_t *>(partial.data()), partial.size(), handler);
    if (m_stopped)
        partial.clear();
    else
        partial.erase(0, used);
    releaseIdlePending();
}

std::size_t FrameReader::parse(std::uint8_t *data, std::size_t size, FrameHandler &handler)
{
    std::size_t pos = 0;
    while (!m_stopped && pos < size) {
        FrameHeader header;
        const ParseStatus status = parseClientHeader(data + pos, size - pos, header, m_deflate);
        if (status == ParseStatus::NeedMore)
            break;
        if (status == ParseStatus::ProtocolError) {
            violation(CloseCode::ProtocolError, "invalid WebSocket frame", handler);
            break;
        }
        const bool control = (header.opcode & 0x8) != 0;
        if (!control && messageBytes() + header.length > m_maxMessage) {
            // Refused from the header: the payload never enters memory.
            violation(CloseCode::MessageTooBig, "message too big", handler);
            break;
        }
        if (size - pos - header.size < header.length)
            break;
        std::uint8_t *payloadBytes = data + pos + header.size;
        unmask(payloadBytes, header.length, header.mask);
        pos += header.size + header.length;
        const std::string_view payload(reinterpret_cast<const char *>(payloadBytes), header.length);
        switch (header.opcode) {
        case Ping:
            m_stopped = !handler.onPing(payload);
            break;
        case Pong:
            m_stopped = !handler.onPong(payload);
            break;
        case Close:
            closeFrame(payload, handler);
            break;
        default:
            m_stopped = !dataFrame(header.fin, header.rsv1, header.opcode, payload, handler);
            break;
        }
    }
    return pos;
}

bool FrameReader::dataFrame(bool fin, bool rsv1, std::uint8_t opcode, std::string_view payload, FrameHandler &handler)
{
    if (opcode == Continuation) {
        if (!m_inMessage) {
            violation(CloseCode::ProtocolError, "continuation frame without a message", handler);
            return false;
        }
        // A compressed message is checked once inflated; a plain one as it arrives.
        Pending &state = pending(); // allocated by the message's first frame
        if (!m_messageBinary && !m_messageCompressed && !state.utf8.feed(payload)) {
            violation(CloseCode::InvalidPayload, "text message is not valid UTF-8", handler);
            return false;
        }
        state.message.append(payload);
        if (!fin)
            return true;
        m_inMessage = false;
        if (!m_messageBinary && !m_messageCompressed && !state.utf8.complete()) {
            violation(CloseCode::InvalidPayload, "text message is not valid UTF-8", handler);
            return false;
        }
        // Handlers cannot feed() this reader, so the message stays put while they read it; feed()
        // releases it afterwards.
        const bool keepReading = deliver(state.message, m_messageBinary, m_messageCompressed, handler);
        state.message.clear();
        return keepReading;
    }
    // Text or binary: the first frame of a message.
    if (m_inMessage) {
        violation(CloseCode::ProtocolError, "new message inside a fragmented one", handler);
        return false;
    }
    const bool binary = opcode == Binary;
    if (fin) {
        if (!binary && !rsv1 && !isValidUtf8(payload)) {
            violation(CloseCode::InvalidPayload, "text message is not valid UTF-8", handler);
            return false;
        }
        return deliver(payload, binary, rsv1, handler);
    }
    m_inMessage = true;
    m_messageBinary = binary;
    m_messageCompressed = rsv1;
    Pending &state = pending();
    state.utf8.reset();
    if (!binary && !rsv1 && !state.utf8.feed(payload)) {
        violation(CloseCode::InvalidPayload, "text message is not valid UTF-8", handler);
        return false;
    }
    state.message.assign(payload);
    return true;
}

bool FrameReader::deliver(std::string_view payload, bool binary, bool compressed, FrameHandler &handler)
{
    if (!compressed)
        return handler.onMessage(payload, binary);
    // One buffer per thread: a connection holds no inflated bytes between messages.
    thread_local std::string inflated;
    switch (inflateMessage(payload, m_maxMessage, inflated)) {
    case InflateResult::Ok:
        break;
    case InflateResult::TooBig:
        m_inflateRefused = true;
        inflated.clear();
        trim(inflated);
        violation(CloseCode::MessageTooBig, "decompressed message too big", handler);
        return false;
    case InflateResult::Corrupt:
        inflated.clear();
        trim(inflated);
        violation(CloseCode::InvalidPayload, "invalid compressed message", handler);
        return false;
    }
    ++m_inflatedMessages;
    if (!binary && !isValidUtf8(inflated)) {
        inflated.clear();
        trim(inflated);
        violation(CloseCode::InvalidPayload, "text message is not valid UTF-8", handler);
        return false;
    }
    // The handler may feed nothing back into this reader (FrameHandler's contract), so the
    // per-thread buffer cannot be reused while it still reads the view.
    const bool keepReading = handler.onMessage(inflated, binary);
    inflated.clear();
    trim(inflated);
    return keepReading;
}

void FrameReader::closeFrame(std::string_view payload, FrameHandler &handler)
{
    if (payload.empty()) {
        m_stopped = true;
        handler.onClose(static_cast<std::uint16_t>(CloseCode::NoStatus), {});
        return;
    }
    if (payload.size() == 1) {
        violation(CloseCode::ProtocolError, "close frame with a one-byte body", handler);
        return;
    }
    const auto code = static_cast<std::uint16_t>((static_cast<unsigned char>(payload[0]) << 8)
                                                 | static_cast<unsigned char>(payload[1]));
    if (!isValidReceivedCloseCode(code)) {
        violation(CloseCode::ProtocolError, "invalid close code", handler);
        return;
    }
    const std::string_view reason = payload.substr(2);
    if (!isValidUtf8(reason)) {
        violation(CloseCode::ProtocolError, "close reason is not valid UTF-8", handler);
        return;
    }
    m_stopped = true;
    handler.onClose(code, reason);
}

void FrameReader::violation(CloseCode code, std::string_view reason, FrameHandler &handler)
{
    m_stopped = true;
    m_inMessage = false;
    if (m_pending)
        m_pending->message.clear();
    handler.onViolation(code, reason);
}

} // namespace switchboard::websocket
