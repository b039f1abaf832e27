#include "switchboard/websocket/Codec.h"

#include "switchboard/websocket/Utf8Validator.h"

#include <openssl/evp.h>
#include <openssl/sha.h>

namespace switchboard::websocket {

void appendHeader(std::string &out, Opcode opcode, std::uint64_t length, bool compressed)
{
    char header[kMaxServerHeader];
    out.append(header, writeHeader(header, opcode, length, compressed));
}

void appendCloseFrame(std::string &out, std::uint16_t code, std::string_view reason)
{
    reason = utf8Prefix(reason, 123); // RFC 6455 5.5: control frames carry at most 125 bytes
    appendHeader(out, Close, 2 + reason.size());
    out.push_back(static_cast<char>(code >> 8));
    out.push_back(static_cast<char>(code & 0xFF));
    out.append(reason);
}

ParseStatus parseClientHeader(const std::uint8_t *p, std::size_t n, FrameHeader &h, bool deflate)
{
    if (n < 2)
        return ParseStatus::NeedMore;
    h.fin = (p[0] & 0x80) != 0;
    h.rsv1 = (p[0] & 0x40) != 0;
    h.opcode = p[0] & 0x0F;
    if ((p[0] & 0x30) != 0)
        return ParseStatus::ProtocolError; // RSV2-3: no extension defines them
    // RSV1 marks the first frame of a compressed message (RFC 7692 6): never a continuation or
    // control frame, never without the extension.
    if (h.rsv1 && (!deflate || (h.opcode != Text && h.opcode != Binary)))
        return ParseStatus::ProtocolError;
    const bool masked = (p[1] & 0x80) != 0;
    if (!masked)
        return ParseStatus::ProtocolError; // clients must mask (RFC 6455 5.1)
    const std::uint8_t len7 = p[1] & 0x7F;
    const bool control = (h.opcode & 0x8) != 0;
    switch (h.opcode) {
    case Continuation: case Text: case Binary: case Close: case Ping: case Pong: break;
    default: return ParseStatus::ProtocolError;
    }
    if (control && (!h.fin || len7 > 125))
        return ParseStatus::ProtocolError;
    std::size_t pos = 2;
    if (len7 == 126) {
        if (n < 4)
            return ParseStatus::NeedMore;
        h.length = (std::uint64_t(p[2]) << 8) | p[3];
        pos = 4;
    } else if (len7 == 127) {
        if (n < 10)
            return ParseStatus::NeedMore;
        h.length = 0;
        for (int i = 0; i < 8; ++i)
            h.length = (h.length << 8) | p[2 + i];
        if (h.length >> 63)
            return ParseStatus::ProtocolError;
        pos = 10;
    } else {
        h.length = len7;
    }
    if (n < pos + 4)
        return ParseStatus::NeedMore;
    for (int i = 0; i < 4; ++i)
        h.mask[i] = p[pos + i];
    h.size = pos + 4;
    return ParseStatus::Ok;
}

void unmask(std::uint8_t *data, std::size_t size, const std::uint8_t mask[4], std::size_t phase)
{
    for (std::size_t i = 0; i < size; ++i)
        data[i] ^= mask[(i + phase) & 3];
}

bool isValidKey(std::string_view key) noexcept
{
    if (key.size() != 24 || key.substr(22) != "==")
        return false;
    for (const char c : key.substr(0, 22)) {
        const bool base64 = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
        if (!base64)
            return false;
    }
    return true;
}

std::string acceptKey(std::string_view key)
{
    static constexpr std::string_view guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    std::string input(key);
    input.append(guid);
    unsigned char digest[SHA_DIGEST_LENGTH];
    SHA1(reinterpret_cast<const unsigned char *>(input.data()), input.size(), digest);
    std::string out(4 * ((SHA_DIGEST_LENGTH + 2) / 3) + 1, '\0');
    const int len = EVP_EncodeBlock(reinterpret_cast<unsigned char *>(out.data()), digest, SHA_DIGEST_LENGTH);
    out.resize(static_cast<std::size_t>(len));
    return out;
}

} // namespace switchboard::websocket
