#pragma once
// RateLimiter: a token bucket driven by Timer::now(), one per connection, against a RateLimit
// that every connection of a protocol shares.
//
// The rate and the burst are the protocol's options, the same for all its connections, so a
// connection keeps only its bucket's state (8 bytes) and is handed the limit on each call.

#include <algorithm>
#include <chrono>
#include <cstdint>

namespace switchboard::detail {

/// A time kept in 32 bits: the low bits of Timer::now()'s milliseconds, for per-connection records
/// that stay small. The time between two stamps (msBetween) is right across the wrap, for any gap
/// under 2^32 ms (49.7 days); a longer gap reads as its remainder.
using MsStamp = std::uint32_t;
inline MsStamp msStamp(std::chrono::milliseconds now) noexcept { return static_cast<MsStamp>(now.count()); }
inline std::uint32_t msBetween(MsStamp earlier, MsStamp later) noexcept { return later - earlier; }

/// `rate` operations per second on average, bursts of up to `burst` (at least 1). A rate <= 0
/// disables the limit.
struct RateLimit {
    RateLimit(double rate, double burst) noexcept : rate(rate), burst(std::max(burst, 1.0)) {}
    double rate;
    double burst;
};

/// One connection's bucket, 8 bytes. Not thread-safe; the owner serializes calls. Time comes from
/// the caller (Timer::now()), so tests drive it with a ManualTimer. Every call must pass the same
/// limit as the constructor, and a time no earlier than the last (Timer::now() is monotonic).
///
/// The last refill's time is kept as an MsStamp, the elapsed time taken with msBetween: right
/// across the wrap (every 49.7 days), and a bucket left alone longer
/// than that refills by the remainder (a few seconds at most fall short of a full bucket, which a
/// connection silent that long is past anyway: its pings count). Tokens are a float: within
/// kTolerance of a whole token counts as one, so that refills of a fraction add up to a token
/// when they should (ten of 0.1 are 0.99999... in binary). A burst past 2^24 acts as no limit
/// (a float no longer tells it from itself minus one).
class RateLimiter {
public:
    RateLimiter() noexcept = default; ///< empty: refused until refilled; for a record not in use
    RateLimiter(const RateLimit &limit, std::chrono::milliseconds now) noexcept
        : m_tokens(static_cast<float>(limit.burst)), m_lastMs(msStamp(now))
    {
    }

    /// Takes one token if available.
    bool tryConsume(const RateLimit &limit, std::chrono::milliseconds now) noexcept
    {
        if (limit.rate <= 0)
            return true;
        const MsStamp nowMs = msStamp(now);
        if (const std::uint32_t elapsedMs = msBetween(m_lastMs, nowMs); elapsedMs > 0) {
            m_tokens = static_cast<float>(std::min(limit.burst, m_tokens + elapsedMs * limit.rate / 1000.0));
            m_lastMs = nowMs;
        }
        if (m_tokens < 1.0f - kTolerance)
            return false;
        m_tokens = std::max(0.0f, m_tokens - 1.0f);
        return true;
    }

    double tokens() const noexcept { return m_tokens; }

private:
    static constexpr float kTolerance = 1e-4f;

    float m_tokens = 0;
    MsStamp m_lastMs = 0;
};

} // namespace switchboard::detail
