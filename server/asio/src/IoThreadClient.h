#pragma once
// IoThreadClient: a connection as its io thread's ReadinessPoller and LivenessSweep see it.
//
// Both hold their connections weakly and call them back by a virtual function; each keeps the
// connection's entry index in the connection. One base for both: a connection pays one vtable
// pointer and two 32-bit indices (16 bytes), where a base per service took two of each (32
// bytes, with padding). A class served by only one of them overrides the other's callback as
// "never called".

#include <cstdint>

namespace switchboard::asio {

class IoThreadClient {
public:
    /// ReadinessPoller: its socket's readiness: EPOLLIN, EPOLLOUT, EPOLLRDHUP, EPOLLHUP, EPOLLERR bits.
    virtual void ready(std::uint32_t events) = 0;
    /// LivenessSweep: the deadline set last has passed (it is cleared before the call): check and
    /// set the next.
    virtual void livenessDue() = 0;

protected:
    IoThreadClient() = default;
    ~IoThreadClient() = default;

private:
    friend class ReadinessPoller;
    friend class LivenessSweep;
    static constexpr std::uint32_t kNone = ~std::uint32_t(0);
    std::uint32_t m_pollSlot = kNone;  ///< its entry in the poller, kNone while not registered
    std::uint32_t m_sweepSlot = kNone; ///< its entry in the sweep, kNone while not watched
};

} // namespace switchboard::asio
