#pragma once
// RedisEventLoop: how the Redis engine is driven by the host's event loop.

#include <functional>

struct redisAsyncContext;

namespace switchboard::redis {

/// Attaches a new hiredis async context to the host's event loop by setting its `ev` hooks
/// (addRead, delRead, addWrite, delWrite, cleanup), as hiredis's own adapters do (Qt:
/// <hiredis/adapters/qt.h>; Asio: server/asio/src/RedisAsioAdapter.h). Returns false when it
/// could not attach (the engine then frees the context and retries later).
///
/// Threading contract: the engine calls this on the thread that drives the core (or with the
/// core lock held). The readiness callbacks the hooks arrange must call redisAsyncHandleRead /
/// redisAsyncHandleWrite on that same thread (or with that same lock held): hiredis then calls
/// the engine, which calls the core's BrokerHandler. `cleanup` runs when the context is freed;
/// after it nothing may touch the context.
using RedisEventLoop = std::function<bool(redisAsyncContext *context)>;

} // namespace switchboard::redis
