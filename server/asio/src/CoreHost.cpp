#include "CoreHost.h"

#include "RequestSigner.h"

#include "Log.h"

#include <switchboard/TokenAuthorizer.h>

#ifdef SWITCHBOARD_HAVE_REDIS
#include "RedisAsioAdapter.h"
#include "RedisTlsConnector.h"

#include <switchboard/redis/RedisShards.h>
#endif

#include <chrono>
#include <stdexcept>

namespace switchboard::asio {

namespace {

HubOptions hubOptions(const GatewayConfig &c)
{
    HubOptions o;
    o.outbox.maxFrames = c.outboxFrames;
    o.outbox.maxBytes = c.outboxBytes;
    o.slowConsumer = c.disconnectSlowClients ? SlowConsumerPolicy::DisconnectClient : SlowConsumerPolicy::DropMessage;
    o.channelPolicies = c.channelPolicies;
    o.maxChannelsPerSession = c.maxChannelsPerSession;
    o.authorizationTimeout = c.authorizationTimeout;
    return o;
}

ServerProtocolOptions protocolOptions(const GatewayConfig &c)
{
    ServerProtocolOptions o;
    o.limits.maxFrameBytes = c.maxFrameBytes;
    o.limits.opsPerSecond = c.messagesPerSecond;
    o.limits.opsBurst = c.messagesBurst;
    o.limits.pingInterval = c.wsPingInterval; // the client's heartbeat matches the server's pings
    o.limits.tokenRefreshHint = c.tokenRefreshHint;
    // The connect proxy answers 3008 at its own timeout; the core's deadline is only a backstop.
    if (!c.connectProxy.empty())
        o.limits.connectAuthTimeout = c.connectProxyTimeout + std::chrono::seconds(1);
    return o;
}

MemoryBrokerOptions brokerOptions(const GatewayConfig &c)
{
    MemoryBrokerOptions o;
    o.history.rules = c.history;
    o.idempotency.window = c.idempotencyWindow;
    o.idempotency.maxKeys = c.idempotencyMaxKeys;
    o.log = [](std::string_view message) { log::warn("broker: ", message); };
    return o;
}

} // namespace

ConnectDecision tokenDecision(const TokenVerifier &tokens, std::string_view token)
{
    ConnectDecision decision;
    if (token.empty())
        return decision; // anonymous: public channels only
    const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch()).count();
    TokenCheck check = tokens.verify(token, now);
    decision.accepted = check.valid;
    decision.reason = std::move(check.reason);
    decision.principal = std::move(check.principal);
    decision.expiresAtMs = check.expiresAtMs;
    decision.expired = check.expired; // close 3004: fetch a fresh token, not 3501
    return decision;
}

CoreHost::CoreHost(boost::asio::io_context &ioc, const GatewayConfig &config, const TokenVerifier &tokens, Metrics &metrics)
    : m_timer(ioc.get_executor(), &m_mutex), m_metrics(metrics)
{
    Broker *broker = nullptr;
    PresenceStore *presence = &m_presence;
    if (config.engine == "memory") {
        m_memoryBroker = std::make_unique<MemoryBroker>(m_timer, brokerOptions(config));
        broker = m_memoryBroker.get();
    } else {
#ifdef SWITCHBOARD_HAVE_REDIS
        redis::RedisShardsOptions o;
        std::string problem;
        if (!redis::RedisUrl::parseList(config.engine, o.urls, problem))
            throw std::runtime_error("--engine: " + problem);
        o.prefix = config.enginePrefix;
        o.history.rules = config.history;
        o.idempotencyWindow = config.idempotencyWindow;
        o.eventLoop = asioRedisEventLoop(ioc, m_mutex);
        bool tls = false;
        for (const redis::RedisUrl &url : o.urls)
            tls = tls || url.tls;
        if (tls) // hiredis 0.14 has no TLS: each rediss:// connection goes through a TLS tunnel
            o.connector = redisTlsConnector(ioc, m_mutex, {config.engineTlsCa, config.engineTlsCert, config.engineTlsKey});
        o.backoffMax = config.engineReconnectMax;
        o.nodeTtl = config.nodeTtl;
        // Rate-limited: a peer writing entries this node cannot read (a newer version in a mixed
    // cluster) costs one line per publication otherwise.
    o.log = [](std::string_view message) { log::limited(LogLevel::Warn, "engine", message); };
        o.onRoundTrip = [&metrics](std::chrono::microseconds rtt) {
            metrics.engineRoundTripSeconds.observe(std::chrono::duration<double>(rtt).count());
        };
        // Called from the presence beat, on a timer callback: the core mutex is held.
        o.localChannels = [this] { return m_hub ? m_hub->channels() : std::vector<ChannelStats>{}; };
        for (std::size_t shard = 0; shard < o.urls.size(); ++shard) {
            log::info("engine: Redis at ", o.urls[shard].display(), o.urls.size() > 1 ? " (shard " + std::to_string(shard) + ")" : std::string(),
                      ", key prefix '", config.enginePrefix, "'",
                      o.urls[shard].tls ? ", TLS verified against " + (config.engineTlsCa.empty() ? std::string("the system trust store") : config.engineTlsCa) : std::string());
        }
        m_redis = std::make_unique<redis::RedisShards>(m_timer, std::move(o));
        broker = &m_redis->broker();
        presence = &m_redis->presence();
        log::info("engine: node ", m_redis->nodeId(), ", presence lease ", config.nodeTtl.count(), " s");
#else
        throw std::runtime_error("--engine " + config.engine + ": this build has no Redis engine (hiredis was not found)");
#endif
    }
    m_hub = std::make_unique<Hub>(m_timer, hubOptions(config), *broker, *presence);
    m_protocol = std::make_unique<ServerProtocol>(*m_hub, m_timer, protocolOptions(config));
    if (!config.pusherApps.empty()) {
        PusherOptions pusher;
        pusher.activityTimeout = config.pusherActivityTimeout;
        pusher.clientEventsPerSecond = config.pusherClientEventsPerSecond;
        pusher.clientEventBurst = config.pusherClientEventsPerSecond;
        pusher.opsPerSecond = config.messagesPerSecond;
        pusher.opsBurst = config.messagesBurst;
        m_pusher = std::make_unique<PusherProtocol>(*m_hub, m_timer, config.pusherApps, hmacSha256, pusher);
        for (const PusherApp &app : config.pusherApps)
            log::info("pusher: app ", app.id, " on /app/", app.key, " (channels pusher/", app.id, "/...)");
    }
#ifdef SWITCHBOARD_HAVE_REDIS
    if (m_redis)
        locked([&] { m_redis->start(); });
#endif

    m_protocol->setConnectAuthenticator([&tokens](std::string_view token) { return tokenDecision(tokens, token); });
    // Private and presence joins: the core's one token check (patterns; presence member = `sub`).
    m_hub->setAuthorizer(authorizeByToken);
}

CoreHost::~CoreHost()
{
    // The Hub lets go of the broker first; the Redis connections are freed under the lock, since
    // their event-loop handlers take it.
    std::lock_guard lock(m_mutex);
    m_pusher.reset();
    m_protocol.reset();
    m_hub.reset();
#ifdef SWITCHBOARD_HAVE_REDIS
    m_redis.reset();
#endif
}

bool CoreHost::engineAvailable() const
{
#ifdef SWITCHBOARD_HAVE_REDIS
    if (m_redis)
        return m_redis->available();
#endif
    return true;
}

EngineShards CoreHost::engineShards() const
{
    EngineShards out;
#ifdef SWITCHBOARD_HAVE_REDIS
    if (m_redis) {
        for (std::size_t shard = 0; shard < m_redis->shardCount(); ++shard) {
            if (!m_redis->shardAvailable(shard))
                out.down.push_back(shard);
        }
        out.total = m_redis->shardCount();
    }
#endif
    return out;
}

void CoreHost::channels(std::function<void(std::error_code, std::vector<ChannelStats>)> done)
{
#ifdef SWITCHBOARD_HAVE_REDIS
    if (m_redis)
        return m_redis->clusterChannels(std::move(done));
#endif
    done({}, m_hub->channels());
}

void CoreHost::channelsWithHistory(std::function<void(std::error_code, std::vector<std::string>, bool)> done)
{
#ifdef SWITCHBOARD_HAVE_REDIS
    if (m_redis) {
        // At most 10000 channels, 1000 keys examined per SCAN round trip, 1000 round trips.
        return m_redis->channelsWithHistory(redis::HistoryChannelScan{},
                                            [done = std::move(done)](std::error_code error, redis::HistoryChannelList list) {
                                                done(error, std::move(list.channels), list.truncated);
                                            });
    }
#endif
    done({}, m_memoryBroker ? m_memoryBroker->channelsWithHistory() : std::vector<std::string>{}, false);
}

void CoreHost::channelOccupancy(std::string_view channel, bool occupied, std::function<void(bool)> done)
{
#ifdef SWITCHBOARD_HAVE_REDIS
    if (m_redis)
        return m_redis->occupancy(channel, occupied, std::move(done));
#endif
    done(true);
}

void CoreHost::renderEngineMetrics(std::string &out) const
{
#ifdef SWITCHBOARD_HAVE_REDIS
    if (!m_redis)
        return;
    // Counters are summed over the shards (one shard: the broker's and store's own figures);
    // availability and refusals are also given per shard.
    const redis::RedisBrokerCounters c = m_redis->brokerCounters();
    const redis::RedisPresenceCounters p = m_redis->presenceCounters();
    const auto line = [&out](const char *name, const char *type, const char *help, std::uint64_t value) {
        out += "# HELP ";
        out += name;
        out += ' ';
        out += help;
        out += "\n# TYPE ";
        out += name;
        out += ' ';
        out += type;
        out += '\n';
        out += name;
        out += ' ';
        out += std::to_string(value);
        out += '\n';
    };
    line("switchboard_engine_up", "gauge", "1 while every Redis connection (broker and presence, every shard) is up", engineAvailable() ? 1 : 0);
    line("switchboard_engine_errors_total", "counter", "Redis connection failures and error replies", c.errors);
    line("switchboard_engine_reconnects_total", "counter", "Redis connections re-established after a loss", c.reconnects);
    line("switchboard_engine_refused_total", "counter", "publishes and reads refused while Redis was unreachable (503)", c.refused);
    line("switchboard_engine_received_total", "counter", "publications received from Redis pub/sub", c.received);
    line("switchboard_engine_received_remote_total", "counter", "publications received from other nodes", c.receivedRemote);
    line("switchboard_engine_recovered_total", "counter", "publications read back from streams after a pub/sub loss", c.recovered);
    line("switchboard_engine_gaps_total", "counter", "channels whose subscribers were told to recover (close 3007)", c.gaps);
    line("switchboard_engine_listening_channels", "gauge", "channels this node is subscribed to in Redis", c.listening);
    line("switchboard_engine_presence_script_errors_total", "counter", "presence scripts answered with an error or a malformed reply", p.scriptErrors);
    line("switchboard_engine_presence_errors_total", "counter", "presence connection failures", p.errors);
    line("switchboard_engine_presence_reconnects_total", "counter", "presence connections re-established after a loss", p.reconnects);
    line("switchboard_engine_presence_syncs_total", "counter", "times this node rewrote its presence in Redis (connect, reconnect, lost lease)", p.syncs);
    line("switchboard_engine_presence_remote_events_total", "counter", "member_added / member_removed heard from other nodes", p.remoteEvents);
    line("switchboard_engine_nodes_expired_total", "counter", "dead nodes this node swept (lease expired; members removed)", p.nodesExpired);
    line("switchboard_engine_shards", "gauge", "Redis shards configured (--engine URLs)", m_redis->shardCount());
    const auto perShard = [&](const char *name, const char *type, const char *help, auto value) {
        out += "# HELP ";
        out += name;
        out += ' ';
        out += help;
        out += "\n# TYPE ";
        out += name;
        out += ' ';
        out += type;
        out += '\n';
        for (std::size_t shard = 0; shard < m_redis->shardCount(); ++shard) {
            out += name;
            out += "{shard=\"" + std::to_string(shard) + "\"} ";
            out += std::to_string(value(shard));
            out += '\n';
        }
    };
    perShard("switchboard_engine_shard_up", "gauge", "1 while the shard's Redis connections (broker and presence) are up",
             [this](std::size_t shard) -> std::uint64_t { return m_redis->shardAvailable(shard) ? 1 : 0; });
    perShard("switchboard_engine_shard_refused_total", "counter", "publishes and reads refused on the shard's channels while its Redis was unreachable (503)",
             [this](std::size_t shard) -> std::uint64_t { return m_redis->brokerCounters(shard).refused; });
    m_metrics.engineRoundTripSeconds.render(out, "switchboard_engine_roundtrip_seconds", "Redis command round trip");
#else
    (void)out;
#endif
}

} // namespace switchboard::asio
