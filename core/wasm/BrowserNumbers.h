#pragma once
// Number <-> text conversions done by the JavaScript engine, for Emscripten builds of core.
//
// ECMAScript's Number(text) rounds correctly and String(number) gives the shortest text that
// reads back as the same double, so they do what Boost.JSON's own conversions do without
// shipping their tables in the WebAssembly module (BoostJsonHeaderOnly.cpp). Both are plain
// functions with no state; call them from the thread that runs the module.

#include <cstddef>
#include <string_view>

namespace switchboard::wasm {

/// The nearest double to a JSON number literal (already validated by the parser); infinity when
/// its magnitude is beyond the largest double, 0 when it underflows.
double parseNumberLiteral(std::string_view literal);

/// Writes the shortest text that reads back as `d` to `out` (room for at least 27 bytes, Boost's
/// detail::max_number_chars) and returns its length. The text always reads back as a double,
/// never as an integer: `1.0` is written `1E0`, `-0.0` `-0E0`, like Boost.JSON's Ryu output;
/// NaN and infinities are written `NaN`, `Infinity`, `-Infinity` as Boost.JSON 1.81 does
/// (parseJson() never produces them).
std::size_t formatDouble(char *out, double d);

} // namespace switchboard::wasm
