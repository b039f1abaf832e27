#pragma once
// RedisConnection: one async hiredis connection that logs in, keeps itself alive and reconnects
// with backoff. The broker and the presence store hold two each: one for commands, one in
// subscribe mode.

#include "switchboard/redis/RedisConnectionOptions.h"

#include <switchboard/Timer.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

struct redisReply;

namespace switchboard::redis::detail {

/// Thread safety: none; every call and every callback on the core's thread (RedisEventLoop.h).
/// Callbacks may call back into the connection (send commands) but must not destroy it.
class RedisConnection {
public:
    /// A command's reply; null when the connection was lost before the reply came.
    using ReplyHandler = std::function<void(const redisReply *reply)>;

    /// `name` labels its log lines ("redis commands redis://host:port: ..."). `subscriber`: the
    /// connection is used in subscribe mode and sends no PING (hiredis 0.14 cannot match its
    /// reply there).
    RedisConnection(Timer &timer, RedisConnectionOptions options, std::string name, bool subscriber);
    ~RedisConnection();
    RedisConnection(const RedisConnection &) = delete;
    RedisConnection &operator=(const RedisConnection &) = delete;

    /// Connected and logged in (AUTH, SELECT done).
    std::function<void()> onReady;
    /// The connection was lost (or failed to log in); a reconnect is scheduled. Not called for
    /// failed connection attempts that never became ready.
    std::function<void(const std::string &reason)> onLost;
    /// Subscriber connections: every pub/sub reply (subscribe / unsubscribe confirmations and
    /// messages), as the array Redis sent.
    std::function<void(const redisReply &reply)> onPush;

    void start();
    bool ready() const;
    /// Sends a command (arguments are binary-safe). False when not ready: nothing was sent and
    /// `reply` will not be called. Otherwise `reply` is called exactly once.
    bool command(const std::vector<std::string_view> &args, ReplyHandler reply);
    /// Subscriber connections: SUBSCRIBE / UNSUBSCRIBE one channel; replies go to onPush.
    bool subscribe(std::string_view channel);
    bool unsubscribe(std::string_view channel);

    std::uint64_t reconnects() const;
    std::uint64_t errors() const;

private:
    struct Impl;
    std::unique_ptr<Impl> d;
};

} // namespace switchboard::redis::detail
