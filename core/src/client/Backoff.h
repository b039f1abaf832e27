#pragma once
// Backoff: reconnect delays for ClientSession. Private to the client.

#include "switchboard/ClientSession.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <random>

namespace switchboard::client {

/// Exponential backoff with jitter. Attempt n (from 0) waits
///   base(n) = min(initial * factor^n, max),  delay(n) = base(n) * U(1 - jitter, 1)
/// so delays never exceed `max` and, with jitter, clients that lost the same server spread out
/// instead of reconnecting in lockstep. reset() after a successful welcome starts over.
/// With several endpoints ClientSession moves n on once per round of them: next(false) gives a
/// jittered delay of the current step without moving on.
class Backoff {
public:
    explicit Backoff(BackoffOptions options)
        : m_options(sanitized(options)), m_random(std::random_device{}())
    {
    }

    std::chrono::milliseconds next(bool advance = true)
    {
        const double initial = static_cast<double>(m_options.initial.count());
        const double max = static_cast<double>(m_options.max.count());
        // pow() may reach infinity after a long outage; min() brings it back to the cap.
        double base = initial > 0 ? initial * std::pow(m_options.factor, m_attempt) : 0.0;
        base = std::min(base, max);
        if (advance && m_attempt < 1'000'000)
            ++m_attempt;
        double scale = 1.0;
        if (m_options.jitter > 0) {
            std::uniform_real_distribution<double> distribution(1.0 - m_options.jitter, 1.0);
            scale = distribution(m_random);
        }
        return std::chrono::milliseconds(static_cast<std::int64_t>(std::floor(base * scale)));
    }

    void reset() { m_attempt = 0; }
    int attempts() const { return m_attempt; }

private:
    static BackoffOptions sanitized(BackoffOptions o)
    {
        o.initial = std::max(o.initial, std::chrono::milliseconds(0));
        o.max = std::max(o.max, o.initial);
        o.factor = std::isfinite(o.factor) ? std::max(o.factor, 1.0) : 1.0;
        o.jitter = std::isfinite(o.jitter) ? std::clamp(o.jitter, 0.0, 1.0) : 0.0;
        return o;
    }

    BackoffOptions m_options;
    std::mt19937_64 m_random;
    int m_attempt = 0;
};

} // namespace switchboard::client
