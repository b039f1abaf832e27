#include <switchboard/asio_support/AsioTimer.h>

#include <algorithm>
#include <stdexcept>

namespace switchboard::asiosupport {

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
    const std::uint32_t slot = takeSlot();
    if (!callback) // a slot with no callback is a free one
        callback = [] {};
    Slot &s = m_slots[slot];
    s.generation = ++m_started & kGenerationMask;
    if (s.generation == 0) // after 2^40 starts: an id is never 0
        s.generation = m_started = 1;
    s.callback = std::move(callback);
    ++m_pendingCount;
    const Clock::time_point at = Clock::now() + delay;
    m_due.push_back(Due{at, s.generation, slot});
    std::push_heap(m_due.begin(), m_due.end(), LaterFirst{});
    if (at < m_armedAt)
        arm(at);
    return (s.generation << kSlotBits) | slot;
}

void AsioTimer::cancel(TimerId id)
{
    const auto slot = static_cast<std::size_t>(id & kSlotMask);
    if (slot >= m_slots.size() || m_slots[slot].generation != (id >> kSlotBits) || !m_slots[slot].callback)
        return; // fired, cancelled, or never started
    // Its deadline stays in the heap, marked by the generation; the wait is left as it is (a
    // wait that finds nothing due only waits again).
    const std::function<void()> callback = release(static_cast<std::uint32_t>(slot)); // destroyed after the bookkeeping
}

std::uint32_t AsioTimer::takeSlot()
{
    // Every index in m_freeSlots is a free slot below m_slots.size(): trim() drops the others.
    if (!m_freeSlots.empty()) {
        std::pop_heap(m_freeSlots.begin(), m_freeSlots.end(), std::greater<>{});
        const std::uint32_t slot = m_freeSlots.back();
        m_freeSlots.pop_back();
        return slot;
    }
    if (m_slots.size() > kSlotMask)
        throw std::length_error("AsioTimer: too many pending timers");
    m_slots.emplace_back();
    return static_cast<std::uint32_t>(m_slots.size() - 1);
}

bool AsioTimer::pending(const Due &due) const noexcept
{
    if (due.slot >= m_slots.size())
        return false;
    const Slot &s = m_slots[due.slot];
    return s.generation == due.generation && s.callback;
}

std::function<void()> AsioTimer::release(std::uint32_t slot)
{
    std::function<void()> callback = std::move(m_slots[slot].callback);
    m_slots[slot].callback = nullptr;
    m_freeSlots.push_back(slot);
    std::push_heap(m_freeSlots.begin(), m_freeSlots.end(), std::greater<>{});
    --m_pendingCount;
    if (slot + 1 == m_slots.size())
        trim();
    return callback;
}

void AsioTimer::trim()
{
    while (!m_slots.empty() && !m_slots.back().callback)
        m_slots.pop_back();
    // Storage kept for a burst that is over: what an idle process does not need.
    const auto oversized = [](const auto &v) { return v.capacity() > 256 && v.capacity() > 4 * v.size(); };
    if (m_freeSlots.size() > m_slots.size() - m_pendingCount) { // it names slots given back
        std::erase_if(m_freeSlots, [this](std::uint32_t free) { return free >= m_slots.size(); });
        std::make_heap(m_freeSlots.begin(), m_freeSlots.end(), std::greater<>{});
    }
    if (m_pendingCount == 0)
        m_due.clear(); // every deadline left is a cancelled one
    else
        compactIfSparse();
    if (oversized(m_slots))
        m_slots.shrink_to_fit();
    if (oversized(m_freeSlots))
        m_freeSlots.shrink_to_fit();
    if (oversized(m_due))
        m_due.shrink_to_fit();
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
