#pragma once
// Command line of switchboard-soak (parsed with Boost.Program_options; see --help).

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace switchboard::bench {

struct SoakOptions
{
    // The gateway: either a running one (url, apiKey, gatewayPid) or one started by the soak.
    std::string url;                       // http:// or ws:// base URL of a running gateway
    std::string spawn;                     // path of switchboard-gateway to start on 127.0.0.1:0
    std::vector<std::string> gatewayArgs;  // extra flags for the started gateway
    int gatewayPid = 0;                    // process sampled for fds, RSS and CPU (spawn: the child)
    std::string apiKey;                    // HTTP API key (spawn: random unless given)
    std::string tokenSecret;               // signs one token per connection (empty: anonymous)

    // The load.
    std::size_t connections = 10000;       // subscriber connections kept open
    double churn = 100;                    // connections replaced per second (mean lifetime = connections / churn)
    std::size_t channels = 16;             // channels soak/0 .. soak/<n-1>
    std::size_t channelsPerConnection = 2; // distinct channels each connection subscribes to
    double publishRate = 20;               // publications per second, over all channels
    std::size_t payload = 64;              // bytes of each publication's data string
    double resetFraction = 0.2;            // share of leaving connections that reset instead of closing
    std::size_t connectConcurrency = 128;  // upgrades in progress at once

    // Time.
    double duration = 600;                 // seconds of churn and publishing
    double reportInterval = 60;            // seconds between table rows
    double drainTimeout = 5;               // a leaving subscriber waits this long for what it is owed
    double closeTimeout = 5;               // bound on the closing handshake before a reset
    std::uint32_t seed = 0;                // random lifetimes and channels (0: from the clock)

    // Pass / fail.
    std::size_t maxFdGrowth = 500;         // gateway fds, last row minus first row
    double maxRssGrowthMiB = 32;           // gateway RSS, last row minus first row
};

/// Parses argv. Returns nullopt after printing help or an error (`exitCode` says which).
std::optional<SoakOptions> parseSoakOptions(int argc, char **argv, int &exitCode);

} // namespace switchboard::bench
