#pragma once
// HistoryOptions: how much history a broker keeps, per channel-name prefix.

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace switchboard {

/// History kept for the channels whose name starts with `prefix`.
struct HistoryRule {
    std::string prefix;                ///< "" matches every channel
    std::size_t size = 0;              ///< publications kept; 0: no history (offsets are 0)
    std::chrono::milliseconds ttl{0};  ///< how long a publication is kept; 0: until evicted by size
};

/// Rules per channel-name prefix; the longest matching prefix wins. Channels matching no rule
/// keep no history. Value type, cheap to copy for the handful of rules a server has.
struct HistoryOptions {
    std::vector<HistoryRule> rules{HistoryRule{"", 100, std::chrono::minutes(5)}};
    /// Streams (channels with history) held at most. A join on a channel without a stream gets
    /// one only when there is room or an empty, unsubscribed stream to replace; it never evicts
    /// published history (without a stream the subscriber just learns no epoch). A publish to a
    /// channel without a stream evicts, in order: an empty stream (nothing published), the least
    /// recently published stream nobody subscribes to, the least recently published stream.
    /// Evicting published history loses its epoch; it is counted (Broker::historyEvictions)
    /// and logged. A stream nothing was published to is dropped when its last subscriber leaves.
    std::size_t maxStreams = 100'000;

    /// The rule for `channel`, or a rule of size 0 when none matches.
    HistoryRule ruleFor(std::string_view channel) const;
};

} // namespace switchboard
