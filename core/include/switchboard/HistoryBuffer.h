#pragma once
// HistoryBuffer: the bounded ring of recent publications of one channel stream.

#include "switchboard/Publication.h"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace switchboard {

/// Ring buffer of publications with consecutive offsets, oldest first. Pushing into a full buffer
/// evicts the oldest entry; expire() drops entries stored before a cutoff. Storage grows up to
/// the capacity as entries arrive, so a mostly idle channel with a large limit costs little.
/// Publications are shared (a broker hands the same object to its delivery queue). Not
/// thread-safe.
class HistoryBuffer {
public:
    struct Entry {
        std::shared_ptr<const Publication> publication;
        std::chrono::milliseconds storedAt{0};
    };

    explicit HistoryBuffer(std::size_t capacity);

    /// Appends; the publication's offset must be one more than the newest held (any offset when
    /// empty). Evicts the oldest entry when full. Returns true when an entry was evicted.
    bool push(std::shared_ptr<const Publication> publication, std::chrono::milliseconds storedAt);
    /// Drops entries with storedAt <= cutoff. Returns how many were dropped.
    std::size_t expire(std::chrono::milliseconds cutoff);

    std::size_t size() const noexcept { return m_count; }
    std::size_t capacity() const noexcept { return m_capacity; }
    bool empty() const noexcept { return m_count == 0; }
    /// Offset of the oldest / newest entry; 0 when empty.
    std::uint64_t oldestOffset() const noexcept;
    std::uint64_t newestOffset() const noexcept;
    /// Entry `index` counted from the oldest (index < size()).
    const Entry &at(std::size_t index) const noexcept;

    /// Appends copies of the entries with offset > `after`, oldest first, at most `limit` of them
    /// (0: all). Returns how many entries with offset > `after` were held in total.
    std::size_t copySince(std::uint64_t after, std::size_t limit, std::vector<Publication> &out) const;

private:
    std::size_t slot(std::size_t index) const noexcept { return (m_head + index) % m_slots.size(); }

    std::vector<Entry> m_slots; // grows up to m_capacity
    std::size_t m_capacity;
    std::size_t m_head = 0;     // slot of the oldest entry
    std::size_t m_count = 0;
};

} // namespace switchboard
