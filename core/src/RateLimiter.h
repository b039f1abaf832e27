#pragma once
// RateLimiter: a token bucket driven by Timer::now(), one per connection.

#include <algorithm>
#include <chrono>

namespace switchboard::detail {

/// Allows `rate` operations per second on average and bursts of up to `burst`. A rate <= 0
/// disables the limit. Not thread-safe; the owner serializes calls. Time comes from the caller
/// (Timer::now()), so tests drive it with a ManualTimer.
class RateLimiter {
public:
    RateLimiter(double rate, double burst, std::chrono::milliseconds now) noexcept
        : m_rate(rate), m_burst(std::max(burst, 1.0)), m_tokens(m_burst), m_last(now)
    {
    }

    /// Takes one token if available.
    bool tryConsume(std::chrono::milliseconds now) noexcept
    {
        if (m_rate <= 0)
            return true;
        if (now > m_last) {
            const double elapsedSeconds = std::chrono::duration<double>(now - m_last).count();
            m_tokens = std::min(m_burst, m_tokens + elapsedSeconds * m_rate);
            m_last = now;
        }
        if (m_tokens < 1.0)
            return false;
        m_tokens -= 1.0;
        return true;
    }

    double tokens() const noexcept { return m_tokens; }

private:
    double m_rate;
    double m_burst;
    double m_tokens;
    std::chrono::milliseconds m_last;
};

} // namespace switchboard::detail
