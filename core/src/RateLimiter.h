#pragma once
// RateLimiter: a token bucket driven by Timer::now(), one per connection, against a RateLimit
// that every connection of a protocol shares.
//
// The rate and the burst are the protocol's options, the same for all its connections, so a
// connection keeps only its bucket's state (16 bytes) and is handed the limit on each call.

#include <algorithm>
#include <chrono>

namespace switchboard::detail {

/// `rate` operations per second on average, bursts of up to `burst` (at least 1). A rate <= 0
/// disables the limit.
struct RateLimit {
    RateLimit(double rate, double burst) noexcept : rate(rate), burst(std::max(burst, 1.0)) {}
    double rate;
    double burst;
};

/// One connection's bucket. Not thread-safe; the owner serializes calls. Time comes from the
/// caller (Timer::now()), so tests drive it with a ManualTimer. Every call must pass the same
/// limit as the constructor.
class RateLimiter {
public:
    RateLimiter(const RateLimit &limit, std::chrono::milliseconds now) noexcept : m_tokens(limit.burst), m_last(now) {}

    /// Takes one token if available.
    bool tryConsume(const RateLimit &limit, std::chrono::milliseconds now) noexcept
    {
        if (limit.rate <= 0)
            return true;
        if (now > m_last) {
            const double elapsedSeconds = std::chrono::duration<double>(now - m_last).count();
            m_tokens = std::min(limit.burst, m_tokens + elapsedSeconds * limit.rate);
            m_last = now;
        }
        if (m_tokens < 1.0)
            return false;
        m_tokens -= 1.0;
        return true;
    }

    double tokens() const noexcept { return m_tokens; }

private:
    double m_tokens;
    std::chrono::milliseconds m_last;
};

} // namespace switchboard::detail
