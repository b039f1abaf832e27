#pragma once
// What the io threads and the thread driving the run share: setup progress counters the driver
// waits on, and the measurement window every io thread reads.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>

namespace switchboard::bench {

class RunState
{
public:
    std::atomic<std::uint64_t> upgraded{0};
    std::atomic<std::uint64_t> upgradeFailed{0};
    std::atomic<std::uint64_t> lastUpgradeNs{0};
    std::atomic<std::uint64_t> ready{0};
    std::atomic<std::uint64_t> lastReadyNs{0};  // when the latest subscriber became ready
    std::atomic<std::uint64_t> failed{0};       // sessions closed after the upgrade
    std::atomic<std::uint64_t> serverErrors{0};
    std::atomic<bool> publisherReady{false};
    std::atomic<std::uint64_t> windowStartNs{~0ull};
    std::atomic<std::uint64_t> windowEndNs{~0ull};

    /// Wakes the driver to re-check its condition.
    void notify()
    {
        { std::lock_guard lock(m_mutex); }
        m_changed.notify_all();
    }

    /// Waits until `done()` or the deadline; returns done().
    template <typename Done>
    bool waitUntil(Done done, std::chrono::steady_clock::time_point deadline)
    {
        std::unique_lock lock(m_mutex);
        return m_changed.wait_until(lock, deadline, done);
    }

    void noteUpgrade(std::uint64_t atNs) { raiseTo(lastUpgradeNs, atNs); }
    void noteReady(std::uint64_t atNs) { raiseTo(lastReadyNs, atNs); }

    /// Keeps the first few distinct reasons for the report.
    void noteProblem(const std::string &what)
    {
        std::lock_guard lock(m_mutex);
        if (m_problems.size() < 2000 && m_problems.find(what) == std::string::npos && m_problemCount < 5) {
            m_problems += "  " + what + "\n";
            ++m_problemCount;
        }
    }
    std::string problems()
    {
        std::lock_guard lock(m_mutex);
        return m_problems;
    }

private:
    static void raiseTo(std::atomic<std::uint64_t> &latest, std::uint64_t atNs)
    {
        std::uint64_t last = latest.load(std::memory_order_relaxed);
        while (atNs > last && !latest.compare_exchange_weak(last, atNs))
            ;
    }

    std::mutex m_mutex;
    std::condition_variable m_changed;
    std::string m_problems;
    int m_problemCount = 0;
};

} // namespace switchboard::bench
