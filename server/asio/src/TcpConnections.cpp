#include "TcpConnections.h"

#include <sys/resource.h>

#include <algorithm>

namespace switchboard::asio {

TcpSlot &TcpSlot::operator=(TcpSlot &&other) noexcept
{
    if (this != &other) {
        if (m_owner)
            m_owner->release();
        m_owner = std::exchange(other.m_owner, nullptr);
    }
    return *this;
}

TcpSlot::~TcpSlot()
{
    if (m_owner)
        m_owner->release();
}

TcpConnections::TcpConnections(std::size_t limit, Metrics &metrics)
    : m_limit(std::max<std::size_t>(limit, 1))
    , m_highWater(m_limit - std::max<std::size_t>(1, m_limit / 10))
    , m_metrics(metrics)
{
}

TcpSlot TcpConnections::tryAcquire()
{
    std::size_t n = m_count.load();
    do {
        if (n >= m_limit)
            return {};
    } while (!m_count.compare_exchange_weak(n, n + 1));
    m_metrics.tcpConnections.fetch_add(1, std::memory_order_relaxed);
    return TcpSlot(this);
}

void TcpConnections::release()
{
    m_count.fetch_sub(1);
    m_metrics.tcpConnections.fetch_sub(1, std::memory_order_relaxed);
}

std::uint64_t TcpConnections::addIdle(std::weak_ptr<IdleConnection> connection)
{
    std::lock_guard lock(m_mutex);
    if (m_idle.size() > 2 * m_limit)
        std::erase_if(m_idle, [](const auto &entry) { return entry.second.expired(); }); // never unregistered
    const std::uint64_t ticket = m_nextTicket++;
    m_idle.emplace(ticket, std::move(connection));
    return ticket;
}

void TcpConnections::removeIdle(std::uint64_t ticket)
{
    std::lock_guard lock(m_mutex);
    m_idle.erase(ticket);
}

bool TcpConnections::evictOldestIdle()
{
    std::shared_ptr<IdleConnection> oldest;
    {
        std::lock_guard lock(m_mutex);
        while (!oldest && !m_idle.empty()) {
            oldest = m_idle.begin()->second.lock();
            m_idle.erase(m_idle.begin());
        }
    }
    if (!oldest)
        return false;
    oldest->evictIfIdle(); // outside the lock: it may call removeIdle()
    return true;
}

std::size_t effectiveTcpLimit(const GatewayConfig &config)
{
    if (config.maxTcpConnections)
        return config.maxTcpConnections;
    std::size_t limit = config.maxConnections + std::max<std::size_t>(64, config.maxConnections / 10);
    rlimit files{};
    if (::getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur != RLIM_INFINITY) {
        // Keep descriptors for the acceptor, epoll, timers, stdio and files being served.
        const auto available = static_cast<std::size_t>(files.rlim_cur);
        const std::size_t reserve = available > 128 ? 64 : available / 2;
        limit = std::min(limit, std::max<std::size_t>(1, available - reserve));
    }
    return limit;
}

} // namespace switchboard::asio
