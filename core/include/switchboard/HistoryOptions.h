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
    /// Streams (channels with history) held at most; creating one more (the first publish to,
    /// or the first subscribe on, a channel without a stream) evicts the least recently
    /// published or created stream, whose epoch is then lost.
    std::size_t maxStreams = 100'000;

    /// The rule for `channel`, or a rule of size 0 when none matches.
    HistoryRule ruleFor(std::string_view channel) const;
};

} // namespace switchboard
