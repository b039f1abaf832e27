#include "BrowserTimer.h"

#include <emscripten/emscripten.h>
#include <emscripten/eventloop.h>
#include <emscripten/html5.h>

namespace switchboard::web {

BrowserTimer::~BrowserTimer()
{
    for (auto &[id, entry] : m_pending)
        emscripten_clear_timeout(entry->handle);
}

TimerId BrowserTimer::start(std::chrono::milliseconds delay, std::function<void()> callback)
{
    auto entry = std::make_unique<Entry>();
    entry->owner = this;
    entry->id = ++m_lastId;
    entry->callback = std::move(callback);
    const double ms = delay.count() > 0 ? static_cast<double>(delay.count()) : 0.0;
    entry->handle = emscripten_set_timeout(&BrowserTimer::fire, ms, entry.get());
    const TimerId id = entry->id;
    m_pending.emplace(id, std::move(entry));
    return id;
}

void BrowserTimer::cancel(TimerId id)
{
    auto it = m_pending.find(id);
    if (it == m_pending.end())
        return;
    emscripten_clear_timeout(it->second->handle);
    m_pending.erase(it);
}

void BrowserTimer::fire(void *opaque)
{
    // The entry is alive: cancel() and the destructor clear the browser timeout before freeing it.
    auto *entry = static_cast<Entry *>(opaque);
    BrowserTimer *owner = entry->owner;
    auto it = owner->m_pending.find(entry->id);
    if (it == owner->m_pending.end())
        return;
    auto callback = std::move(it->second->callback);
    owner->m_pending.erase(it); // frees `entry`
    callback();
}

std::chrono::milliseconds BrowserTimer::now() const
{
    return std::chrono::milliseconds(static_cast<std::int64_t>(emscripten_get_now()));
}

std::chrono::microseconds BrowserTimer::nowPrecise() const
{
    // Same clock as now(), kept fractional: performance.now() is in milliseconds with a fraction.
    return std::chrono::microseconds(static_cast<std::int64_t>(emscripten_get_now() * 1000.0));
}

std::int64_t BrowserTimer::wallClockMs() const
{
    return static_cast<std::int64_t>(emscripten_date_now());
}

} // namespace switchboard::web
