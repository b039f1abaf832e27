#include "LivenessSweep.h"

namespace switchboard::asio {

LivenessSweep::LivenessSweep(boost::asio::io_context &ioc, std::chrono::milliseconds resolution)
    : m_timer(ioc.get_executor()), m_resolution(resolution)
{
}

void LivenessSweep::watch(const std::shared_ptr<Client> &client, Clock::time_point deadline)
{
    if (client->m_sweepSlot == Client::kNone) {
        client->m_sweepSlot = static_cast<std::uint32_t>(m_entries.size());
        m_entries.push_back(Entry{Clock::time_point::max(), client});
    }
    setDeadline(*client, deadline);
}

void LivenessSweep::setDeadline(Client &client, Clock::time_point deadline)
{
    if (client.m_sweepSlot == Client::kNone)
        return;
    m_entries[client.m_sweepSlot].deadline = deadline;
    if (deadline != Clock::time_point::max() && !m_armed)
        arm();
}

void LivenessSweep::unwatch(Client &client)
{
    if (client.m_sweepSlot == Client::kNone)
        return;
    const std::size_t slot = client.m_sweepSlot;
    client.m_sweepSlot = Client::kNone;
    removeAt(slot);
}

void LivenessSweep::removeAt(std::size_t slot)
{
    if (slot + 1 != m_entries.size()) {
        m_entries[slot] = std::move(m_entries.back());
        // The moved client learns its new slot. Its owner holds it while it is watched, or it is
        // being destroyed elsewhere and the next tick drops it (lock() fails then).
        if (auto moved = m_entries[slot].client.lock())
            moved->m_sweepSlot = static_cast<std::uint32_t>(slot);
    }
    m_entries.pop_back();
}

void LivenessSweep::arm()
{
    m_armed = true;
    m_timer.expires_after(m_resolution);
    m_timer.async_wait([this](const boost::system::error_code &ec) {
        if (!ec)
            tick();
    });
}

void LivenessSweep::tick()
{
    m_armed = false;
    ++m_ticks;
    const Clock::time_point now = Clock::now();
    bool anySet = false;
    for (std::size_t slot = 0; slot < m_entries.size();) {
        Entry &entry = m_entries[slot];
        if (entry.client.expired()) { // destroyed without unwatch(): its entry goes, the last one moves here
            removeAt(slot);
            continue;
        }
        if (entry.deadline > now) {
            anySet = anySet || entry.deadline != Clock::time_point::max();
            ++slot;
            continue;
        }
        auto client = entry.client.lock();
        if (!client) { // destroyed since the check above
            removeAt(slot);
            continue;
        }
        entry.deadline = Clock::time_point::max();
        m_due.push_back(std::move(client));
        ++slot;
    }
    // The calls may watch, unwatch and set deadlines (arming the timer again); the clients are
    // held until every call returned.
    for (const auto &client : m_due)
        client->livenessDue();
    m_due.clear();
    if (anySet && !m_armed)
        arm();
}

} // namespace switchboard::asio
