#pragma once
// CompactText: a string a long-lived object keeps and rarely reads (a connection's user id, for
// its log lines), in one pointer.
//
// std::string is 32 bytes in every object, set or not, and past 15 characters a heap block
// besides. Here an empty text is a null pointer (8 bytes, no block: every anonymous connection),
// and a set one a single block holding its length and characters.

#include <cstdint>
#include <cstring>
#include <memory>
#include <string_view>

namespace switchboard::asio {

class CompactText {
public:
    CompactText() noexcept = default;

    /// Replaces the text; an empty `text` frees the block.
    void assign(std::string_view text)
    {
        if (text.empty()) {
            m_block.reset();
            return;
        }
        const auto size = static_cast<std::uint32_t>(text.size());
        std::unique_ptr<char[]> block(new char[sizeof size + size]);
        std::memcpy(block.get(), &size, sizeof size);
        std::memcpy(block.get() + sizeof size, text.data(), size);
        m_block = std::move(block);
    }

    std::string_view view() const noexcept
    {
        if (!m_block)
            return {};
        std::uint32_t size = 0;
        std::memcpy(&size, m_block.get(), sizeof size);
        return {m_block.get() + sizeof size, size};
    }

    bool empty() const noexcept { return !m_block; }

private:
    std::unique_ptr<char[]> m_block; ///< [uint32 length][characters], or null when empty
};
static_assert(sizeof(CompactText) == sizeof(void *));

} // namespace switchboard::asio
