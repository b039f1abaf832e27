#pragma once
// Heartbeat: ClientSession's liveness check of one connection. Private to the client.

#include "switchboard/Timer.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <utility>

namespace switchboard::client {

/// When the connection has been quiet (nothing sent and nothing received) for the ping interval
/// of `welcome`, sends `ping` with an ackId of its own, then expects any frame back within
/// pongTimeout; without one the connection is declared dead (`dead` hook: the session closes it
/// with 3002 and reconnects). Traffic in both directions postpones the ping. The pong that echoes
/// the heartbeat's ackId also times a round trip. An interval of 0 disables it. Not thread-safe;
/// the hooks run from Timer callbacks and must not destroy the Heartbeat.
class Heartbeat {
public:
    struct Hooks {
        std::function<std::uint64_t()> reserveId;         ///< an ackId no operation uses
        std::function<void(std::uint64_t ackId)> sendPing; ///< send {"op":"ping","ackId":...}
        std::function<void()> dead;                        ///< no frame back within pongTimeout
    };

    Heartbeat(Timer &timer, Hooks hooks) : m_timer(timer), m_hooks(std::move(hooks)) {}
    Heartbeat(const Heartbeat &) = delete;
    Heartbeat &operator=(const Heartbeat &) = delete;
    ~Heartbeat() { stop(); }

    /// A connection was welcomed with this ping interval.
    void start(std::chrono::milliseconds interval, std::chrono::milliseconds pongTimeout)
    {
        stop();
        m_interval = std::max(interval, std::chrono::milliseconds(0));
        m_pongTimeout = std::max(pongTimeout, std::chrono::milliseconds(1));
        schedule(m_interval);
    }

    /// The connection ended (or the session closes): no timer left, a late pong is not ours.
    void stop()
    {
        if (m_timerId != 0)
            m_timer.cancel(std::exchange(m_timerId, 0));
        m_pingId = 0;
    }

    void sent() { m_lastSent = m_timer.now(); }
    void received() { m_lastReceived = m_timer.now(); }

    /// A pong echoing `ackId`: the round trip when it answers the heartbeat's ping.
    std::optional<std::chrono::microseconds> answered(std::uint64_t ackId)
    {
        if (ackId == 0 || ackId != m_pingId)
            return std::nullopt;
        m_pingId = 0;
        return std::max(m_timer.nowPrecise() - m_pingAt, std::chrono::microseconds(0));
    }

private:
    void schedule(std::chrono::milliseconds delay)
    {
        if (m_timerId != 0)
            m_timer.cancel(std::exchange(m_timerId, 0));
        if (m_interval.count() <= 0)
            return;
        m_timerId = m_timer.start(std::max(delay, std::chrono::milliseconds(1)), [this] { due(); });
    }

    void due()
    {
        m_timerId = 0;
        const auto now = m_timer.now();
        const auto quietSince = std::min(m_lastSent, m_lastReceived);
        if (now - quietSince < m_interval)
            return schedule(quietSince + m_interval - now);
        m_pingId = m_hooks.reserveId();
        m_pingAt = m_timer.nowPrecise();
        m_hooks.sendPing(m_pingId);
        m_timerId = m_timer.start(m_pongTimeout, [this, pingedAt = now] {
            m_timerId = 0;
            if (m_lastReceived >= pingedAt)
                return schedule(m_lastReceived + m_interval - m_timer.now());
            // Nothing came back: the connection is dead even if the transport has not noticed.
            m_hooks.dead();
        });
    }

    Timer &m_timer;
    Hooks m_hooks;
    TimerId m_timerId = 0;
    std::chrono::milliseconds m_interval{0};
    std::chrono::milliseconds m_pongTimeout{1};
    std::chrono::milliseconds m_lastSent{0};
    std::chrono::milliseconds m_lastReceived{0};
    std::uint64_t m_pingId = 0;            ///< ackId of the heartbeat ping awaiting its pong
    std::chrono::microseconds m_pingAt{0}; ///< Timer::nowPrecise() when it went out
};

} // namespace switchboard::client
