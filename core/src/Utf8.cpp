#include "Utf8.h"

#include <cstdint>
#include <cstring>

namespace switchboard::detail {

namespace {

/// The length (1-4 bytes) of the well-formed sequence at `p`; 0 when it is ill-formed or `end`
/// cuts it.
std::size_t sequenceLength(const unsigned char *p, const unsigned char *end) noexcept
{
    const unsigned lead = *p;
    if (lead < 0x80)
        return 1;
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
        return 0; // continuation byte without a lead, or 0xF5..0xFF
    }
    if (end - p <= trailing)
        return 0; // truncated sequence
    for (std::ptrdiff_t i = 1; i <= trailing; ++i) {
        const unsigned byte = p[i];
        if ((byte & 0xC0u) != 0x80u)
            return 0;
        codePoint = (codePoint << 6) | (byte & 0x3Fu);
    }
    if (trailing == 2 && (codePoint < 0x800 || (codePoint >= 0xD800 && codePoint <= 0xDFFF)))
        return 0; // overlong, or a UTF-16 surrogate
    if (trailing == 3 && (codePoint < 0x10000 || codePoint > 0x10FFFF))
        return 0; // overlong, or beyond Unicode
    return static_cast<std::size_t>(trailing) + 1;
}

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
        const std::size_t length = sequenceLength(p, end);
        if (length == 0)
            break;
        p += length;
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

std::string shownText(std::string_view text, std::size_t maxBytes)
{
    std::string shown(validUtf8Prefix(text.substr(0, maxBytes)));
    if (shown.size() < text.size())
        shown += "...";
    return shown;
}

} // namespace switchboard::detail
