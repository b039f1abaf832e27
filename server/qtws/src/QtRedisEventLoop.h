#pragma once
// QtRedisEventLoop: drives the hiredis connections of the Redis engine from a Qt event loop.

#include <switchboard/redis/RedisEventLoop.h>

namespace switchboard::qtws {

/// A RedisEventLoop that watches each hiredis socket with two QSocketNotifiers (read, write) of
/// the calling thread's event loop, enabled and disabled by hiredis's addRead / delRead /
/// addWrite / delWrite hooks. A notifier's activation calls redisAsyncHandleRead / Write on that
/// thread, which is the thread driving the Hub (the engine's threading contract).
///
/// Why not <hiredis/adapters/qt.h>: its adapter object is neither owned nor freed when hiredis
/// frees the context (the engine reconnects with a new context after every loss, so one would
/// leak per reconnect), its destructor writes into the context after hiredis may have freed it,
/// and it would need moc run on a system header. Here the watcher belongs to the context and
/// goes with it (`cleanup`), also when hiredis frees the context inside one of its callbacks.
redis::RedisEventLoop qtRedisEventLoop();

} // namespace switchboard::qtws
