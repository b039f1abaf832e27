#include "switchboard/ChannelShard.h"

namespace switchboard {

std::uint64_t channelHash(std::string_view channel) noexcept
{
    std::uint64_t hash = 14695981039346656037ull;
    for (const char c : channel) {
        hash ^= static_cast<unsigned char>(c);
        hash *= 1099511628211ull;
    }
    return hash;
}

std::size_t shardOfChannel(std::string_view channel, std::size_t shards) noexcept
{
    if (shards <= 1)
        return 0;
    return static_cast<std::size_t>(channelHash(channel) % shards);
}

} // namespace switchboard
