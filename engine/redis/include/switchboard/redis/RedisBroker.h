#pragma once
// RedisBroker: the core Broker on Redis, so several gateways behave as one service. Publications
// are numbered, stored and announced to every node by one server-side script; history lives in
// Redis Streams that any node reads. docs/scaling.md describes the topology and failure semantics.

#include "switchboard/redis/RedisConnectionOptions.h"

#include <switchboard/Broker.h>
#include <switchboard/HistoryOptions.h>
#include <switchboard/Timer.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace switchboard::redis {

/// The connection settings (server, event loop, TLS connector, timeouts, log, round-trip
/// observer: RedisConnectionOptions.h), and the broker's own.
struct RedisBrokerOptions : RedisConnectionOptions {
    /// Prefix of every key and pub/sub channel: deployments sharing one Redis use different ones.
    std::string prefix = "switchboard:";
    /// Per channel-name prefix, longest wins, as MemoryBroker: size trims the stream (MAXLEN ~,
    /// reads never return more than `size`), the TTL drops older entries from reads and expires
    /// the stream's keys that long after the last publication. `maxStreams` does not apply: size
    /// Redis with a maxmemory policy instead.
    HistoryOptions history;
    /// This node's id; empty: a random one. The brokers of one node's shards share one id.
    std::string nodeId;
    /// How long an idempotency key is remembered in Redis (Broker::publish), for every node
    /// sharing the prefix; 0: keys are ignored. Redis expires them (no bound of its own: size
    /// Redis with a maxmemory policy).
    std::chrono::milliseconds idempotencyWindow{std::chrono::minutes(5)};
};

struct RedisBrokerCounters {
    std::uint64_t errors = 0;         ///< connection failures and error replies
    std::uint64_t reconnects = 0;     ///< connections re-established after a loss
    std::uint64_t refused = 0;        ///< publishes and reads answered NotConnected (503): Redis
                                      ///< unreachable, or the connection lost with them in flight
    std::uint64_t received = 0;       ///< publications received over pub/sub
    std::uint64_t receivedRemote = 0; ///< ... of them published by another node
    std::uint64_t recovered = 0;      ///< publications read back from streams after a pub/sub loss
    std::uint64_t gaps = 0;           ///< times a channel's subscribers were told to recover
    std::size_t listening = 0;        ///< channels this node is subscribed to in Redis
    std::uint64_t duplicates = 0;     ///< publishes answered with the position of an earlier one
                                      ///< with the same idempotency key (by any node)

    /// Adds `other` field by field (RedisShards sums its shards'). A field added above is added
    /// here too; tests/cluster/tst_redisenginecounters.cpp fails when one is not.
    RedisBrokerCounters &operator+=(const RedisBrokerCounters &other)
    {
        errors += other.errors;
        reconnects += other.reconnects;
        refused += other.refused;
        received += other.received;
        receivedRemote += other.receivedRemote;
        recovered += other.recovered;
        gaps += other.gaps;
        listening += other.listening;
        duplicates += other.duplicates;
        return *this;
    }
};

/// Bounds of a listing of the channels whose history lives in Redis (RedisBroker::
/// channelsWithHistory): SCAN walks the keyspace `scanCount` keys per call, one call per round
/// trip, so Redis and the node's event loop are never held for long; the walk stops after
/// `maxChannels` channels or `maxCalls` calls (then the listing is marked truncated).
struct HistoryChannelScan {
    std::size_t maxChannels = 10000; ///< channels listed at most (the rest: truncated)
    std::size_t scanCount = 1000;    ///< SCAN ... COUNT: keys Redis examines per call
    std::size_t maxCalls = 1000;     ///< SCAN calls at most (scanCount * maxCalls keys examined)
};

/// A listing of channels with history, sorted by name, without duplicates.
struct HistoryChannelList {
    std::vector<std::string> channels;
    /// The walk stopped at a bound before it had seen every key: more channels may hold history.
    bool truncated = false;
};

/// Broker on Redis 7 through two async hiredis connections: commands (pipelined publishes and
/// history reads) and pub/sub (SUBSCRIBE only to channels with local subscribers).
///
/// publish(): one EVALSHA (EVAL when Redis lost the script) that creates the epoch when the
/// channel has none, increments the offset, XADDs to the channel's stream, sets the TTL and
/// PUBLISHes; `done` reports the stored position after Redis replied, or Error::NotConnected
/// (503) while Redis is unreachable: nothing is acknowledged unless stored. Channels without
/// history and binary publications are only PUBLISHed (offset 0). Every delivery, including this
/// node's own publications, comes back through pub/sub, so each node delivers a channel in
/// offset order.
///
/// history(): one script reads epoch, top and entries atomically, with MemoryBroker's `complete`
/// semantics. A read for a channel whose SUBSCRIBE is not yet confirmed waits for it, so a join
/// misses nothing published between its read and the first delivery.
///
/// After the pub/sub connection comes back, each listened channel is resubscribed and what it
/// missed is read back from its stream and delivered in order; when that is impossible (stream
/// evicted, expired or a new epoch) the handler's onGap() tells subscribers to recover.
///
/// Thread safety: none. Every call, and every callback (`done`, the handler, the event loop's
/// readiness callbacks), on the thread that drives the Hub (or under its lock).
class RedisBroker final : public Broker {
public:
    RedisBroker(Timer &timer, RedisBrokerOptions options);
    ~RedisBroker() override;
    RedisBroker(const RedisBroker &) = delete;
    RedisBroker &operator=(const RedisBroker &) = delete;

    /// Starts connecting (both connections); publishes fail with NotConnected until ready.
    void start();
    /// Both connections are up.
    bool available() const;
    RedisBrokerCounters counters() const;
    /// Random id of this node, carried in every publication it makes.
    const std::string &nodeId() const;

    void setHandler(BrokerHandler *handler) override;
    void subscribe(std::string_view channel) override;
    void unsubscribe(std::string_view channel) override;
    void publish(Publication publication,
                 std::function<void(std::error_code, StreamPosition)> done) override;
    void history(std::string_view channel, const HistoryQuery &query,
                 std::function<void(HistoryResult)> done) override;
    /// Duplicates this node's publishes met (counters().duplicates); keys are never evicted here.
    IdempotencyCounters idempotency() const override;

    /// The channels whose history stream exists in this Redis under this prefix (keys
    /// `<prefix>{<channel>}:stream`: a stream's keys expire with its TTL), subscribed on any node
    /// or not, found by `SCAN cursor MATCH <prefix>{*}:stream COUNT n TYPE stream` within
    /// `limits`. `done` runs once, on the core's thread: at once with Error::NotConnected while
    /// Redis is unreachable, otherwise after the last SCAN reply (NotConnected when the connection
    /// was lost meanwhile, Internal when Redis answered with an error).
    void channelsWithHistory(const HistoryChannelScan &limits,
                             std::function<void(std::error_code, HistoryChannelList)> done);

private:
    struct Impl;
    std::unique_ptr<Impl> d;
};

} // namespace switchboard::redis
