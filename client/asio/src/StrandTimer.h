#pragma once
// StrandTimer: core Timer on steady_timers whose handlers run on the client's strand.

#include <switchboard/Timer.h>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <memory>
#include <unordered_map>

namespace switchboard::asioclient {

/// Not thread-safe: start(), cancel() and the destructor run on the strand, like the callbacks.
/// A cancelled callback never runs, nor one still pending when the timer is destroyed.
class StrandTimer final : public Timer {
public:
    explicit StrandTimer(boost::asio::any_io_executor strand);
    ~StrandTimer() override;

    TimerId start(std::chrono::milliseconds delay, std::function<void()> callback) override;
    void cancel(TimerId id) override;
    std::chrono::milliseconds now() const override;
    std::chrono::microseconds nowPrecise() const override;
    std::int64_t wallClockMs() const override;

private:
    struct Pending {
        std::unique_ptr<boost::asio::steady_timer> timer;
        std::function<void()> callback;
    };
    void fire(TimerId id);

    boost::asio::any_io_executor m_strand;
    std::unordered_map<TimerId, Pending> m_pending;
    TimerId m_lastId = 0;
    std::chrono::steady_clock::time_point m_epoch = std::chrono::steady_clock::now();
    /// Handlers check it before touching `this`: they may complete after the timer is gone.
    std::shared_ptr<StrandTimer *> m_self = std::make_shared<StrandTimer *>(this);
};

} // namespace switchboard::asioclient
