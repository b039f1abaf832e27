#pragma once
// JsonParse: the one parser for JSON that comes from outside the server (client frames,
// publisher bodies of the HTTP API, token claims, snapshots) and from the server to a client.
//
// Boost.JSON turns a number it cannot hold into a double: `1e400` becomes infinity, which it
// serializes as `Infinity` (not JSON), and `123456789012345678901234567890` becomes
// `1.2345678901234568e+29`. Switchboard relays a value by serializing the parsed tree once, so
// such a number would reach subscribers as invalid JSON or with another meaning. parseJson()
// refuses it instead (docs/protocol.md, "Numbers"):
//   - an integer literal (no fraction, no exponent) outside [-2^63, 2^64-1];
//   - a number whose magnitude is beyond the largest double (overflow to infinity);
//   - a non-zero number that underflows to zero (`1e-400`).
// Every other number is kept: integers exactly (int64 / uint64), the rest as the nearest double
// (correctly rounded: std::from_chars natively, the JavaScript engine in the browser; Boost.JSON
// 1.81's own conversion can be one unit in the last place off).

#include "switchboard/Error.h"

#include <boost/json/storage_ptr.hpp>
#include <boost/json/value.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace switchboard {

/// Why parseJson() refused a text.
struct JsonProblem {
    enum class Kind {
        Syntax,           ///< not JSON (or trailing data)
        TooDeep,          ///< nested deeper than `maxDepth`
        NumberOutOfRange, ///< a number that cannot be represented (see above)
    };
    Kind kind = Kind::Syntax;
    /// Human-readable, names the problem: "number out of range: 1e400", "syntax error", ...
    std::string message;

    /// The protocol error code for an error frame: TooLarge for depth, BadRequest otherwise.
    Error code() const noexcept { return kind == Kind::TooDeep ? Error::TooLarge : Error::BadRequest; }
};

struct JsonParseOptions {
    std::size_t maxDepth = 32; ///< arrays and objects nested deeper are refused (TooDeep)
};

/// Parses `text` into `out`, allocating from `out.storage()`. On failure the problem is returned
/// and `out` is null, except for NumberOutOfRange: then `out` holds the document with every
/// refused number replaced by null, so that the caller can read the fields it needs to answer
/// (an ackId); such a document must never be relayed. Never throws for bad input (only
/// std::bad_alloc). Thread-safe: no state.
std::optional<JsonProblem> parseJson(std::string_view text, boost::json::value &out,
                                     JsonParseOptions options = {});

/// True when `text` is one JSON document parseJson() accepts.
bool isAcceptedJson(std::string_view text, JsonParseOptions options = {});

} // namespace switchboard
