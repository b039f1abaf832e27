#pragma once
// LivenessSweep: the deadlines of an io thread's connections (ping, idle, write progress, the
// closing handshake), checked by one timer per io thread instead of one timer per connection.
//
// A connection keeps its next deadline here, in one array entry of the io thread's sweep; the
// sweep's timer ticks every `resolution` while any deadline is set, and each tick calls
// Client::livenessDue() on the connections whose deadline has passed. Setting or moving a
// deadline is a store into the array: no timer to cancel and re-arm, no pending timer wait per
// connection (a steady_timer and its wait were 264 bytes of every idle connection). The price:
// a deadline fires up to one resolution late. The gateway picks the resolution from its
// timeouts (GatewayConfig: an eighth of the shortest, between 5 ms and 1 s), as uWebSockets
// checks its sockets' timeouts on a coarse tick.
//
// Thread safety: none; everything runs on the io thread of the sweep's io_context, like the
// connections it watches (IoShards.h).

#include "IoThreadClient.h"
#include "IoTypes.h"

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <vector>

namespace switchboard::asio {

class LivenessSweep {
public:
    using Clock = std::chrono::steady_clock;

    /// What the sweep watches: a connection on the sweep's io thread (livenessDue()).
    using Client = IoThreadClient;

    explicit LivenessSweep(boost::asio::io_context &ioc, std::chrono::milliseconds resolution = std::chrono::seconds(1));
    LivenessSweep(const LivenessSweep &) = delete;
    LivenessSweep &operator=(const LivenessSweep &) = delete;

    /// How late a deadline may fire; applies from the next tick.
    void setResolution(std::chrono::milliseconds resolution) { m_resolution = resolution; }
    std::chrono::milliseconds resolution() const { return m_resolution; }

    /// Watches `client` (if not yet) with `deadline`; Clock::time_point::max(): none for now.
    /// The sweep holds it weakly: a client destroyed without unwatch() is dropped at the next tick.
    void watch(const std::shared_ptr<Client> &client, Clock::time_point deadline);
    /// Moves the deadline of a watched client (no effect on one not watched).
    void setDeadline(Client &client, Clock::time_point deadline);
    /// Stops watching `client` (no effect on one not watched).
    void unwatch(Client &client);

    /// Clients watched.
    std::size_t size() const { return m_entries.size(); }
    /// Ticks so far (a tick runs only while a deadline is set).
    std::uint64_t ticks() const { return m_ticks; }

private:
    struct Entry {
        Clock::time_point deadline;
        std::weak_ptr<Client> client;
    };
    void removeAt(std::size_t slot);
    void arm();
    void tick();

    std::deque<Entry> m_entries; ///< grows by blocks: no doubled capacity held for thousands of connections
    std::vector<std::shared_ptr<Client>> m_due; ///< scratch of tick(), kept for its capacity
    IoTimer m_timer;
    std::chrono::milliseconds m_resolution;
    std::uint64_t m_ticks = 0;
    bool m_armed = false;
};

} // namespace switchboard::asio
