#pragma once
// Publishes stamped messages through one ProtocolSession, either at a fixed rate or flat out
// with at most `window` messages in flight (see DeliveryTracker).
//
// Each message's payload is one reusable buffer whose stamp (send time, sequence) is rewritten
// just before it is framed; messages due at the same moment leave in one write.
//
// Thread safety: lives on the io thread of its session; onComplete() is posted there.

#include "DeliveryTracker.h"
#include "ProtocolSession.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <functional>
#include <string>
#include <vector>

namespace switchboard::bench {

class Publisher
{
public:
    struct Settings
    {
        std::size_t payload = 64;
        double rate = 0;            // messages/s; 0: flat out within the window
        std::size_t window = 64;
        double stallTimeout = 10;   // seconds
    };

    struct Counters
    {
        std::uint64_t sent = 0;
        std::uint64_t completed = 0;
        std::uint64_t retired = 0;          // messages given up on
        std::uint64_t missedDeliveries = 0; // receipts those messages lacked
        std::uint64_t inFlight = 0;
    };

    Publisher(boost::asio::io_context &io, ProtocolSession &session, DeliveryTracker &tracker, Settings settings);

    void start();
    /// Stops publishing; `onDrained` runs (on this thread) once nothing is in flight.
    void stop(std::function<void()> onDrained);
    /// A message reached every subscriber.
    void onComplete(std::uint32_t sequence);

    Counters counters() const { return m_counters; }

private:
    enum class Slot : std::uint8_t { Free, Outstanding, Done };

    void pump();
    void publish(std::size_t count);
    void scheduleTick();
    void scheduleRetire();
    void retireStalled();
    void settle(std::uint32_t sequence);
    void checkDrained();

    ProtocolSession &m_session;
    DeliveryTracker &m_tracker;
    Settings m_settings;
    boost::asio::steady_timer m_tick;
    boost::asio::steady_timer m_retire;
    std::string m_payload;
    std::vector<std::uint64_t> m_sentNs;
    std::vector<Slot> m_slots;
    std::uint64_t m_next = 0;   // next sequence to publish
    std::uint64_t m_oldest = 0; // oldest sequence possibly outstanding
    std::uint64_t m_startNs = 0;
    bool m_running = false;
    std::function<void()> m_onDrained;
    Counters m_counters;
};

} // namespace switchboard::bench
