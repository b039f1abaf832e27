#pragma once
// Drives one load-generator run: open the subscribers (handshakes/s), subscribe them (server
// memory per connection), publish through one more connection (warm-up, then the measured
// window), drain, and print the report plus one machine-readable RESULT line.

#include "Options.h"

namespace switchboard::bench {

/// Returns the process exit code: 0 when the run measured something, 1 otherwise.
int runLoad(const Options &options);

} // namespace switchboard::bench
