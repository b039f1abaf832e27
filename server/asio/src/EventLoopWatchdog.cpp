#include "EventLoopWatchdog.h"

#include <atomic>

namespace switchboard::asio {

struct EventLoopWatchdog::Outstanding {
    explicit Outstanding(std::size_t n) : probes(new std::atomic<bool>[n]) {}
    /// Per loop: a probe is on its way and has not come back.
    std::unique_ptr<std::atomic<bool>[]> probes;
};

EventLoopWatchdog::EventLoopWatchdog(std::vector<Probe> probes, std::chrono::milliseconds period,
                                     std::function<void()> alive, std::function<void(std::size_t hung)> missed)
    : m_probes(std::move(probes))
    , m_period(std::max(period, std::chrono::milliseconds(1)))
    , m_alive(std::move(alive))
    , m_missed(std::move(missed))
    , m_outstanding(std::make_shared<Outstanding>(m_probes.size()))
    , m_thread([this] { run(); })
{
}

EventLoopWatchdog::~EventLoopWatchdog()
{
    {
        std::lock_guard lock(m_mutex);
        m_stop = true;
    }
    m_wake.notify_all();
    m_thread.join();
}

void EventLoopWatchdog::run()
{
    const auto sendProbes = [this] {
        for (std::size_t i = 0; i < m_probes.size(); ++i) {
            if (m_outstanding->probes[i].load())
                continue; // still on its way: the loop gets no second one
            m_outstanding->probes[i].store(true);
            m_probes[i]([outstanding = m_outstanding, i] { outstanding->probes[i].store(false); });
        }
    };
    for (std::size_t i = 0; i < m_probes.size(); ++i)
        m_outstanding->probes[i].store(false);
    sendProbes();
    std::unique_lock lock(m_mutex);
    auto next = std::chrono::steady_clock::now() + m_period;
    while (!m_wake.wait_until(lock, next, [this] { return m_stop; })) {
        next += m_period;
        const auto now = std::chrono::steady_clock::now();
        if (next < now)
            next = now + m_period; // the thread was not scheduled for a while: no burst of ticks
        lock.unlock();
        std::size_t hung = 0;
        for (std::size_t i = 0; i < m_probes.size(); ++i)
            hung += m_outstanding->probes[i].load() ? 1 : 0;
        if (hung == 0) {
            m_alive();
        } else {
            m_missedRounds.fetch_add(1, std::memory_order_relaxed);
            m_missed(hung);
        }
        sendProbes();
        lock.lock();
    }
}

} // namespace switchboard::asio
