#pragma once
// Random identifiers for session ids and stream epochs (internal to core).

#include <cstddef>
#include <string>

namespace switchboard::detail {

/// `bytes` random bytes as lowercase hex (2 * bytes characters). The generator is seeded once per
/// thread from std::random_device, so ids cannot be predicted from earlier ones without the seed.
std::string randomHex(std::size_t bytes);

/// `bytes` bytes from std::random_device (the operating system's generator: getrandom or the
/// CPU's RDRAND on Linux, crypto.getRandomValues in the browser) as lowercase hex, for secrets
/// a client must not predict from ids it has seen (reply nonces). One device call per 4 bytes:
/// slower than randomHex, so not for ids made per message.
std::string unguessableHex(std::size_t bytes);

} // namespace switchboard::detail

namespace switchboard::detail {

/// A random number of exactly `digits` decimal digits (no leading zero), from the same generator.
std::string randomDigits(std::size_t digits);

} // namespace switchboard::detail
