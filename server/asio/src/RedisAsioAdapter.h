#pragma once
// RedisAsioAdapter: drives hiredis connections of the Redis engine from the gateway's io_context.

#include <switchboard/redis/RedisEventLoop.h>

#include <boost/asio/io_context.hpp>

#include <mutex>

namespace switchboard::asio {

/// A RedisEventLoop that registers each hiredis socket with a posix::stream_descriptor. Read
/// readiness is awaited (async_wait) and drained while bytes are available; writes are tried at
/// once (posted) and only awaited when the socket buffer is full. Every call into hiredis holds
/// `coreMutex`, the lock that serializes the core (CoreHost), so broker callbacks run under it
/// like every other call into the Hub. The engine calls the hooks with that lock already held.
redis::RedisEventLoop asioRedisEventLoop(boost::asio::io_context &ioc, std::mutex &coreMutex);

} // namespace switchboard::asio
