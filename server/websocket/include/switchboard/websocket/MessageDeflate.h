#pragma once
// MessageDeflate: one message compressed or decompressed on its own (RFC 7692 with no context
// takeover either way), with a zlib stream per thread that is reset between messages. Nothing is
// kept per connection.

#include <cstddef>
#include <string>
#include <string_view>

namespace switchboard::websocket {

/// The RSV1 payload of `message`: raw deflate with the 00 00 ff ff tail removed (RFC 7692
/// 7.2.1). Returns an empty string when compression does not make the message smaller: send it
/// uncompressed then (RSV1 is per message). `windowBits` 9-15. Thread-safe (one stream per
/// thread and window size); about 256 KiB per thread that uses it, for the process's lifetime.
std::string deflateMessage(std::string_view message, int windowBits);

enum class InflateResult {
    Ok,
    TooBig,   ///< more than `maxBytes` would come out: refused as soon as that is known (1009)
    Corrupt,  ///< not a valid deflate stream (1007)
};

/// Decompresses an RSV1 payload (the 00 00 ff ff tail is appended here) into `out` (replaced),
/// stopping as soon as the output would exceed `maxBytes`, so a small "deflate bomb" costs at most
/// `maxBytes` of memory. Thread-safe (one stream per thread, about 44 KiB).
InflateResult inflateMessage(std::string_view payload, std::size_t maxBytes, std::string &out);

} // namespace switchboard::websocket
