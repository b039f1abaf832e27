#include "switchboard/redis/RedisShards.h"

#include <switchboard/ChannelShard.h>
#include <switchboard/ShardedBroker.h>
#include <switchboard/ShardedPresenceStore.h>

#include <algorithm>
#include <iterator>
#include <memory>
#include <stdexcept>
#include <utility>

namespace switchboard::redis {

struct RedisShards::Impl {
    RedisShardsOptions options;
    std::string node;
    // Destroyed bottom-up: the composites (which hold raw pointers) before the shards.
    std::vector<std::unique_ptr<RedisBroker>> brokers;
    std::vector<std::unique_ptr<RedisPresenceStore>> stores;
    std::unique_ptr<ShardedBroker> broker;
    std::unique_ptr<ShardedPresenceStore> presence;
};

RedisShards::RedisShards(Timer &timer, RedisShardsOptions options) : d(std::make_unique<Impl>())
{
    if (options.urls.empty())
        throw std::invalid_argument("RedisShards needs at least one Redis URL");
    d->options = std::move(options);
    const RedisShardsOptions &o = d->options;
    const std::size_t count = o.urls.size();
    std::vector<Broker *> brokers;
    std::vector<PresenceStore *> stores;
    for (std::size_t shard = 0; shard < count; ++shard) {
        std::function<void(std::string_view)> log = o.log;
        if (log && count > 1) {
            log = [log = o.log, label = "shard " + std::to_string(shard) + ": "](std::string_view message) {
                log(label + std::string(message));
            };
        }
        // What both stores of the shard connect with.
        RedisConnectionOptions connection;
        connection.url = o.urls[shard];
        connection.eventLoop = o.eventLoop;
        connection.connector = o.connector;
        connection.connectTimeout = o.connectTimeout;
        connection.backoffMax = o.backoffMax;
        connection.log = log;
        connection.onRoundTrip = o.onRoundTrip;

        RedisBrokerOptions b;
        static_cast<RedisConnectionOptions &>(b) = connection;
        b.prefix = o.prefix;
        b.history = o.history;
        b.idempotencyWindow = o.idempotencyWindow;
        b.nodeId = d->node; // empty for the first shard: it draws the node's id
        d->brokers.push_back(std::make_unique<RedisBroker>(timer, std::move(b)));
        if (d->node.empty())
            d->node = d->brokers.front()->nodeId();

        RedisPresenceOptions p;
        static_cast<RedisConnectionOptions &>(p) = std::move(connection);
        p.prefix = o.prefix;
        p.nodeId = d->node;
        p.nodeTtl = o.nodeTtl;
        if (o.localChannels) {
            // Each shard records only the channels it holds, so the union over shards counts
            // every channel once.
            p.localChannels = [all = o.localChannels, shard, count] {
                std::vector<ChannelStats> mine = all();
                if (count > 1) {
                    mine.erase(std::remove_if(mine.begin(), mine.end(),
                                              [&](const ChannelStats &c) { return shardOfChannel(c.name, count) != shard; }),
                               mine.end());
                }
                return mine;
            };
        }
        d->stores.push_back(std::make_unique<RedisPresenceStore>(timer, std::move(p)));
        brokers.push_back(d->brokers.back().get());
        stores.push_back(d->stores.back().get());
    }
    d->broker = std::make_unique<ShardedBroker>(std::move(brokers));
    d->presence = std::make_unique<ShardedPresenceStore>(std::move(stores));
}

RedisShards::~RedisShards()
{
    d->presence.reset();
    d->broker.reset();
    d->stores.clear();
    d->brokers.clear();
}

void RedisShards::start()
{
    for (std::size_t shard = 0; shard < d->brokers.size(); ++shard) {
        d->brokers[shard]->start();
        d->stores[shard]->start();
    }
}

Broker &RedisShards::broker() { return *d->broker; }
PresenceStore &RedisShards::presence() { return *d->presence; }
const std::string &RedisShards::nodeId() const { return d->node; }
std::size_t RedisShards::shardCount() const { return d->brokers.size(); }
const RedisUrl &RedisShards::url(std::size_t shard) const { return d->options.urls.at(shard); }

bool RedisShards::shardAvailable(std::size_t shard) const
{
    return d->brokers.at(shard)->available() && d->stores.at(shard)->available();
}

std::size_t RedisShards::shardsAvailable() const
{
    std::size_t up = 0;
    for (std::size_t shard = 0; shard < d->brokers.size(); ++shard)
        up += shardAvailable(shard) ? 1 : 0;
    return up;
}

bool RedisShards::available() const { return shardsAvailable() == shardCount(); }

RedisBrokerCounters RedisShards::brokerCounters(std::size_t shard) const { return d->brokers.at(shard)->counters(); }
RedisPresenceCounters RedisShards::presenceCounters(std::size_t shard) const { return d->stores.at(shard)->counters(); }

RedisBrokerCounters RedisShards::brokerCounters() const
{
    RedisBrokerCounters sum;
    for (const auto &broker : d->brokers)
        sum += broker->counters();
    return sum;
}

RedisPresenceCounters RedisShards::presenceCounters() const
{
    RedisPresenceCounters sum;
    for (const auto &store : d->stores)
        sum += store->counters();
    return sum;
}

void RedisShards::occupancy(std::string_view channel, bool occupied, std::function<void(bool)> done)
{
    d->stores[shardOfChannel(channel, d->stores.size())]->occupancy(channel, occupied, std::move(done));
}

void RedisShards::clusterChannels(std::function<void(std::error_code, std::vector<ChannelStats>)> done)
{
    struct Gather {
        std::size_t pending = 0;
        std::error_code error;
        std::vector<ChannelStats> channels;
        std::function<void(std::error_code, std::vector<ChannelStats>)> done;
    };
    auto gather = std::make_shared<Gather>();
    gather->pending = d->stores.size();
    gather->done = std::move(done);
    // Count every shard's answer before asking the next: a store may answer synchronously.
    for (const auto &store : d->stores) {
        store->clusterChannels([gather](std::error_code error, std::vector<ChannelStats> channels) {
            if (error && !gather->error)
                gather->error = error;
            std::move(channels.begin(), channels.end(), std::back_inserter(gather->channels));
            if (--gather->pending > 0)
                return;
            if (gather->error) {
                gather->channels.clear();
            } else {
                std::sort(gather->channels.begin(), gather->channels.end(),
                          [](const ChannelStats &a, const ChannelStats &b) { return a.name < b.name; });
            }
            if (gather->done)
                gather->done(gather->error, std::move(gather->channels));
        });
    }
}

void RedisShards::channelsWithHistory(const HistoryChannelScan &limits,
                                      std::function<void(std::error_code, HistoryChannelList)> done)
{
    struct Gather {
        std::size_t pending = 0;
        std::error_code error;
        HistoryChannelList list;
        std::function<void(std::error_code, HistoryChannelList)> done;
    };
    auto gather = std::make_shared<Gather>();
    gather->pending = d->brokers.size();
    gather->done = std::move(done);
    const std::size_t maxChannels = limits.maxChannels;
    // Count every shard's answer before asking the next: a broker may answer synchronously.
    for (const auto &broker : d->brokers) {
        broker->channelsWithHistory(limits, [gather, maxChannels](std::error_code error, HistoryChannelList shard) {
            if (error && !gather->error)
                gather->error = error;
            gather->list.truncated = gather->list.truncated || shard.truncated;
            std::move(shard.channels.begin(), shard.channels.end(), std::back_inserter(gather->list.channels));
            if (--gather->pending > 0)
                return;
            HistoryChannelList &list = gather->list;
            if (gather->error) {
                list = {};
            } else {
                std::sort(list.channels.begin(), list.channels.end());
                list.channels.erase(std::unique(list.channels.begin(), list.channels.end()), list.channels.end());
                if (list.channels.size() > maxChannels) {
                    list.channels.resize(maxChannels);
                    list.truncated = true;
                }
            }
            if (gather->done)
                gather->done(gather->error, std::move(list));
        });
    }
}

} // namespace switchboard::redis
