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

void IdempotencyTable::dropOldest()
{
    m_index.erase(m_index.find(*m_order.front().id)); // by iterator: the key lives in the node
    m_order.pop_front();
}

void IdempotencyTable::dropExpired(std::chrono::milliseconds now)
{
    while (!m_order.empty() && m_order.front().expires <= now)
        dropOldest();
}

const StreamPosition *IdempotencyTable::find(std::string_view channel, std::string_view key,
                                             std::chrono::milliseconds now)
{
    if (!enabled())
        return nullptr;
    dropExpired(now);
    const auto it = m_index.find(idOf(channel, key));
    return it == m_index.end() ? nullptr : &it->second;
}

void IdempotencyTable::remember(std::string_view channel, std::string_view key, StreamPosition position,
                                std::chrono::milliseconds now)
{
    if (!enabled() || m_options.maxKeys == 0)
        return;
    dropExpired(now);
    const auto [it, inserted] = m_index.try_emplace(idOf(channel, key));
    it->second = std::move(position);
    if (!inserted)
        return;
    m_order.push_back(Expiry{&it->first, now + m_options.window});
    while (m_index.size() > m_options.maxKeys) { // the new key is the newest: never the one dropped
        dropOldest();
        ++m_counters.evictions;
    }
}

} // namespace switchboard
