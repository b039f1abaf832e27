#pragma once
// QtEngine: the Broker and PresenceStore a Qt-hosted Hub runs on, chosen by an engine string:
// in memory (one process) or on Redis (several gateways, Qt or switchboard-gateway, as one
// service; docs/scaling.md). The Redis connections are driven by the Qt event loop.

#include <switchboard/HistoryOptions.h>
#include <switchboard/IdempotencyTable.h>

#include <QString>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace switchboard {
class Broker;
class PresenceStore;
class Timer;
}

namespace switchboard::qtws {

struct QtEngineOptions {
    /// "memory", or "redis://[[user]:password@]HOST[:PORT][/DB]" (the Redis engine; the same
    /// URL as switchboard-gateway's --engine), or several such URLs separated by commas: the
    /// channels are sharded over them (docs/scaling.md, Sharding), same list and order as every
    /// other node.
    QString engine = QStringLiteral("memory");
    /// Redis only: prefix of every key and pub/sub channel. Gateways that share channels use the
    /// same one (switchboard-gateway's --engine-prefix, same default).
    QString enginePrefix = QStringLiteral("switchboard:");
    HistoryOptions history;                           ///< per channel-name prefix, both engines
    /// Idempotent publish: the window (both engines) and the key bound (memory engine; Redis
    /// expires its keys itself). Default 5 minutes, 100000 keys.
    IdempotencyOptions idempotency;
    std::chrono::milliseconds reconnectMax{5000};     ///< Redis: longest delay between reconnects
    std::chrono::milliseconds connectTimeout{2000};   ///< Redis: connect + login deadline
    /// Redis: this node's presence lease (switchboard-gateway's --node-ttl): a node silent this
    /// long is swept by another and its members removed (docs/scaling.md, Presence).
    std::chrono::milliseconds nodeTtl{15000};
};

/// Redis engine figures (all zero on the memory engine), summed over the shards; see RedisBrokerCounters.
struct QtEngineCounters {
    std::uint64_t errors = 0;         ///< connection failures and error replies
    std::uint64_t reconnects = 0;     ///< connections re-established after a loss
    std::uint64_t refused = 0;        ///< publishes and reads refused while Redis was unreachable (503)
    std::uint64_t received = 0;       ///< publications received over pub/sub
    std::uint64_t receivedRemote = 0; ///< ... of them published by another node
    std::uint64_t recovered = 0;      ///< publications read back from streams after a pub/sub loss
    std::uint64_t gaps = 0;           ///< times a channel's subscribers were told to recover (3007)
    std::size_t listening = 0;        ///< channels this node is subscribed to in Redis
    std::uint64_t duplicates = 0;     ///< publishes answered with an earlier one's offset (idempotency key)
};

/// Owns the engines of one Hub. Build the Hub on broker() and presence(), then call start():
/// \code
/// QtTimer timer;
/// auto engine = QtEngine::create(timer, {.engine = "redis://127.0.0.1:6379"}, &error);
/// Hub hub(timer, {}, engine->broker(), engine->presence());
/// engine->start();
/// \endcode
/// Presence: in memory on the memory engine; on Redis a RedisPresenceStore, so rosters span
/// every node (Qt gateways and switchboard-gateway) on the same Redis and prefix.
///
/// Ownership: `timer` must outlive the engine; the engine must outlive the Hub built on it.
/// Thread safety: none; create, use and destroy on the thread that drives the Hub (its event
/// loop runs the Redis sockets and calls the Hub from there).
class QtEngine {
public:
    /// Null with `error` set to a one-line reason when `options.engine` is neither "memory" nor
    /// a valid redis:// URL, or names Redis and this build has no Redis engine (hiredis was not
    /// found when Switchboard was built).
    static std::unique_ptr<QtEngine> create(Timer &timer, const QtEngineOptions &options, QString *error);
    ~QtEngine();
    QtEngine(const QtEngine &) = delete;
    QtEngine &operator=(const QtEngine &) = delete;

    Broker &broker();
    PresenceStore &presence();
    /// Starts connecting to Redis (nothing on memory). Until both connections are up, publishes
    /// and history reads fail with 503 (NotConnected).
    void start();

    bool isRedis() const;
    /// Memory: true. Redis: every connection (broker and presence, of every shard) is up.
    bool available() const;
    /// "memory", or the Redis URLs without credentials and the key prefix (for logs and UIs).
    QString description() const;
    QtEngineCounters counters() const;
    /// Memory: the channels whose history holds a publication not yet expired, subscribed or not
    /// (MemoryBroker::channelsWithHistory), for listings of every channel. Redis: empty (the
    /// history lives in Redis; listing it takes a SCAN, which switchboard-gateway's /api/channels
    /// does and the per-second refresh of a Qt Gateway's channel list does not).
    std::vector<std::string> channelsWithHistory() const;
    /// Whether this build has the Redis engine.
    static bool redisSupported();

private:
    QtEngine();
    struct Private;
    std::unique_ptr<Private> d;
};

} // namespace switchboard::qtws
