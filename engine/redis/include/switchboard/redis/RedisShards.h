#pragma once
// RedisShards: a node's Redis engine over one or several Redis servers (shards). Each channel
// lives on the shard shardOfChannel() names (FNV-1a 64 of its name modulo the shard count), so
// no single Redis carries every channel. docs/scaling.md ("Sharding") describes the layout.

#include "switchboard/redis/RedisBroker.h"
#include "switchboard/redis/RedisConnector.h"
#include "switchboard/redis/RedisEventLoop.h"
#include "switchboard/redis/RedisPresenceStore.h"
#include "switchboard/redis/RedisUrl.h"

#include <switchboard/Broker.h>
#include <switchboard/HistoryOptions.h>
#include <switchboard/Hub.h>
#include <switchboard/PresenceStore.h>
#include <switchboard/Timer.h>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace switchboard::redis {

struct RedisShardsOptions {
    /// The shards in order; shard i is urls[i]. Every node must list the same servers in the same
    /// order, or nodes disagree on where a channel lives. At least one.
    std::vector<RedisUrl> urls;
    std::string prefix = "switchboard:";
    HistoryOptions history;
    /// RedisBrokerOptions::idempotencyWindow of every shard.
    std::chrono::milliseconds idempotencyWindow{std::chrono::minutes(5)};
    RedisEventLoop eventLoop;
    /// Opens the transport of rediss:// shards (TLS); required for them, unused otherwise.
    RedisConnector connector;
    std::chrono::milliseconds connectTimeout{2000};
    std::chrono::milliseconds backoffMax{5000};
    std::chrono::milliseconds nodeTtl{15000};
    /// One-line messages of every shard; with several shards each is prefixed "shard I: ".
    std::function<void(std::string_view message)> log;
    /// Round trip of every command reply of every shard. May be empty.
    std::function<void(std::chrono::microseconds)> onRoundTrip;
    /// This node's channels (all shards'); each shard records only its own channels. May be empty.
    std::function<std::vector<ChannelStats>()> localChannels;
};

/// Builds, per shard, a RedisBroker and a RedisPresenceStore (four connections per shard) that
/// share one node id, and composes them into one Broker (ShardedBroker) and one PresenceStore
/// (ShardedPresenceStore) for the Hub. Each shard is self-contained: its node lease, beat, sweep
/// and channel record concern the channels it holds; a shard that is down refuses only its
/// channels' publishes (503) while the others keep working. With one URL it behaves exactly as a
/// single RedisBroker + RedisPresenceStore (same keys, same scripts).
///
/// Ownership: owns the shards; broker() and presence() are valid for its lifetime (the Hub must
/// go first). Thread safety: none; every call and callback on the core's thread.
class RedisShards {
public:
    RedisShards(Timer &timer, RedisShardsOptions options);
    ~RedisShards();
    RedisShards(const RedisShards &) = delete;
    RedisShards &operator=(const RedisShards &) = delete;

    /// Connects every shard (both stores) and starts the presence beats.
    void start();

    Broker &broker();
    PresenceStore &presence();
    const std::string &nodeId() const;

    std::size_t shardCount() const;
    const RedisUrl &url(std::size_t shard) const;
    /// Both the broker's and the presence store's connections of `shard` are up.
    bool shardAvailable(std::size_t shard) const;
    /// Every shard is up.
    bool available() const;
    /// Shards that are up.
    std::size_t shardsAvailable() const;
    RedisBrokerCounters brokerCounters(std::size_t shard) const;
    RedisPresenceCounters presenceCounters(std::size_t shard) const;
    /// Summed over every shard (one shard: its own figures).
    RedisBrokerCounters brokerCounters() const;
    RedisPresenceCounters presenceCounters() const;

    /// The union of every shard's cluster-wide channel listing (RedisPresenceStore::clusterChannels),
    /// ordered by name. Error::NotConnected (with an empty list) when any shard is unreachable:
    /// a listing missing a shard's channels would look complete. `done` runs once, on the core's
    /// thread, possibly before this returns.
    void clusterChannels(std::function<void(std::error_code, std::vector<ChannelStats>)> done);
    /// The union of every shard's channels with history (RedisBroker::channelsWithHistory, each
    /// shard walked within `limits`), sorted by name, at most limits.maxChannels of them;
    /// truncated when a shard's walk was or the union was cut. Error::NotConnected (empty) when
    /// any shard is unreachable. `done` runs once, on the core's thread, possibly before this
    /// returns.
    void channelsWithHistory(const HistoryChannelScan &limits,
                             std::function<void(std::error_code, HistoryChannelList)> done);
    /// RedisPresenceStore::occupancy on the channel's shard.
    void occupancy(std::string_view channel, bool occupied, std::function<void(bool crossed)> done);

private:
    struct Impl;
    std::unique_ptr<Impl> d;
};

} // namespace switchboard::redis
