#pragma once
// ChannelShard: which of N engine shards (Redis servers) holds a channel.

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace switchboard {

/// FNV-1a 64 of the channel name's bytes (offset basis 14695981039346656037, prime
/// 1099511628211). Stable across builds, platforms and releases: every node of a deployment must
/// compute the same value, so this function never changes.
std::uint64_t channelHash(std::string_view channel) noexcept;

/// The shard of `channel` among `shards` shards: channelHash(channel) % shards (0 when `shards`
/// is 0 or 1). Shard i is the i-th engine URL as configured, so every node must list the same URLs
/// in the same order.
std::size_t shardOfChannel(std::string_view channel, std::size_t shards) noexcept;

} // namespace switchboard
