#pragma once
// RedisConnectionOptions: how the Redis engine reaches one Redis server. RedisBrokerOptions and
// RedisPresenceOptions are these plus their own settings; each store opens its connections
// (commands, pub/sub) with them.

#include "switchboard/redis/RedisConnector.h"
#include "switchboard/redis/RedisEventLoop.h"
#include "switchboard/redis/RedisUrl.h"

#include <chrono>
#include <functional>
#include <string_view>

namespace switchboard::redis {

struct RedisConnectionOptions {
    /// Server, credentials (AUTH user password) and database (SELECT) of every connection.
    RedisUrl url;
    /// Attaches hiredis to the host's loop; required.
    RedisEventLoop eventLoop;
    /// Opens the transport of rediss:// URLs (TLS); required for them, unused otherwise. Without
    /// it a rediss:// connection never connects (the reason is logged); plaintext is never tried.
    RedisConnector connector;
    std::chrono::milliseconds connectTimeout{2000};
    std::chrono::milliseconds backoffMin{100};  ///< reconnect delay after the first failure, doubling
    std::chrono::milliseconds backoffMax{5000};
    /// Liveness of command connections: a PING this often; no reply within 3 intervals drops
    /// the connection (a Redis that stopped answering fails pending commands instead of hanging
    /// them). Subscriber connections send none.
    std::chrono::milliseconds pingInterval{1000};
    /// One-line messages: connection changes, and the store's own (handler and script failures).
    /// May be empty. Called on the core's thread.
    std::function<void(std::string_view message)> log;
    /// Round trip of every command reply (metrics). May be empty. Called on the core's thread.
    std::function<void(std::chrono::microseconds)> onRoundTrip;
};

} // namespace switchboard::redis
