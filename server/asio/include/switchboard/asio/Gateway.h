#pragma once
// Gateway: the headless Switchboard server. One port serves WebSocket (/ws), the HTTP API
// (/api/...), Server-Sent Events (/sse), /metrics, /healthz and static files. docs/gateway.md
// describes the configuration, the HTTP API and the threading model.

#include "switchboard/asio/GatewayConfig.h"

#include <cstdint>
#include <memory>
#include <string>

namespace switchboard::asio {

/// Owns the io_context, its threads, the core Hub / ServerProtocol and every connection.
///
/// Thread safety: construct, listen() and run() from one thread; stop() from any thread or a
/// signal-free context (run() also stops on SIGINT / SIGTERM).
class Gateway {
public:
    /// Throws std::runtime_error for unusable settings (unreadable TLS files).
    explicit Gateway(GatewayConfig config);
    ~Gateway();
    Gateway(const Gateway &) = delete;
    Gateway &operator=(const Gateway &) = delete;

    /// Binds the listening socket; returns the port (useful with port 0). Throws
    /// boost::system::system_error when the address cannot be bound.
    std::uint16_t listen();

    /// Serves until stop() or a signal: then stops accepting, closes every session with 3000
    /// (Shutdown), waits up to the drain timeout for outboxes to flush. Returns 0.
    int run();

    /// Starts the graceful shutdown described at run(). Idempotent.
    void stop();

    /// The API key in use (configured, or made at construction).
    const std::string &apiKey() const;
    /// True when the API key / token secret were made up at start (development mode).
    bool generatedApiKey() const;
    bool generatedTokenSecret() const;
    /// A token for user "dev" allowed on every channel, valid 24 hours.
    std::string developmentToken() const;

private:
    struct Impl;
    std::unique_ptr<Impl> d;
};

} // namespace switchboard::asio
