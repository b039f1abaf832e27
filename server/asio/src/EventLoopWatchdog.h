#pragma once
// EventLoopWatchdog: proves, once per period, that every event loop of the process still runs
// handlers, and reports "alive" (the gateway sends systemd WATCHDOG=1) only then. Each round
// posts one probe into every loop; at the next tick, the loops whose probe has not come back
// are hung: the round is missed and reported instead. A loop gets its next probe only after the
// previous one came back, so a hung loop does not pile probes up.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace switchboard::asio {

class EventLoopWatchdog {
public:
    /// Runs on the probed loop: the loop is alive. Cheap, thread-safe, callable after the
    /// watchdog is destroyed (it then does nothing).
    using Answer = std::function<void()>;
    /// Hands `answer` to one event loop to run there (e.g. boost::asio::post). Called on the
    /// watchdog's thread; must not block.
    using Probe = std::function<void(Answer answer)>;

    /// Starts the watchdog's own thread: the first round of probes now, a verdict every
    /// `period`. `alive()` runs after a round every loop answered, `missed(hung)` after one that
    /// `hung` loops did not; both on the watchdog's thread, and must not block for long.
    EventLoopWatchdog(std::vector<Probe> probes, std::chrono::milliseconds period, std::function<void()> alive,
                      std::function<void(std::size_t hung)> missed);
    /// Stops and joins the thread; no callback runs after it returns.
    ~EventLoopWatchdog();
    EventLoopWatchdog(const EventLoopWatchdog &) = delete;
    EventLoopWatchdog &operator=(const EventLoopWatchdog &) = delete;

    /// Rounds missed so far. Thread-safe.
    std::uint64_t missedRounds() const { return m_missedRounds.load(std::memory_order_relaxed); }

private:
    /// Shared with the answers still queued in loops, which may outlive the watchdog.
    struct Outstanding;

    void run();

    std::vector<Probe> m_probes;
    std::chrono::milliseconds m_period;
    std::function<void()> m_alive;
    std::function<void(std::size_t)> m_missed;
    std::shared_ptr<Outstanding> m_outstanding;
    std::atomic<std::uint64_t> m_missedRounds{0};
    std::mutex m_mutex;
    std::condition_variable m_wake;
    bool m_stop = false;
    std::thread m_thread; // last: starts once everything above is ready
};

} // namespace switchboard::asio
