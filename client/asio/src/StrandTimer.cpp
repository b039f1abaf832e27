#include "StrandTimer.h"

namespace switchboard::asioclient {

StrandTimer::StrandTimer(boost::asio::any_io_executor strand) : m_strand(std::move(strand)) {}

StrandTimer::~StrandTimer()
{
    *m_self = nullptr;
    for (auto &[id, pending] : m_pending)
        pending.timer->cancel();
}

TimerId StrandTimer::start(std::chrono::milliseconds delay, std::function<void()> callback)
{
    const TimerId id = ++m_lastId;
    auto timer = std::make_unique<boost::asio::steady_timer>(m_strand, delay);
    timer->async_wait([self = std::weak_ptr<StrandTimer *>(m_self), id](const boost::system::error_code &ec) {
        if (ec)
            return; // cancelled
        const auto alive = self.lock();
        if (alive && *alive)
            (*alive)->fire(id);
    });
    m_pending.emplace(id, Pending{std::move(timer), std::move(callback)});
    return id;
}

void StrandTimer::fire(TimerId id)
{
    auto it = m_pending.find(id);
    if (it == m_pending.end())
        return; // cancelled after the wait completed
    auto callback = std::move(it->second.callback);
    m_pending.erase(it);
    callback();
}

void StrandTimer::cancel(TimerId id)
{
    auto it = m_pending.find(id);
    if (it == m_pending.end())
        return;
    it->second.timer->cancel();
    m_pending.erase(it);
}

std::chrono::milliseconds StrandTimer::now() const
{
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - m_epoch);
}

std::chrono::microseconds StrandTimer::nowPrecise() const
{
    return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - m_epoch);
}

std::int64_t StrandTimer::wallClockMs() const
{
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

} // namespace switchboard::asioclient
