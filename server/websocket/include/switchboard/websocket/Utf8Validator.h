#pragma once
// Utf8Validator: strict UTF-8 validation (RFC 3629: no overlong forms, no surrogates, nothing
// above U+10FFFF) that can be fed in pieces, so a text message fragmented anywhere, even inside a
// code point, is checked as it arrives and refused at its first invalid byte (RFC 6455 8.1).

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace switchboard::websocket {

/// Not thread-safe; one per message being read. Never allocates.
class Utf8Validator {
public:
    /// Checks the next bytes of the text. Returns false at the first byte that can never be part
    /// of valid UTF-8; once false, it stays false until reset().
    bool feed(std::string_view bytes) noexcept;
    /// True when everything fed so far is valid and no code point is cut short.
    bool complete() const noexcept { return m_valid && m_needed == 0; }
    bool valid() const noexcept { return m_valid; }
    void reset() noexcept { *this = Utf8Validator(); }

private:
    std::uint8_t m_needed = 0;    ///< continuation bytes still expected for the current code point
    std::uint8_t m_lower = 0x80;  ///< range allowed for the next continuation byte (Unicode 3.9,
    std::uint8_t m_upper = 0xBF;  ///< table 3-7: excludes overlongs, surrogates, > U+10FFFF)
    bool m_valid = true;
};

/// Whole-text convenience: true when `text` is complete, valid UTF-8.
bool isValidUtf8(std::string_view text) noexcept;

/// At most `maxBytes` of valid UTF-8 `text`, never ending inside a character: the first
/// `maxBytes` bytes less a character they would cut. For text the server sends (a close reason,
/// a backend's reason in a frame), which a client refuses when it is not valid UTF-8.
std::string_view utf8Prefix(std::string_view text, std::size_t maxBytes) noexcept;

} // namespace switchboard::websocket
