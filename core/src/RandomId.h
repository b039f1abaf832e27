#pragma once
// Random identifiers for session ids and stream epochs (internal to core).

#include <cstddef>
#include <string>

namespace switchboard::detail {

/// `bytes` random bytes as lowercase hex (2 * bytes characters). The generator is seeded once per
/// thread from std::random_device, so ids cannot be predicted from earlier ones without the seed.
std::string randomHex(std::size_t bytes);

} // namespace switchboard::detail

namespace switchboard::detail {

/// A random number of exactly `digits` decimal digits (no leading zero), from the same generator.
std::string randomDigits(std::size_t digits);

} // namespace switchboard::detail
