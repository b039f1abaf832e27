#include "switchboard/ShardedBroker.h"

#include "switchboard/ChannelShard.h"

#include <stdexcept>
#include <utility>

namespace switchboard {

ShardedBroker::ShardedBroker(std::vector<Broker *> shards) : m_shards(std::move(shards))
{
    if (m_shards.empty())
        throw std::invalid_argument("ShardedBroker needs at least one shard");
}

std::size_t ShardedBroker::shardOf(std::string_view channel) const
{
    return shardOfChannel(channel, m_shards.size());
}

void ShardedBroker::setHandler(BrokerHandler *handler)
{
    for (Broker *shard : m_shards)
        shard->setHandler(handler);
}

void ShardedBroker::subscribe(std::string_view channel)
{
    m_shards[shardOf(channel)]->subscribe(channel);
}

void ShardedBroker::unsubscribe(std::string_view channel)
{
    m_shards[shardOf(channel)]->unsubscribe(channel);
}

void ShardedBroker::publish(Publication publication, std::function<void(std::error_code, StreamPosition)> done)
{
    Broker *shard = m_shards[shardOf(publication.channel)];
    shard->publish(std::move(publication), std::move(done));
}

void ShardedBroker::history(std::string_view channel, const HistoryQuery &query, std::function<void(HistoryResult)> done)
{
    m_shards[shardOf(channel)]->history(channel, query, std::move(done));
}

std::uint64_t ShardedBroker::historyEvictions() const
{
    std::uint64_t sum = 0;
    for (const Broker *shard : m_shards)
        sum += shard->historyEvictions();
    return sum;
}

IdempotencyCounters ShardedBroker::idempotency() const
{
    IdempotencyCounters sum;
    for (const Broker *shard : m_shards)
        sum += shard->idempotency();
    return sum;
}

} // namespace switchboard
