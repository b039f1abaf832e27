#include "switchboard/ShardedPresenceStore.h"

#include "switchboard/ChannelShard.h"

#include <stdexcept>
#include <utility>

namespace switchboard {

ShardedPresenceStore::ShardedPresenceStore(std::vector<PresenceStore *> shards) : m_shards(std::move(shards))
{
    if (m_shards.empty())
        throw std::invalid_argument("ShardedPresenceStore needs at least one shard");
}

std::size_t ShardedPresenceStore::shardOf(std::string_view channel) const
{
    return shardOfChannel(channel, m_shards.size());
}

void ShardedPresenceStore::setHandler(PresenceHandler *handler)
{
    for (PresenceStore *shard : m_shards)
        shard->setHandler(handler);
}

void ShardedPresenceStore::add(std::string_view channel, const Member &member, std::string_view sessionId,
                               std::function<void(bool)> done)
{
    m_shards[shardOf(channel)]->add(channel, member, sessionId, std::move(done));
}

void ShardedPresenceStore::remove(std::string_view channel, std::string_view userId, std::string_view sessionId,
                                  std::function<void(bool)> done)
{
    m_shards[shardOf(channel)]->remove(channel, userId, sessionId, std::move(done));
}

void ShardedPresenceStore::members(std::string_view channel, std::function<void(std::vector<Member>)> done)
{
    m_shards[shardOf(channel)]->members(channel, std::move(done));
}

} // namespace switchboard
