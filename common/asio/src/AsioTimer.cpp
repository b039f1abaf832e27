#include <switchboard/asio_support/AsioTimer.h>

namespace switchboard::asiosupport {

AsioTimer::AsioTimer(boost::asio::any_io_executor executor, std::mutex *guard)
    : m_executor(std::move(executor)), m_guard(guard)
{
}

AsioTimer::~AsioTimer()
{
    *m_self = nullptr;
    for (auto &[id, pending] : m_pending)
        pending.timer->cancel();
}

TimerId AsioTimer::start(std::chrono::milliseconds delay, std::function<void()> callback)
{
    const TimerId id = ++m_lastId;
    auto timer = std::make_shared<boost::asio::steady_timer>(m_executor, delay);
    timer->async_wait([self = std::weak_ptr<AsioTimer *>(m_self), id, guard = m_guard, timer](const boost::system::error_code &ec) {
        if (ec)
            return; // cancelled
        // Under the guard before looking at `self`: the destructor clears it with the guard held.
        std::unique_lock<std::mutex> lock;
        if (guard)
            lock = std::unique_lock(*guard);
        const auto alive = self.lock();
        if (alive && *alive)
            (*alive)->fire(id);
    });
    m_pending.emplace(id, Pending{std::move(timer), std::move(callback)});
    return id;
}

void AsioTimer::fire(TimerId id)
{
    auto it = m_pending.find(id);
    if (it == m_pending.end())
        return; // cancelled after the wait completed
    auto callback = std::move(it->second.callback);
    m_pending.erase(it);
    callback();
}

void AsioTimer::cancel(TimerId id)
{
    auto it = m_pending.find(id);
    if (it == m_pending.end())
        return;
    it->second.timer->cancel();
    m_pending.erase(it);
}

std::chrono::milliseconds AsioTimer::now() const
{
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - m_epoch);
}

std::chrono::microseconds AsioTimer::nowPrecise() const
{
    return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - m_epoch);
}

std::int64_t AsioTimer::wallClockMs() const
{
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

} // namespace switchboard::asiosupport
