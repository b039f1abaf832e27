#include "switchboard/IdempotencyTable.h"

namespace switchboard {

IdempotencyTable::IdempotencyTable(IdempotencyOptions options)
    : m_options(options)
{
}

std::string IdempotencyTable::idOf(std::string_view channel, std::string_view key)
{
    // Channel names never hold '\0' (validateChannelName), so the split is unambiguous.
    std::string id;
    id.reserve(channel.size() + 1 + key.size());
    id.append(channel);
    id.push_back('\0');
    id.append(key);
    return id;
}

void IdempotencyTable::dropExpired(std::chrono::milliseconds now)
{
    while (!m_entries.empty() && m_entries.front().expires <= now) {
        m_index.erase(m_entries.front().id);
        m_entries.pop_front();
    }
}

const StreamPosition *IdempotencyTable::find(std::string_view channel, std::string_view key,
                                             std::chrono::milliseconds now)
{
    if (!enabled())
        return nullptr;
    dropExpired(now);
    const auto it = m_index.find(idOf(channel, key));
    return it == m_index.end() ? nullptr : &it->second->position;
}

void IdempotencyTable::remember(std::string_view channel, std::string_view key, StreamPosition position,
                                std::chrono::milliseconds now)
{
    if (!enabled() || m_options.maxKeys == 0)
        return;
    dropExpired(now);
    std::string id = idOf(channel, key);
    if (const auto it = m_index.find(id); it != m_index.end()) {
        m_entries.erase(it->second);
        m_index.erase(it);
    }
    while (m_index.size() >= m_options.maxKeys) {
        m_index.erase(m_entries.front().id);
        m_entries.pop_front();
        ++m_counters.evictions;
    }
    m_entries.push_back(Entry{id, std::move(position), now + m_options.window});
    m_index.emplace(std::move(id), std::prev(m_entries.end()));
}

} // namespace switchboard
