#pragma once
// TcpConnections: the budget of accepted TCP connections (HTTP keep-alive, before an upgrade,
// SSE, WebSocket). Every accepted socket holds a TcpSlot until it is closed; at the limit new
// connections are refused. Near the limit, the connection that has waited longest for a request
// without sending a byte of it (an idle keep-alive or silent new connection) is asked to close,
// so idle sockets cannot lock out real clients.

#include "Metrics.h"

#include "switchboard/asio/GatewayConfig.h"

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <utility>

namespace switchboard::asio {

class TcpConnections;

/// A connection's place in the budget: released when destroyed. Move-only; empty when refused.
class TcpSlot {
public:
    TcpSlot() = default;
    TcpSlot(TcpSlot &&other) noexcept : m_owner(std::exchange(other.m_owner, nullptr)) {}
    TcpSlot &operator=(TcpSlot &&other) noexcept;
    ~TcpSlot();
    explicit operator bool() const { return m_owner != nullptr; }

private:
    friend class TcpConnections;
    explicit TcpSlot(TcpConnections *owner) : m_owner(owner) {}
    TcpConnections *m_owner = nullptr;
};

/// A connection that may be closed to make room while it waits for a request.
class IdleConnection {
public:
    virtual ~IdleConnection() = default;
    /// Closes the connection if it is still waiting without a byte of a request. Called from any
    /// thread (the listener's); implementations post to their own strand.
    virtual void evictIfIdle() = 0;
};

/// Thread-safe. Outlives every TcpSlot (owned by ServerContext).
class TcpConnections {
public:
    /// `limit` connections; the gauge switchboard_tcp_connections lives in `metrics`.
    TcpConnections(std::size_t limit, Metrics &metrics);

    std::size_t limit() const { return m_limit; }
    std::size_t count() const { return m_count.load(std::memory_order_relaxed); }

    /// A slot for a newly accepted connection, or an empty one at the limit.
    TcpSlot tryAcquire();
    /// At or above the high-water mark (the limit minus a tenth of it, at least one slot):
    /// time to close an idle connection.
    bool nearLimit() const { return count() >= m_highWater; }

    /// Registers a connection waiting for a request; returns a ticket for removeIdle().
    std::uint64_t addIdle(std::weak_ptr<IdleConnection> connection);
    void removeIdle(std::uint64_t ticket);
    /// Asks the connection registered longest ago to close (it checks it still is idle).
    /// False when none is registered.
    bool evictOldestIdle();

private:
    friend class TcpSlot;
    void release();

    const std::size_t m_limit;
    const std::size_t m_highWater;
    Metrics &m_metrics;
    std::atomic<std::size_t> m_count{0};
    std::mutex m_mutex;
    std::uint64_t m_nextTicket = 1;
    std::map<std::uint64_t, std::weak_ptr<IdleConnection>> m_idle; ///< oldest first
};

/// The limit to use for `config`: maxTcpConnections, or the default derived from maxConnections
/// and capped by RLIMIT_NOFILE (keeping descriptors for files, the acceptor and the runtime).
std::size_t effectiveTcpLimit(const GatewayConfig &config);

} // namespace switchboard::asio
