#pragma once
// Command line of switchboard-loadgen (parsed with Boost.Program_options; see --help).

#include "ProtocolSession.h"

#include <cstddef>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace switchboard::bench {

struct Options
{
    SessionSettings session;
    std::string host = "127.0.0.1";
    unsigned short port = 0;
    unsigned short publisherPort = 0;   // port the publisher connects to; 0: `port` (same server)
    std::string path;                   // WebSocket path; empty: defaultPath(session)
    std::string publisherPath;          // publisher's WebSocket path; empty: defaultPublisherPath(session)
    std::size_t connections = 1000;     // subscribers (the publisher is one more connection)
    std::size_t payload = 64;           // application payload bytes per message
    double rate = 0;                    // messages published per second; 0: flat out
    std::size_t window = 64;            // messages in flight (not yet received by every subscriber)
    double publishDelay = 0;            // seconds between "ready to publish" and the first publication
    double warmup = 1;                  // seconds published before the measurement window
    double duration = 5;                // seconds of the measurement window
    unsigned ioThreads = 1;
    bool busyPoll = false;              // io threads poll without sleeping (see IoWorker)
    std::size_t connectConcurrency = 256; // upgrades in progress at once
    int serverPid = 0;                  // server process to sample for memory and CPU (0: none)
    std::size_t memoryWarmup = 16;      // clients that connect, subscribe and leave before the memory baseline
    std::vector<std::pair<std::string, int>> samplePids; // more processes whose CPU is reported (name, pid)
    double stallTimeout = 10;           // a message still incomplete after this is counted lost
    double setupTimeout = 60;           // bound on opening and subscribing all connections
    std::string label;                  // name printed in the RESULT line
};

/// Parses argv. Returns nullopt after printing help or an error (`exitCode` says which).
std::optional<Options> parseOptions(int argc, char **argv, int &exitCode);

} // namespace switchboard::bench
