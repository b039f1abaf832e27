#include "Utf8.h"

#include <cstdint>
#include <cstring>

namespace switchboard::detail {

namespace {

/// Bytes of `text` before its first ill-formed sequence (text.size(): none).
std::size_t wellFormedLength(std::string_view text) noexcept
{
    const auto *p = reinterpret_cast<const unsigned char *>(text.data());
    const auto *const end = p + text.size();
    while (p < end) {
        // Frames are mostly ASCII JSON: skip eight ASCII bytes at a time.
        if (end - p >= 8) {
            std::uint64_t word;
            std::memcpy(&word, p, sizeof word);
            if ((word & 0x8080808080808080ull) == 0) {
                p += 8;
                continue;
            }
        }
        const unsigned lead = *p;
        if (lead < 0x80) {
            ++p;
            continue;
        }
        std::ptrdiff_t trailing = 0;
        std::uint32_t codePoint = 0;
        if (lead >= 0xC2 && lead <= 0xDF) { // 0xC0, 0xC1 would only encode ASCII (overlong)
            trailing = 1;
            codePoint = lead & 0x1Fu;
        } else if ((lead & 0xF0u) == 0xE0u) {
            trailing = 2;
            codePoint = lead & 0x0Fu;
        } else if (lead >= 0xF0 && lead <= 0xF4) {
            trailing = 3;
            codePoint = lead & 0x07u;
        } else {
            break; // continuation byte without a lead, or 0xF5..0xFF
        }
        if (end - p <= trailing)
            break; // truncated sequence
        bool continued = true;
        for (std::ptrdiff_t i = 1; i <= trailing; ++i) {
            const unsigned byte = p[i];
            if ((byte & 0xC0u) != 0x80u) {
                continued = false;
                break;
            }
            codePoint = (codePoint << 6) | (byte & 0x3Fu);
        }
        if (!continued)
            break;
        if (trailing == 2 && (codePoint < 0x800 || (codePoint >= 0xD800 && codePoint <= 0xDFFF)))
            break; // overlong, or a UTF-16 surrogate
        if (trailing == 3 && (codePoint < 0x10000 || codePoint > 0x10FFFF))
            break; // overlong, or beyond Unicode
        p += trailing + 1;
    }
    return static_cast<std::size_t>(p - reinterpret_cast<const unsigned char *>(text.data()));
}

} // namespace

bool isValidUtf8(std::string_view text) noexcept
{
    return wellFormedLength(text) == text.size();
}

std::string_view validUtf8Prefix(std::string_view text) noexcept
{
    return text.substr(0, wellFormedLength(text));
}

} // namespace switchboard::detail
