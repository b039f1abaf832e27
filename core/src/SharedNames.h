#pragma once
// SharedNames: one copy of each distinct short text that many sessions hold, such as the client
// name a connect frame carries.
//
// Every connection of one client library sends the same name ("switchboard-qt/1.0 ..."), so a
// std::string per session kept the same bytes thousands of times: 32 bytes of object, and a heap
// block of its own past 15 characters. A SharedName is one pointer; the text lives once in the
// pool, counted by the names that hold it, and leaves the pool with the last of them.
//
// Not thread-safe: the pool and its names are used under their owner's lock (the Hub's), and the
// pool outlives every name taken from it.

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

namespace switchboard::detail {

class SharedNames;

/// A text held in a SharedNames pool, or the empty text. Movable, not copyable.
class SharedName {
public:
    SharedName() noexcept = default;
    SharedName(SharedName &&other) noexcept : m_entry(std::exchange(other.m_entry, nullptr)) {}
    SharedName &operator=(SharedName &&other) noexcept
    {
        if (this != &other) {
            release();
            m_entry = std::exchange(other.m_entry, nullptr);
        }
        return *this;
    }
    SharedName(const SharedName &) = delete;
    SharedName &operator=(const SharedName &) = delete;
    ~SharedName() { release(); }

    std::string_view view() const noexcept;
    operator std::string_view() const noexcept { return view(); }

private:
    friend class SharedNames;
    struct Entry {
        SharedNames *pool;
        std::size_t holders;
        std::string text;
    };
    explicit SharedName(Entry *entry) noexcept : m_entry(entry) {}
    void release() noexcept;

    Entry *m_entry = nullptr;
};

class SharedNames {
public:
    SharedNames() = default;
    SharedNames(const SharedNames &) = delete;
    SharedNames &operator=(const SharedNames &) = delete;

    /// `text` held in the pool: the copy already there, or a new one. Empty text holds nothing.
    SharedName take(std::string_view text)
    {
        if (text.empty())
            return {};
        auto it = m_entries.find(text);
        if (it == m_entries.end()) {
            auto entry = std::make_unique<SharedName::Entry>(SharedName::Entry{this, 0, std::string(text)});
            const std::string_view key = entry->text; // the entry's own text: its address is stable
            it = m_entries.emplace(key, std::move(entry)).first;
        }
        ++it->second->holders;
        return SharedName(it->second.get());
    }

private:
    friend class SharedName;
    void drop(SharedName::Entry &entry) noexcept
    {
        // Found first: erasing by key would compare against the text the erase frees.
        const auto it = m_entries.find(std::string_view(entry.text));
        m_entries.erase(it);
    }

    std::unordered_map<std::string_view, std::unique_ptr<SharedName::Entry>> m_entries;
};

inline std::string_view SharedName::view() const noexcept
{
    return m_entry ? std::string_view(m_entry->text) : std::string_view();
}

inline void SharedName::release() noexcept
{
    if (m_entry && --m_entry->holders == 0)
        m_entry->pool->drop(*m_entry);
    m_entry = nullptr;
}

} // namespace switchboard::detail
