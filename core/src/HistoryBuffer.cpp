#include "switchboard/HistoryBuffer.h"

#include <algorithm>

namespace switchboard {

HistoryBuffer::HistoryBuffer(std::size_t capacity) : m_capacity(capacity) {}

bool HistoryBuffer::push(std::shared_ptr<const Publication> publication, std::chrono::milliseconds storedAt)
{
    if (m_capacity == 0)
        return false;
    if (m_count < m_slots.size()) {
        m_slots[slot(m_count)] = Entry{std::move(publication), storedAt};
        ++m_count;
        return false;
    }
    if (m_slots.size() < m_capacity) {
        // Grow: make the ring linear first so that the new slot lands after the newest entry.
        std::rotate(m_slots.begin(), m_slots.begin() + static_cast<std::ptrdiff_t>(m_head), m_slots.end());
        m_head = 0;
        m_slots.push_back(Entry{std::move(publication), storedAt});
        ++m_count;
        return false;
    }
    // Full: the oldest slot becomes the newest.
    m_slots[m_head] = Entry{std::move(publication), storedAt};
    m_head = (m_head + 1) % m_slots.size();
    return true;
}

std::size_t HistoryBuffer::expire(std::chrono::milliseconds cutoff)
{
    std::size_t dropped = 0;
    while (m_count > 0 && m_slots[m_head].storedAt <= cutoff) {
        m_slots[m_head] = Entry{};
        m_head = (m_head + 1) % m_slots.size();
        --m_count;
        ++dropped;
    }
    if (m_count == 0)
        m_head = 0;
    return dropped;
}

std::uint64_t HistoryBuffer::oldestOffset() const noexcept
{
    return m_count ? at(0).publication->offset : 0;
}

std::uint64_t HistoryBuffer::newestOffset() const noexcept
{
    return m_count ? at(m_count - 1).publication->offset : 0;
}

const HistoryBuffer::Entry &HistoryBuffer::at(std::size_t index) const noexcept
{
    return m_slots[slot(index)];
}

std::size_t HistoryBuffer::copySince(std::uint64_t after, std::size_t limit, std::vector<Publication> &out) const
{
    if (m_count == 0 || newestOffset() <= after)
        return 0;
    // Offsets are consecutive, so the first entry after `after` is found by arithmetic.
    const std::uint64_t oldest = oldestOffset();
    const std::size_t first = after < oldest ? 0 : static_cast<std::size_t>(after - oldest + 1);
    const std::size_t available = m_count - first;
    const std::size_t take = limit == 0 ? available : std::min(limit, available);
    out.reserve(out.size() + take);
    for (std::size_t i = first; i < first + take; ++i)
        out.push_back(*at(i).publication);
    return available;
}

} // namespace switchboard
