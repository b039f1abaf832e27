#pragma once
// RedisPresenceStore: the core PresenceStore shared by every node on one Redis, so that a presence
// channel has one roster across the cluster, one member per user across all of that user's
// connections on all nodes, and a dead node's members are removed. docs/scaling.md ("Presence")
// describes the keys, the node lease and the failure semantics.

#include "switchboard/redis/RedisConnectionOptions.h"

#include <switchboard/Hub.h>
#include <switchboard/PresenceStore.h>
#include <switchboard/Timer.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace switchboard::redis {

/// The connection settings (server, event loop, TLS connector, timeouts, log, round-trip
/// observer: RedisConnectionOptions.h), and the store's own.
struct RedisPresenceOptions : RedisConnectionOptions {
    /// Key and pub/sub prefix; the broker's, so one deployment shares one namespace.
    std::string prefix = "switchboard:";
    /// This node's id, unique in the cluster (RedisBroker::nodeId()); required.
    std::string nodeId;
    /// Lease of this node: when it is not renewed for this long (the process died, or lost
    /// Redis), any other node removes its connections and announces member_removed.
    std::chrono::milliseconds nodeTtl{15000};
    /// Lease renewal, channel record and sweep of expired nodes; 0: min(nodeTtl / 3, 1 s).
    std::chrono::milliseconds beatInterval{0};
    /// This node's channels, asked at every beat for the cluster-wide listing. May be empty
    /// (the node then records none). Called on the core's thread.
    std::function<std::vector<ChannelStats>()> localChannels;
};

struct RedisPresenceCounters {
    std::uint64_t scriptErrors = 0;  ///< presence scripts answered with an error or a malformed reply, malformed announcements (logged at most once per 10 s)
    std::uint64_t nodesExpired = 0;  ///< dead nodes this node swept (their members removed)
    std::uint64_t remoteEvents = 0;  ///< member_added / member_removed heard from other nodes
    std::uint64_t syncs = 0;         ///< times this node rewrote its connections in Redis (reconnect, lost lease)
    std::uint64_t errors = 0;        ///< connection failures
    std::uint64_t reconnects = 0;

    /// Adds `other` field by field (RedisShards sums its shards'). A field added above is added
    /// here too; tests/cluster/tst_redisenginecounters.cpp fails when one is not.
    RedisPresenceCounters &operator+=(const RedisPresenceCounters &other)
    {
        scriptErrors += other.scriptErrors;
        nodesExpired += other.nodesExpired;
        remoteEvents += other.remoteEvents;
        syncs += other.syncs;
        errors += other.errors;
        reconnects += other.reconnects;
        return *this;
    }
};

/// PresenceStore on Redis 7 through two async hiredis connections of its own: commands and
/// pub/sub (one SUBSCRIBE to the prefix's presence channel). The broker's connections are not
/// shared: the store is usable without the broker and each keeps its own reconnect state.
///
/// add() / remove(): one script each, keyed by node id + session id; `done` tells whether it was
/// the user's first / last connection across the cluster, and the script announces the
/// transition to every other node, whose Hubs fan it out (PresenceHandler). While Redis is
/// unreachable the call answers false (nothing announced) and the connection is kept locally;
/// after the reconnect a sync script makes Redis hold exactly this node's connections and
/// announces the differences to every node, this one included.
///
/// Every beat renews this node's lease, records its channels (localChannels) and sweeps nodes
/// whose lease expired, in one script: exactly one node removes a dead node's connections and
/// announces member_removed once per user whose last connection went.
///
/// members() reads the shared roster (ordered by user id); while Redis is unreachable it answers
/// from this node's own connections.
///
/// Thread safety: none. Every call and callback on the core's thread (RedisEventLoop.h).
class RedisPresenceStore final : public PresenceStore {
public:
    RedisPresenceStore(Timer &timer, RedisPresenceOptions options);
    ~RedisPresenceStore() override;
    RedisPresenceStore(const RedisPresenceStore &) = delete;
    RedisPresenceStore &operator=(const RedisPresenceStore &) = delete;

    /// Connects both connections and starts the beat.
    void start();
    bool available() const;
    RedisPresenceCounters counters() const;

    void setHandler(PresenceHandler *handler) override;
    void add(std::string_view channel, const Member &member, std::string_view sessionId,
             std::function<void(bool firstConnection)> done) override;
    void remove(std::string_view channel, std::string_view userId, std::string_view sessionId,
                std::function<void(bool lastConnection)> done) override;
    void members(std::string_view channel, std::function<void(std::vector<Member>)> done) override;

    /// The channels of every node holding a live lease, by name: subscribers summed over the
    /// nodes, `published` the largest count of any node (each node counts what it delivered since
    /// its first local subscriber). As fresh as the last beat of each node. Error::NotConnected
    /// while Redis is unreachable.
    void clusterChannels(std::function<void(std::error_code, std::vector<ChannelStats>)> done);

    /// This node's subscriber count of `channel` went 0 -> 1 (`occupied`) or 1 -> 0. Recorded in
    /// Redis (P{channel}:occupancy, swept with the node's lease); `done(true)` when the channel's
    /// count across every live node crossed zero with it, so that exactly one node reports the
    /// change (Pusher's channel_occupied / channel_vacated). Calls for one channel must follow its
    /// transitions in order. While Redis is unreachable, or when the script fails, `done(true)`:
    /// the node reports its own change. `done` runs on the core's thread, possibly before this
    /// returns.
    void occupancy(std::string_view channel, bool occupied, std::function<void(bool crossed)> done);

private:
    struct Impl;
    std::unique_ptr<Impl> d;
};

} // namespace switchboard::redis
