#pragma once
// AsioTimer: core Timer on an io_context. Callbacks run on an io thread while holding the core
// mutex, like every other call into the core.

#include <switchboard/Timer.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <memory>
#include <mutex>
#include <unordered_map>

namespace switchboard::asio {

/// start() and cancel() must be called with the core mutex held (they are called by core code);
/// that mutex also guards the pending map, so a cancelled callback never runs.
class AsioTimer final : public Timer {
public:
    AsioTimer(boost::asio::io_context &ioc, std::mutex &coreMutex);
    ~AsioTimer() override;

    TimerId start(std::chrono::milliseconds delay, std::function<void()> callback) override;
    void cancel(TimerId id) override;
    std::chrono::milliseconds now() const override;
    std::int64_t wallClockMs() const override;

private:
    struct Pending {
        std::shared_ptr<boost::asio::steady_timer> timer;
        std::function<void()> callback;
    };
    void fire(TimerId id);

    boost::asio::io_context &m_ioc;
    std::mutex &m_coreMutex;
    std::unordered_map<TimerId, Pending> m_pending;
    TimerId m_lastId = 0;
    std::chrono::steady_clock::time_point m_epoch = std::chrono::steady_clock::now();
    /// Handlers check it before touching `this`: they may outlive the timer during shutdown.
    std::shared_ptr<AsioTimer *> m_self = std::make_shared<AsioTimer *>(this);
};

} // namespace switchboard::asio
