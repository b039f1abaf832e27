#pragma once
// RedisConnector: how the Redis engine reaches a server it cannot reach with a plain TCP connect
// of its own, e.g. rediss:// (TLS), which the hiredis this engine builds against (0.14) cannot
// speak. The host opens the transport (TLS handshake, certificate verification) and hands hiredis
// a local endpoint that relays to it.

#include "switchboard/redis/RedisUrl.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace switchboard::redis {

/// Where hiredis connects instead of the URL's host and port: a unix socket path when
/// `unixPath` is set, otherwise `host`:`port`.
struct RedisDialTarget {
    std::string unixPath;
    std::string host;
    std::uint16_t port = 0;
    /// Why the transport closed, once it did (e.g. "TLS: tlsv13 alert certificate required"),
    /// else empty; may be empty. Called on the core's thread when hiredis reports the connection
    /// lost; the engine appends it to the reason it logs.
    std::function<std::string()> closeReason;
};

/// Result of one dial: `error` empty and `target` set on success; otherwise `error` is a
/// one-line reason (it becomes the connection's failure reason in the log, e.g. "TLS handshake
/// with 10.0.0.5:6380 failed: certificate verify failed (unable to get local issuer
/// certificate)").
using RedisDialDone = std::function<void(const std::string &error, const RedisDialTarget &target)>;

/// Opens the transport for one connection attempt to `url` and reports through `done`, exactly
/// once unless the attempt is cancelled. Returns a handle that owns the transport: the engine
/// holds it as long as the hiredis connection made through it lives; releasing it closes the
/// transport and cancels a pending dial (`done` is then not called). The engine's connect timeout
/// covers the dial.
///
/// Threading contract (as RedisEventLoop.h): called on the thread that drives the core (or with
/// the core lock held); `done` must be called the same way, and never from inside the call.
/// Releasing the handle must not block.
using RedisConnector = std::function<std::shared_ptr<void>(const RedisUrl &url, RedisDialDone done)>;

} // namespace switchboard::redis
