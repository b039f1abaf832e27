#pragma once
// RedisTlsConnector: rediss:// for the Redis engine. hiredis 0.14 speaks plaintext only, so each
// hiredis connection goes through an in-process tunnel: the tunnel makes the TLS connection to
// Redis (SNI, certificate and host name verified), then offers hiredis a unix socket in a private
// directory, accepts exactly one connection on it from this process, and relays bytes both ways.

#include <switchboard/redis/RedisConnector.h>

#include <boost/asio/io_context.hpp>

#include <mutex>
#include <string>

namespace switchboard::asio {

struct RedisTlsOptions {
    /// PEM file of the CAs that may sign the Redis certificate; empty: the system's trust store.
    std::string caFile;
    /// Client certificate chain and key (PEM) for Redis with `tls-auth-clients yes`; both or none.
    std::string certFile;
    std::string keyFile;
};

/// Builds the connector (one TLS context shared by every connection). Throws std::runtime_error
/// naming the file when a CA, certificate or key cannot be loaded.
///
/// Each dial: resolve, TCP connect, TLS handshake (TLS 1.2 at least) with the URL's host as SNI
/// (names only) and as the name the certificate must carry (DNS name or IP address), then the
/// unix socket for hiredis. A failure at any step is reported as the dial's error (e.g. "TLS
/// handshake with 127.0.0.1:6380 failed: certificate verify failed (unable to get local issuer
/// certificate)"); plaintext is never tried. A connection to the unix socket from another process
/// (SO_PEERCRED) is refused and ends the tunnel. The tunnel closes when either side closes or when
/// the engine releases its handle.
///
/// Threading: the tunnels run on strands of `ioc`; `done` is called with `coreMutex` held, as the
/// engine requires (RedisConnector.h). Releasing a handle only posts the close.
redis::RedisConnector redisTlsConnector(boost::asio::io_context &ioc, std::mutex &coreMutex, const RedisTlsOptions &options);

} // namespace switchboard::asio
