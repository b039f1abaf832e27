#pragma once
// AsioTimer: the core Timer on Boost.Asio steady_timers, shared by the Asio gateway (an
// io_context run by several threads, the core behind one mutex) and the native client (one
// strand). Internal: not an installed header.

#include <switchboard/Timer.h>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <memory>
#include <mutex>
#include <unordered_map>

namespace switchboard::asiosupport {

/// Callbacks run through `executor`. What serialises them with the rest of the core is the
/// owner's choice, one of:
///  - `executor` is a strand and `guard` is null (the native client): start(), cancel() and the
///    destructor run on that strand, like the callbacks;
///  - `guard` is the mutex every core call holds (the gateway, whose io_context several threads
///    run): each callback runs with it locked; start(), cancel() and the destructor are called
///    with it held (core code calls them so).
/// A cancelled callback never runs, nor one still pending when the timer is destroyed. `guard`,
/// when given, must outlive every handler still queued on `executor`.
class AsioTimer final : public Timer {
public:
    explicit AsioTimer(boost::asio::any_io_executor executor, std::mutex *guard = nullptr);
    ~AsioTimer() override;
    AsioTimer(const AsioTimer &) = delete;
    AsioTimer &operator=(const AsioTimer &) = delete;

    TimerId start(std::chrono::milliseconds delay, std::function<void()> callback) override;
    void cancel(TimerId id) override;
    std::chrono::milliseconds now() const override;
    std::chrono::microseconds nowPrecise() const override;
    std::int64_t wallClockMs() const override;

private:
    struct Pending {
        std::shared_ptr<boost::asio::steady_timer> timer; // the handler holds it too
        std::function<void()> callback;
    };
    void fire(TimerId id);

    boost::asio::any_io_executor m_executor;
    std::mutex *m_guard;
    std::unordered_map<TimerId, Pending> m_pending;
    TimerId m_lastId = 0;
    std::chrono::steady_clock::time_point m_epoch = std::chrono::steady_clock::now();
    /// Handlers check it before touching `this`: they may complete after the timer is gone.
    std::shared_ptr<AsioTimer *> m_self = std::make_shared<AsioTimer *>(this);
};

} // namespace switchboard::asiosupport
