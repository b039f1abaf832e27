#pragma once
// IdempotencyTable: the publications a broker made recently under an idempotency key, so that a
// repeated key gets the original position instead of a second publication.

#include "switchboard/Publication.h"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <unordered_map>

namespace switchboard {

struct IdempotencyOptions {
    /// How long a key is remembered after its publication. 0: keys are ignored (every publish
    /// is a new publication).
    std::chrono::milliseconds window{std::chrono::minutes(5)};
    /// Keys remembered at most (over all channels). When full, the oldest is forgotten first
    /// (counted in IdempotencyCounters::evictions): a repeat of it publishes again.
    std::size_t maxKeys = 100000;
};

/// What the deduplication of a broker did, since it started.
struct IdempotencyCounters {
    std::uint64_t duplicates = 0; ///< publishes answered with the position of an earlier one
    std::uint64_t evictions = 0;  ///< keys forgotten before their window ended (maxKeys)
    IdempotencyCounters &operator+=(const IdempotencyCounters &other)
    {
        duplicates += other.duplicates;
        evictions += other.evictions;
        return *this;
    }
};

/// Keys per channel, each with the position its publication got and the time it expires. The
/// window is the same for every key, so insertion order is expiry order: expired keys are
/// dropped from the front on each call (cost O(expired), no timer per key), and the bound
/// evicts from the same end.
///
/// Thread safety: none. Times are those of a Timer::now() clock; they must not go backwards.
class IdempotencyTable {
public:
    explicit IdempotencyTable(IdempotencyOptions options = {});

    const IdempotencyOptions &options() const { return m_options; }
    /// The window is not 0.
    bool enabled() const { return m_options.window.count() > 0; }

    /// The position remembered for `key` on `channel` and not expired at `now`; null otherwise.
    /// Does not count a duplicate: the caller does (countDuplicate), when it answers with it.
    const StreamPosition *find(std::string_view channel, std::string_view key, std::chrono::milliseconds now);
    /// Remembers `position` for `key` on `channel` until `now` + window. Evicts the oldest key
    /// when maxKeys are held. Nothing when disabled. Meant for a key find() did not hold; for
    /// one it holds, only the position is replaced (the expiry stays).
    void remember(std::string_view channel, std::string_view key, StreamPosition position,
                  std::chrono::milliseconds now);
    void countDuplicate() { ++m_counters.duplicates; }

    /// Keys held, expired ones included until the next call drops them.
    std::size_t size() const { return m_index.size(); }
    const IdempotencyCounters &counters() const { return m_counters; }

private:
    using Index = std::unordered_map<std::string, StreamPosition>; // by channel, '\0', key
    void dropOldest();
    void dropExpired(std::chrono::milliseconds now);
    static std::string idOf(std::string_view channel, std::string_view key);

    IdempotencyOptions m_options;
    Index m_index;
    /// The keys of m_index (its nodes never move) with their expiry, oldest first.
    struct Expiry {
        const std::string *id;
        std::chrono::milliseconds expires;
    };
    std::deque<Expiry> m_order;
    IdempotencyCounters m_counters;
};

} // namespace switchboard
