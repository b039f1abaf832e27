#pragma once
// Timer: the only way core code reads time or waits. Qt, Asio and the browser implement it.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>

namespace switchboard {

using TimerId = std::uint64_t;

/// One-shot timers plus the clocks core needs.
///
/// Thread safety: start/cancel/now are called from the thread that owns the core objects using
/// this timer; callbacks run on that thread too. cancel() of a fired or unknown id is a no-op, and
/// a cancelled callback never runs.
class Timer {
public:
    virtual ~Timer() = default;
    /// Calls `callback` once after `delay`. Returns an id for cancel(); never 0.
    virtual TimerId start(std::chrono::milliseconds delay, std::function<void()> callback) = 0;
    virtual void cancel(TimerId id) = 0;
    /// Monotonic time since an arbitrary epoch, for timeouts, rates and TTLs.
    virtual std::chrono::milliseconds now() const = 0;
    /// Monotonic time with the finest resolution the implementation has, for measuring short
    /// intervals (round trips). Its epoch need not be now()'s: compare it only with itself. The
    /// default is now() (whole milliseconds); implementations with a finer clock override it.
    virtual std::chrono::microseconds nowPrecise() const { return now(); }
    /// Wall-clock time in milliseconds since the Unix epoch, for message timestamps.
    virtual std::int64_t wallClockMs() const = 0;
};

/// Virtual time for tests: nothing fires until advance() moves the clock. Not thread-safe.
class ManualTimer final : public Timer {
public:
    TimerId start(std::chrono::milliseconds delay, std::function<void()> callback) override
    {
        const TimerId id = ++m_lastId;
        m_pending.emplace(Key{m_now + delay, id}, std::move(callback));
        return id;
    }
    void cancel(TimerId id) override
    {
        for (auto it = m_pending.begin(); it != m_pending.end(); ++it) {
            if (it->first.id == id) {
                m_pending.erase(it);
                return;
            }
        }
    }
    std::chrono::milliseconds now() const override { return m_now; }
    std::chrono::microseconds nowPrecise() const override { return m_now + m_fraction; }
    std::int64_t wallClockMs() const override { return m_wallBase + m_now.count(); }

    /// Moves time forward by `by`, firing due timers in deadline order (timers they start with a
    /// deadline inside the window fire too).
    void advance(std::chrono::milliseconds by) { advanceTo(m_now + by, m_fraction); }
    /// advance() in microseconds: nowPrecise() moves by exactly `by`, now() by the whole
    /// milliseconds crossed.
    void advancePrecise(std::chrono::microseconds by)
    {
        const auto target = nowPrecise() + by;
        const auto whole = std::chrono::floor<std::chrono::milliseconds>(target);
        advanceTo(whole, target - whole);
    }
    std::size_t pendingCount() const { return m_pending.size(); }

private:
    void advanceTo(std::chrono::milliseconds target, std::chrono::microseconds fraction)
    {
        while (!m_pending.empty() && m_pending.begin()->first.due <= target) {
            auto node = m_pending.extract(m_pending.begin());
            if (node.key().due > m_now) { // a timer fires on its whole millisecond
                m_now = node.key().due;
                m_fraction = std::chrono::microseconds(0);
            }
            node.mapped()();
        }
        m_now = target;
        m_fraction = fraction;
    }

    struct Key {
        std::chrono::milliseconds due;
        TimerId id;
        bool operator<(const Key &o) const { return due != o.due ? due < o.due : id < o.id; }
    };
    std::map<Key, std::function<void()>> m_pending;
    std::chrono::milliseconds m_now{0};
    std::chrono::microseconds m_fraction{0}; ///< nowPrecise() - now(), below 1 ms
    std::int64_t m_wallBase = 1'700'000'000'000;
    TimerId m_lastId = 0;
};

} // namespace switchboard
