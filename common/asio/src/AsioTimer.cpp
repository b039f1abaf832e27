#include <switchboard/asio_support/AsioTimer.h>

#include <algorithm>

namespace switchboard::asiosupport {

namespace {
constexpr std::uint32_t slotOf(TimerId id) { return static_cast<std::uint32_t>(id); }
constexpr std::uint32_t generationOf(TimerId id) { return static_cast<std::uint32_t>(id >> 32); }
constexpr TimerId idOf(std::uint32_t slot, std::uint32_t generation)
{
    return (static_cast<TimerId>(generation) << 32) | slot;
}
} // namespace

AsioTimer::AsioTimer(boost::asio::any_io_executor executor, std::mutex *guard)
    : m_executor(std::move(executor)), m_guard(guard), m_wait(m_executor)
{
}

AsioTimer::~AsioTimer()
{
    *m_self = nullptr;
    m_wait.cancel();
}

TimerId AsioTimer::start(std::chrono::milliseconds delay, std::function<void()> callback)
{
    compactIfSparse();
    std::uint32_t slot;
    if (!m_freeSlots.empty()) {
        slot = m_freeSlots.back();
        m_freeSlots.pop_back();
    } else {
        slot = static_cast<std::uint32_t>(m_slots.size());
        m_slots.emplace_back();
    }
    if (!callback) // a slot with no callback is a free one
        callback = [] {};
    Slot &s = m_slots[slot];
    if (++s.generation == 0) // the id is never 0, and a wrapped generation skips it
        s.generation = 1;
    s.callback = std::move(callback);
    ++m_pendingCount;
    const Clock::time_point at = Clock::now() + delay;
    m_due.push_back(Due{at, ++m_started, slot, s.generation});
    std::push_heap(m_due.begin(), m_due.end(), LaterFirst{});
    if (at < m_armedAt)
        arm(at);
    return idOf(slot, s.generation);
}

void AsioTimer::cancel(TimerId id)
{
    const std::uint32_t slot = slotOf(id);
    if (slot >= m_slots.size() || m_slots[slot].generation != generationOf(id) || !m_slots[slot].callback)
        return; // fired, cancelled, or never started
    // Its deadline stays in the heap, marked by the generation; the wait is left as it is (a
    // wait that finds nothing due only waits again).
    const std::function<void()> callback = release(slot); // destroyed after the bookkeeping
}

bool AsioTimer::pending(const Due &due) const noexcept
{
    const Slot &s = m_slots[due.slot];
    return s.generation == due.generation && s.callback;
}

std::function<void()> AsioTimer::release(std::uint32_t slot)
{
    std::function<void()> callback = std::move(m_slots[slot].callback);
    m_slots[slot].callback = nullptr;
    m_freeSlots.push_back(slot);
    --m_pendingCount;
    return callback;
}

void AsioTimer::dropCancelledTop()
{
    while (!m_due.empty() && !pending(m_due.front())) {
        std::pop_heap(m_due.begin(), m_due.end(), LaterFirst{});
        m_due.pop_back();
    }
}

void AsioTimer::compactIfSparse()
{
    if (m_due.size() <= 2 * m_pendingCount + 64)
        return;
    std::erase_if(m_due, [this](const Due &due) { return !pending(due); });
    std::make_heap(m_due.begin(), m_due.end(), LaterFirst{});
}

void AsioTimer::arm(Clock::time_point at)
{
    m_armedAt = at;
    m_wait.expires_at(at); // a wait still outstanding completes as cancelled
    m_wait.async_wait([self = std::weak_ptr<AsioTimer *>(m_self), guard = m_guard](const boost::system::error_code &ec) {
        if (ec)
            return; // replaced by a wait for an earlier deadline, or the timer is gone
        // Under the guard before looking at `self`: the destructor clears it with the guard held.
        std::unique_lock<std::mutex> lock;
        if (guard)
            lock = std::unique_lock(*guard);
        const auto alive = self.lock();
        if (alive && *alive)
            (*alive)->expired();
    });
}

void AsioTimer::expired()
{
    m_armedAt = Clock::time_point::max(); // no wait outstanding until one is armed below
    const std::shared_ptr<AsioTimer *> alive = m_self; // a callback may destroy the timer
    const Clock::time_point now = Clock::now();
    while (!m_due.empty() && m_due.front().at <= now) {
        const Due due = m_due.front();
        std::pop_heap(m_due.begin(), m_due.end(), LaterFirst{});
        m_due.pop_back();
        if (!pending(due))
            continue;
        const std::function<void()> callback = release(due.slot);
        callback(); // may start and cancel timers, or destroy this one
        if (!*alive)
            return;
    }
    dropCancelledTop();
    if (!m_due.empty() && m_due.front().at < m_armedAt)
        arm(m_due.front().at);
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
