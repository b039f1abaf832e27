#pragma once
// SessionIdText: the Hub's copy of a session id, kept inside the session's entry when it fits.
//
// Every connection has one, for life. The Hub's own ids are 32 hex digits, past std::string's
// 15 characters kept in place, so a std::string held them in a heap block of its own (48 bytes
// with the allocator's header) besides its 32-byte object. Here an id of up to 32 characters
// lives in the object's 32 bytes; a longer one (a transport may propose any) in a heap block.
// Its address never changes, so views of it (the Hub's index keys, Hub::attachedId) stay valid
// while the entry lives.

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace switchboard::detail {

class SessionIdText {
public:
    static constexpr std::size_t kInline = 32;

    SessionIdText() noexcept = default;
    SessionIdText(const SessionIdText &) = delete;
    SessionIdText &operator=(const SessionIdText &) = delete;
    ~SessionIdText() { release(); }

    /// Replaces the text with `text`.
    void assign(std::string_view text)
    {
        release();
        char *target = m_inline;
        if (text.size() > kInline) {
            m_heap = new char[text.size()];
            target = m_heap;
        }
        std::copy(text.begin(), text.end(), target);
        m_size = static_cast<std::uint32_t>(text.size());
    }

    std::string_view view() const noexcept { return {m_size > kInline ? m_heap : m_inline, m_size}; }
    operator std::string_view() const noexcept { return view(); }

private:
    void release() noexcept
    {
        if (m_size > kInline)
            delete[] m_heap;
        m_size = 0;
    }

    union {
        char m_inline[kInline];
        char *m_heap; ///< when m_size > kInline
    };
    std::uint32_t m_size = 0;
};

} // namespace switchboard::detail
