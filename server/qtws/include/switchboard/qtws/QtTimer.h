#pragma once
// QtTimer: core's Timer on a Qt event loop.

#include <switchboard/Timer.h>

#include <QElapsedTimer>

#include <memory>

namespace switchboard::qtws {

/// One-shot timers driven by the Qt event loop of the thread that created the object
/// (QObject::startTimer with Qt::PreciseTimer, one Qt timer per pending core timer), a monotonic
/// clock from QElapsedTimer and the wall clock from QDateTime.
///
/// Thread safety: use from the creating thread only; callbacks run there. A callback may start
/// and cancel timers. Destroying the QtTimer cancels everything still pending.
class QtTimer final : public Timer {
public:
    QtTimer();
    ~QtTimer() override;
    QtTimer(const QtTimer &) = delete;
    QtTimer &operator=(const QtTimer &) = delete;

    TimerId start(std::chrono::milliseconds delay, std::function<void()> callback) override;
    void cancel(TimerId id) override;
    std::chrono::milliseconds now() const override;
    /// Microseconds from the same QElapsedTimer (fine enough for loopback round trips).
    std::chrono::microseconds nowPrecise() const override;
    std::int64_t wallClockMs() const override;

    std::size_t pendingCount() const;

private:
    class Driver;
    std::unique_ptr<Driver> d;
};

} // namespace switchboard::qtws
