#pragma once
// FrameReader: the receive side of RFC 6455 for a server, shared by both gateways. Bytes from the
// socket go in; whole messages, pings, pongs, the peer's close, or the one protocol violation that
// ends the connection come out. Everything a server MUST check on input is checked here
// (sections 5.1-5.5, 5.8, 7.4, 8.1), so both transports behave the same and one conformance
// suite covers both (tests/server/tst_websocketconformance.cpp).

#include "switchboard/websocket/CloseCode.h"
#include "switchboard/websocket/Utf8Validator.h"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

namespace switchboard::websocket {

/// What a FrameReader reports, synchronously from FrameReader::feed(). Handlers must not call
/// feed() on the same reader. Views are valid only during the call. Returning false from a
/// message, ping or pong callback stops the reader (the connection is being closed): nothing
/// more is reported.
class FrameHandler {
public:
    virtual ~FrameHandler() = default;
    /// A complete data message. Text has been checked to be valid UTF-8.
    virtual bool onMessage(std::string_view payload, bool binary) = 0;
    /// A ping (payload at most 125 bytes). RFC 6455 5.5.3 lets the server answer only the latest
    /// of several pings, so transports may coalesce their pongs.
    virtual bool onPing(std::string_view payload) = 0;
    virtual bool onPong(std::string_view payload) = 0;
    /// The peer's close frame, validated: `code` is NoStatus (1005) when the frame had no body.
    /// The reader stops; the transport answers with a close frame and ends the connection.
    virtual void onClose(std::uint16_t code, std::string_view reason) = 0;
    /// The peer broke the protocol: the transport closes with `code` (ProtocolError,
    /// InvalidPayload or MessageTooBig) and `reason`. The reader stops. FrameReader::inflateRefused()
    /// tells a compressed message that inflated past the limit (MessageTooBig) from the rest.
    virtual void onViolation(CloseCode code, std::string_view reason) = 0;
};

/// One per connection. Not thread-safe: the connection's reading context owns it.
///
/// Memory: complete frames are handled where they lie in the caller's buffer; only an incomplete
/// frame and a fragmented message are copied, and both are bounded by the message limit (a frame
/// announcing more is refused from its header, before its payload is buffered). What they need
/// is allocated when one starts and released when none is left, so a reader between messages
/// holds nothing but its own 24 bytes.
class FrameReader {
public:
    /// `maxMessageBytes`: the message limit, kept in 32 bits (a larger value acts as 2^32 - 1).
    explicit FrameReader(std::size_t maxMessageBytes)
        : m_maxMessage(maxMessageBytes > UINT32_MAX ? UINT32_MAX : static_cast<std::uint32_t>(maxMessageBytes))
    {
    }

    /// permessage-deflate was negotiated: messages with RSV1 are decompressed (MessageDeflate.h)
    /// before they are checked and reported; the limit applies to the compressed bytes on the
    /// wire and again to the decompressed message (over it: MessageTooBig, 1009). Call before
    /// the first feed().
    void enableDeflate() noexcept { m_deflate = true; }

    /// Reads `size` bytes. Unmasks payloads in place, so `data` is modified.
    void feed(std::uint8_t *data, std::size_t size, FrameHandler &handler);

    /// True once the peer closed, broke the protocol, or a handler returned false.
    bool stopped() const noexcept { return m_stopped; }
    /// Bytes held for an incomplete frame or a fragmented message.
    std::size_t bufferedBytes() const noexcept { return m_pending ? m_pending->partial.size() + m_pending->message.size() : 0; }
    /// True while a fragmented message is being assembled.
    bool inMessage() const noexcept { return m_inMessage; }
    /// True when the reader stopped because a compressed message inflated past the limit.
    bool inflateRefused() const noexcept { return m_inflateRefused; }
    /// Compressed messages decompressed since the last call (a transport adds them to its
    /// counters after each feed(), so that it keeps no count of its own).
    std::uint32_t takeInflatedMessages() noexcept { return std::exchange(m_inflatedMessages, 0); }

private:
    std::size_t parse(std::uint8_t *data, std::size_t size, FrameHandler &handler);
    bool dataFrame(bool fin, bool rsv1, std::uint8_t opcode, std::string_view payload, FrameHandler &handler);
    void closeFrame(std::string_view payload, FrameHandler &handler);
    void violation(CloseCode code, std::string_view reason, FrameHandler &handler);
    /// A complete message: inflated when compressed, UTF-8 checked, reported.
    bool deliver(std::string_view payload, bool binary, bool compressed, FrameHandler &handler);

    /// What an incomplete frame or a fragmented message needs, while there is one.
    struct Pending {
        std::string partial;   ///< an incomplete frame, header included
        std::string message;   ///< a fragmented message being assembled
        Utf8Validator utf8;    ///< of the fragmented text message
    };
    /// m_pending, allocated if it was not.
    Pending &pending();
    /// Releases m_pending when it holds neither an incomplete frame nor a message in progress.
    void releaseIdlePending() noexcept;
    std::size_t messageBytes() const noexcept { return m_pending ? m_pending->message.size() : 0; }

    std::unique_ptr<Pending> m_pending;
    std::uint32_t m_maxMessage;
    /// Since the last take: at most one per message of a feed(), whose bytes are far fewer than 2^32.
    std::uint32_t m_inflatedMessages = 0;
    bool m_inMessage = false;
    bool m_messageBinary = false;
    bool m_stopped = false;
    bool m_deflate = false;
    bool m_messageCompressed = false; ///< the fragmented message being assembled had RSV1
    bool m_inflateRefused = false;
};

} // namespace switchboard::websocket
