#include "Publisher.h"

#include "Clock.h"
#include "Payload.h"

#include <algorithm>
#include <chrono>

namespace switchboard::bench {

Publisher::Publisher(boost::asio::io_context &io, ProtocolSession &session, DeliveryTracker &tracker,
                     Settings settings)
    : m_session(session)
    , m_tracker(tracker)
    , m_settings(settings)
    , m_tick(io)
    , m_retire(io)
    , m_sentNs(tracker.capacity())
    , m_slots(tracker.capacity(), Slot::Free)
{
    // A fixed rate may need more than the window; the ring bounds it either way.
    if (m_settings.rate > 0 && m_settings.window < tracker.capacity() / 2)
        m_settings.window = std::max(m_settings.window, tracker.capacity() / 2);
    m_settings.window = std::min(m_settings.window, tracker.capacity() / 2);
    Payload::write(m_payload, m_settings.payload, Stamp{});
}

void Publisher::start()
{
    m_running = true;
    m_startNs = nowNs();
    scheduleRetire();
    if (m_settings.rate > 0)
        scheduleTick();
    else
        pump();
}

void Publisher::stop(std::function<void()> onDrained)
{
    m_running = false;
    m_tick.cancel();
    m_onDrained = std::move(onDrained);
    checkDrained();
}

void Publisher::pump()
{
    if (!m_running)
        return;
    const std::size_t room = m_settings.window - std::min<std::size_t>(m_settings.window, m_counters.inFlight);
    publish(room);
}

void Publisher::publish(std::size_t count)
{
    if (count == 0)
        return;
    for (std::size_t i = 0; i < count; ++i) {
        const std::uint64_t seq = m_next;
        const std::size_t slot = seq & (m_slots.size() - 1);
        if (seq - m_oldest >= m_slots.size() || m_slots[slot] != Slot::Free)
            break; // ring full: an old message is still waiting for a receipt or its timeout
        m_slots[slot] = Slot::Outstanding;
        m_tracker.arm(static_cast<std::uint32_t>(seq));
        const std::uint64_t now = nowNs();
        m_sentNs[slot] = now;
        Payload::stamp(m_payload.data(), Stamp{now, static_cast<std::uint32_t>(seq)});
        m_session.appendPublish(m_payload);
        ++m_next;
        ++m_counters.sent;
        ++m_counters.inFlight;
    }
    m_session.endPublishBatch();
    m_session.connection().flush();
}

void Publisher::scheduleTick()
{
    m_tick.expires_after(std::chrono::milliseconds(1));
    m_tick.async_wait([this](boost::system::error_code ec) {
        if (ec || !m_running)
            return;
        const double elapsed = static_cast<double>(nowNs() - m_startNs) / 1e9;
        const auto due = static_cast<std::uint64_t>(elapsed * m_settings.rate);
        if (due > m_counters.sent) {
            const std::size_t room =
                m_settings.window - std::min<std::size_t>(m_settings.window, m_counters.inFlight);
            publish(std::min<std::uint64_t>(due - m_counters.sent, room));
        }
        scheduleTick();
    });
}

void Publisher::scheduleRetire()
{
    m_retire.expires_after(std::chrono::milliseconds(100));
    m_retire.async_wait([this](boost::system::error_code ec) {
        if (ec)
            return;
        retireStalled();
        if (m_running || m_counters.inFlight > 0)
            scheduleRetire();
    });
}

void Publisher::retireStalled()
{
    const auto limit = static_cast<std::uint64_t>(m_settings.stallTimeout * 1e9);
    const std::uint64_t now = nowNs();
    for (std::uint64_t seq = m_oldest; seq < m_next; ++seq) {
        const std::size_t slot = seq & (m_slots.size() - 1);
        if (m_slots[slot] != Slot::Outstanding)
            continue;
        if (now - m_sentNs[slot] < limit)
            break; // later ones are younger
        if (const auto seen = m_tracker.retire(static_cast<std::uint32_t>(seq))) {
            ++m_counters.retired;
            m_counters.missedDeliveries += m_tracker.expected() - *seen;
            settle(static_cast<std::uint32_t>(seq));
        }
    }
    if (!m_running)
        checkDrained();
    else if (m_settings.rate == 0)
        pump();
}

void Publisher::onComplete(std::uint32_t sequence)
{
    const std::size_t slot = sequence & (m_slots.size() - 1);
    if (m_slots[slot] != Slot::Outstanding)
        return;
    ++m_counters.completed;
    settle(sequence);
    if (m_settings.rate == 0)
        pump();
    checkDrained();
}

void Publisher::settle(std::uint32_t sequence)
{
    m_slots[sequence & (m_slots.size() - 1)] = Slot::Done;
    --m_counters.inFlight;
    while (m_oldest < m_next && m_slots[m_oldest & (m_slots.size() - 1)] == Slot::Done) {
        m_slots[m_oldest & (m_slots.size() - 1)] = Slot::Free;
        ++m_oldest;
    }
}

void Publisher::checkDrained()
{
    if (!m_running && m_counters.inFlight == 0 && m_onDrained) {
        m_retire.cancel();
        auto done = std::move(m_onDrained);
        m_onDrained = nullptr;
        done();
    }
}

} // namespace switchboard::bench
