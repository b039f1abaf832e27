#pragma once
// CoreHost: the core objects (Hub, ServerProtocol, timer) and the one mutex that serializes every
// call into them. Sessions on any io thread call in through locked(); nothing in here writes to
// a socket (Session::send only queues), so the lock is never held across I/O.

#include "Metrics.h"

#include "switchboard/asio/GatewayConfig.h"
#include "switchboard/asio/TokenVerifier.h"

#include <switchboard/Hub.h>
#include <switchboard/MemoryBroker.h>
#include <switchboard/MemoryPresenceStore.h>
#include <switchboard/PusherProtocol.h>
#include <switchboard/ServerProtocol.h>
#include <switchboard/asio_support/AsioTimer.h>

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <system_error>
#include <vector>

#ifdef SWITCHBOARD_HAVE_REDIS
namespace switchboard::redis {
class RedisShards;
}
#endif

namespace switchboard::asio {

/// Availability of the engine's shards: `total` (0 for the memory engine) and those down.
struct EngineShards {
    std::size_t total = 0;
    std::vector<std::size_t> down;
};

/// The gateway's token check for a `connect`: no token is anonymous (accepted), a valid one is
/// its principal, an expired one is refused as expired (3004), anything else refused (3501).
ConnectDecision tokenDecision(const TokenVerifier &tokens, std::string_view token);

class CoreHost {
public:
    /// Installs the connect authenticator (tokens) and the authorizer (token channel patterns).
    /// Builds the engine `config.engine` names (memory, or Redis: connecting starts at once).
    /// Throws std::runtime_error for an engine URL it cannot use.
    CoreHost(boost::asio::io_context &ioc, const GatewayConfig &config, const TokenVerifier &tokens, Metrics &metrics);
    ~CoreHost();

    /// Runs `f` with the core mutex held. `f` may call Hub / ServerProtocol; it must not block.
    template <class F>
    decltype(auto) locked(F &&f)
    {
        std::lock_guard lock(m_mutex);
        return f();
    }

    /// Only inside locked().
    Hub &hub() { return *m_hub; }
    ServerProtocol &protocol() { return *m_protocol; }
    /// The Pusher protocol 7 adapter; null when no --pusher-app is configured.
    PusherProtocol *pusher() { return m_pusher.get(); }
    Timer &timer() { return m_timer; }
    /// The memory engine's broker; null with another engine.
    MemoryBroker *memoryBroker() { return m_memoryBroker.get(); }
    /// Only inside locked(): false while the engine cannot store every channel's publications
    /// (Redis, or one of its shards, unreachable).
    bool engineAvailable() const;
    /// Only inside locked(): the Redis shards that are down (empty with the memory engine).
    EngineShards engineShards() const;
    /// Only inside locked(): Prometheus lines of the engine (nothing for the memory engine).
    void renderEngineMetrics(std::string &out) const;
    /// Only inside locked(): the channels of the deployment: this node's (memory engine), or
    /// every live node's from Redis. `done` runs once, inside locked() (now or later, on an io
    /// thread); an error (Redis unreachable) comes with an empty list.
    void channels(std::function<void(std::error_code, std::vector<ChannelStats>)> done);
    /// Only inside locked(): the channels that hold history, subscribed or not: the memory
    /// broker's (every one), or those whose stream is in Redis, found by a bounded SCAN
    /// (RedisBroker::channelsWithHistory with the default HistoryChannelScan; `truncated` when it stopped at
    /// a bound). `done` runs once, inside locked() (now or later, on an io thread); an error
    /// (Redis unreachable) comes with an empty list.
    void channelsWithHistory(std::function<void(std::error_code, std::vector<std::string> channels, bool truncated)> done);
    /// Only inside locked(): this node's subscriber count of `channel` went 0 -> 1 (`occupied`)
    /// or 1 -> 0 (the Hub's channelOccupied / channelVacated). `done(true)` when the deployment's
    /// count crossed zero with it: at once with the memory engine, after Redis recorded it with
    /// Redis (RedisPresenceStore::occupancy). `done` runs once, inside locked().
    void channelOccupancy(std::string_view channel, bool occupied, std::function<void(bool crossed)> done);

private:
    std::mutex m_mutex;
    asiosupport::AsioTimer m_timer; // callbacks under m_mutex
    Metrics &m_metrics;
    std::unique_ptr<MemoryBroker> m_memoryBroker; ///< the engine's broker; outlives the Hub
#ifdef SWITCHBOARD_HAVE_REDIS
    std::unique_ptr<redis::RedisShards> m_redis; ///< the engine's broker and presence; outlive the Hub
#endif
    MemoryPresenceStore m_presence;
    std::unique_ptr<Hub> m_hub;
    std::unique_ptr<ServerProtocol> m_protocol;
    std::unique_ptr<PusherProtocol> m_pusher;
};

} // namespace switchboard::asio
