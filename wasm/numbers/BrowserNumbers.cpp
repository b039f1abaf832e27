// The browser's number conversions behind core's BrowserNumbers.h: Number(text) and String(d)
// through EM_JS. Kept out of core so that core includes no Emscripten header; every browser
// program that links core links this (Switchboard::BrowserNumbers, linked by core's wasm build).
#include "BrowserNumbers.h"

#include <emscripten/emscripten.h>

// Both read and write the module's memory byte by byte through HEAPU8, so they need nothing else
// from Emscripten's runtime (the browser client and the node-run portable tests alike).
EM_JS(double, sb_js_parse_number, (const char *text, int length), {
    var s = "";
    for (var i = 0; i < length; ++i)
        s += String.fromCharCode(HEAPU8[text + i]);
    return Number(s);
});

EM_JS(int, sb_js_format_double, (double d, char *out), {
    var s;
    if (d !== d)
        s = "NaN";
    else if (d === Infinity || d === -Infinity)
        s = d < 0 ? "-Infinity" : "Infinity";
    else {
        s = String(d);
        if (d === 0 && 1 / d < 0)
            s = "-0";
        if (s.indexOf(".") < 0 && s.indexOf("e") < 0)
            s += "E0"; // stays a double when read back
    }
    for (var i = 0; i < s.length; ++i)
        HEAPU8[out + i] = s.charCodeAt(i);
    return s.length;
});

namespace switchboard::wasm {

double parseNumberLiteral(std::string_view literal)
{
    return sb_js_parse_number(literal.data(), static_cast<int>(literal.size()));
}

std::size_t formatDouble(char *out, double d)
{
    return static_cast<std::size_t>(sb_js_format_double(d, out));
}

} // namespace switchboard::wasm

// The three number formatters Boost.JSON's serializer calls (boost/json/detail/format.hpp), in
// place of format.ipp, which BoostJsonHeaderOnly.cpp leaves out.
