#pragma once
// The benchmark clients' one clock: steady-clock nanoseconds, stamped into payloads by the
// publisher and read again by the subscribers of the same process.

#include <chrono>
#include <cstdint>

namespace switchboard::bench {

inline std::uint64_t nowNs()
{
    return static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
            .count());
}

} // namespace switchboard::bench
