#pragma once
// What the soak counts, cumulative since the start. The driver copies it (on the io thread) at
// every report and prints differences.
//
// Thread safety: none; written on the soak's io thread, copied through IoThread::runSync.

#include <cstdint>
#include <string>
#include <vector>

namespace switchboard::bench {

struct SoakCounters
{
    std::uint64_t open = 0;              // connections upgraded and not yet finished (gauge)
    std::uint64_t connectsStarted = 0;
    std::uint64_t upgrades = 0;          // WebSocket upgrades completed
    std::uint64_t upgradeFailures = 0;
    std::uint64_t ready = 0;             // connections subscribed to all their channels
    std::uint64_t deliveries = 0;        // publications received
    std::uint64_t lost = 0;              // publications a connected subscriber was owed and missed
    std::uint64_t drainTimeouts = 0;     // leaving subscribers that were still owed publications
    std::uint64_t cleanCloses = 0;       // closing handshakes completed
    std::uint64_t resets = 0;            // connections left with a TCP reset on purpose
    std::uint64_t closeProblems = 0;     // closing handshakes that failed or timed out (then reset)
    std::uint64_t unexpectedCloses = 0;  // closed by the gateway or failed before leaving
    std::uint64_t serverErrors = 0;      // error / disconnect frames
    std::uint64_t published = 0;         // publications acknowledged by the gateway
    std::uint64_t publishErrors = 0;     // publications whose request failed
    std::uint64_t publishBacklog = 0;    // publications allocated, not yet answered (gauge)
    std::vector<std::string> problems;   // first few distinct reasons, for the summary

    void noteProblem(const std::string &what)
    {
        if (problems.size() >= 8)
            return;
        for (const auto &p : problems)
            if (p == what)
                return;
        problems.push_back(what);
    }
};

} // namespace switchboard::bench
