#include "switchboard/websocket/Utf8Validator.h"

#include <cstring>

namespace switchboard::websocket {

bool Utf8Validator::feed(std::string_view bytes) noexcept
{
    if (!m_valid)
        return false;
    const auto *p = reinterpret_cast<const unsigned char *>(bytes.data());
    const auto *const end = p + bytes.size();
    while (p < end) {
        if (m_needed == 0) {
            // Messages are mostly ASCII JSON: skip eight ASCII bytes at a time.
            if (end - p >= 8) {
                std::uint64_t word;
                std::memcpy(&word, p, sizeof word);
                if ((word & 0x8080808080808080ull) == 0) {
                    p += 8;
                    continue;
                }
            }
            const unsigned lead = *p++;
            if (lead < 0x80)
                continue;
            m_lower = 0x80;
            m_upper = 0xBF;
            if (lead >= 0xC2 && lead <= 0xDF) {
                m_needed = 1;
            } else if (lead >= 0xE0 && lead <= 0xEF) {
                m_needed = 2;
                if (lead == 0xE0)
                    m_lower = 0xA0; // below: overlong
                else if (lead == 0xED)
                    m_upper = 0x9F; // above: UTF-16 surrogates
            } else if (lead >= 0xF0 && lead <= 0xF4) {
                m_needed = 3;
                if (lead == 0xF0)
                    m_lower = 0x90; // below: overlong
                else if (lead == 0xF4)
                    m_upper = 0x8F; // above: beyond U+10FFFF
            } else {
                m_valid = false; // continuation byte without a lead, 0xC0/0xC1 (overlong), 0xF5..0xFF
                return false;
            }
            continue;
        }
        const unsigned byte = *p++;
        if (byte < m_lower || byte > m_upper) {
            m_valid = false;
            return false;
        }
        --m_needed;
        m_lower = 0x80;
        m_upper = 0xBF;
    }
    return true;
}

bool isValidUtf8(std::string_view text) noexcept
{
    Utf8Validator validator;
    return validator.feed(text) && validator.complete();
}

std::string_view utf8Prefix(std::string_view text, std::size_t maxBytes) noexcept
{
    if (text.size() <= maxBytes)
        return text;
    std::size_t cut = maxBytes;
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0u) == 0x80u)
        --cut; // text[cut] continues the character before it: cut before that character
    return text.substr(0, cut);
}

} // namespace switchboard::websocket
