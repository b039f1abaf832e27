#pragma once
// Drives one soak: start (or reach) the gateway, keep the subscribers churning and the publisher
// publishing for the duration, print one report row per interval, then let every subscriber
// drain and leave, and print the summary and a RESULT line.

#include "SoakOptions.h"

namespace switchboard::bench {

/// Returns the process exit code: 0 when nothing was lost and the gateway's fds and RSS stayed
/// within the bounds, 1 otherwise.
int runSoak(const SoakOptions &options);

} // namespace switchboard::bench
