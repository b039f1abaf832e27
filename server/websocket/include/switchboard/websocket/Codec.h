#pragma once
// Codec: the RFC 6455 framing pieces both gateways build on: server frame headers (so every
// frame queued for a session goes out in one socket write), client frame header parsing, masking
// and the handshake accept key. FrameReader (FrameReader.h) turns client bytes into messages.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace switchboard::websocket {

enum Opcode : std::uint8_t { Continuation = 0x0, Text = 0x1, Binary = 0x2, Close = 0x8, Ping = 0x9, Pong = 0xA };

/// The longest server frame header: 2 bytes, then a 64-bit length.
inline constexpr std::size_t kMaxServerHeader = 10;

/// Writes the header of an unmasked, final server frame carrying `length` payload bytes to
/// `out` (room for kMaxServerHeader bytes); returns its size. `compressed` sets RSV1: the payload
/// is a permessage-deflate message (MessageDeflate.h). Inline: a delivery writes one per
/// subscriber.
inline std::size_t writeHeader(char *out, Opcode opcode, std::uint64_t length, bool compressed = false)
{
    out[0] = static_cast<char>(0x80 | (compressed ? 0x40 : 0) | opcode);
    if (length < 126) {
        out[1] = static_cast<char>(length);
        return 2;
    }
    if (length <= 0xFFFF) {
        out[1] = static_cast<char>(126);
        out[2] = static_cast<char>(length >> 8);
        out[3] = static_cast<char>(length & 0xFF);
        return 4;
    }
    out[1] = static_cast<char>(127);
    for (int i = 0; i < 8; ++i)
        out[2 + i] = static_cast<char>((length >> (56 - 8 * i)) & 0xFF);
    return kMaxServerHeader;
}

/// Appends the header writeHeader() writes.
void appendHeader(std::string &out, Opcode opcode, std::uint64_t length, bool compressed = false);
/// Appends a whole close frame: status code plus reason (cut to fit 125 bytes).
void appendCloseFrame(std::string &out, std::uint16_t code, std::string_view reason);

struct FrameHeader {
    bool fin = false;
    bool rsv1 = false; ///< "compressed" (only accepted when permessage-deflate was negotiated)
    std::uint8_t opcode = 0;
    std::uint64_t length = 0;
    std::uint8_t mask[4] = {};
    std::size_t size = 0; ///< header bytes
};

enum class ParseStatus { Ok, NeedMore, ProtocolError };

/// Parses a client frame header from `data`. Rejects what a server must reject: RSV bits (RSV1
/// is accepted on text and binary frames when `deflate`, i.e. permessage-deflate was negotiated;
/// RSV2, RSV3 never), unknown opcodes, unmasked frames, fragmented or long control frames and
/// lengths of 2^63 or more.
ParseStatus parseClientHeader(const std::uint8_t *data, std::size_t size, FrameHeader &header, bool deflate = false);

/// XORs `size` bytes with the mask, starting at mask position `phase`.
void unmask(std::uint8_t *data, std::size_t size, const std::uint8_t mask[4], std::size_t phase = 0);

/// True when a Sec-WebSocket-Key is what RFC 6455 4.1 requires: base64 of 16 bytes (24
/// characters, the last two '='). A server refuses anything else with 400 (4.2.1).
bool isValidKey(std::string_view key) noexcept;

/// Sec-WebSocket-Accept for a Sec-WebSocket-Key (SHA-1 + base64 via OpenSSL).
std::string acceptKey(std::string_view key);

} // namespace switchboard::websocket
