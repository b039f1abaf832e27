#pragma once
// Resident memory, CPU time and open files of a process, and the machine's load, read from
// /proc (Linux).

#include <cstddef>
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

/// Open file descriptors of process `pid` (entries of /proc/PID/fd); nullopt if unreadable.
std::optional<std::size_t> countOpenFiles(int pid);

/// The 1-minute load average (/proc/loadavg); nullopt if unreadable.
std::optional<double> loadAverage();

/// CPU time (user + system) of the calling process.
double selfCpuSeconds();

/// Raises the soft open-file limit to the hard one; returns the new soft limit.
std::uint64_t raiseFileLimit();

} // namespace switchboard::bench
