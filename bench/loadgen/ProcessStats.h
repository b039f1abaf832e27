#pragma once
// Resident memory and CPU time of a process, read from /proc (Linux).

#include <cstdint>
#include <optional>

namespace switchboard::bench {

struct ProcessSample
{
    std::uint64_t rssBytes = 0;
    double cpuSeconds = 0; // user + system, all threads
};

/// Samples process `pid`; nullopt if it does not exist or /proc cannot be read.
std::optional<ProcessSample> sampleProcess(int pid);

/// CPU time (user + system) of the calling process.
double selfCpuSeconds();

/// Raises the soft open-file limit to the hard one; returns the new soft limit.
std::uint64_t raiseFileLimit();

} // namespace switchboard::bench
