#pragma once
// SessionMutex: the lock of one WebSocket session, 4 bytes instead of std::mutex's 40.
//
// Every connection has one: the thread fanning out a publication queues frames into the session
// while the session's io thread writes them, each under this lock. It is held for a few hundred
// nanoseconds at most and seldom contended, so what matters is its size, on every idle
// connection: a word that is 0 (free), 1 (held) or 2 (held, a thread may be waiting). An
// uncontended lock and unlock are one atomic instruction each; a contended lock sleeps in
// std::atomic::wait (a futex on Linux) and the unlock that finds 2 wakes one waiter. Meets the
// Lockable requirements, so std::lock_guard and std::unique_lock take it.

#include <atomic>
#include <cstdint>

namespace switchboard::asio {

class SessionMutex {
public:
    SessionMutex() noexcept = default;
    SessionMutex(const SessionMutex &) = delete;
    SessionMutex &operator=(const SessionMutex &) = delete;

    void lock() noexcept
    {
        std::uint32_t seen = kFree;
        if (m_state.compare_exchange_strong(seen, kHeld, std::memory_order_acquire, std::memory_order_relaxed))
            return;
        // Contended: mark that a thread may wait, and sleep until a release finds the mark.
        if (seen != kContended)
            seen = m_state.exchange(kContended, std::memory_order_acquire);
        while (seen != kFree) {
            m_state.wait(kContended, std::memory_order_relaxed);
            seen = m_state.exchange(kContended, std::memory_order_acquire);
        }
    }

    bool try_lock() noexcept
    {
        std::uint32_t seen = kFree;
        return m_state.compare_exchange_strong(seen, kHeld, std::memory_order_acquire, std::memory_order_relaxed);
    }

    void unlock() noexcept
    {
        if (m_state.exchange(kFree, std::memory_order_release) == kContended)
            m_state.notify_one();
    }

private:
    static constexpr std::uint32_t kFree = 0;
    static constexpr std::uint32_t kHeld = 1;
    static constexpr std::uint32_t kContended = 2;
    std::atomic<std::uint32_t> m_state{kFree};
};

static_assert(sizeof(SessionMutex) == 4);

} // namespace switchboard::asio
