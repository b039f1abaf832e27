#pragma once
// BrowserTimer: core's Timer on the browser's setTimeout, performance.now() and Date.now().

#include "switchboard/Timer.h"

#include <map>
#include <memory>

namespace switchboard::web {

/// Thread safety: main browser thread only. Destroying the timer clears every pending browser
/// timeout, so no callback runs afterwards.
class BrowserTimer final : public Timer {
public:
    BrowserTimer() = default;
    ~BrowserTimer() override;
    BrowserTimer(const BrowserTimer &) = delete;
    BrowserTimer &operator=(const BrowserTimer &) = delete;

    TimerId start(std::chrono::milliseconds delay, std::function<void()> callback) override;
    void cancel(TimerId id) override;
    std::chrono::milliseconds now() const override;
    /// performance.now() in microseconds (the browser may coarsen it, typically to 5-100 us).
    std::chrono::microseconds nowPrecise() const override;
    std::int64_t wallClockMs() const override;

    std::size_t pendingCount() const { return m_pending.size(); }

private:
    struct Entry {
        BrowserTimer *owner = nullptr;
        TimerId id = 0;
        long handle = 0;
        std::function<void()> callback;
    };
    static void fire(void *entry);

    std::map<TimerId, std::unique_ptr<Entry>> m_pending;
    TimerId m_lastId = 0;
};

} // namespace switchboard::web
