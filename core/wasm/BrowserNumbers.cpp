#include "BrowserNumbers.h"

#include <boost/json/detail/config.hpp>
#include <boost/json/detail/format.hpp>

#include <emscripten/emscripten.h>

#include <cstdint>

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
namespace boost::json::detail {

unsigned format_uint64(char *dest, std::uint64_t value) noexcept
{
    char digits[20];
    unsigned n = 0;
    do {
        digits[n++] = static_cast<char>('0' + value % 10);
        value /= 10;
    } while (value != 0);
    for (unsigned i = 0; i < n; ++i)
        dest[i] = digits[n - 1 - i];
    return n;
}

unsigned format_int64(char *dest, std::int64_t value) noexcept
{
    if (value >= 0)
        return format_uint64(dest, static_cast<std::uint64_t>(value));
    *dest = '-';
    // Negate in unsigned arithmetic: INT64_MIN has no positive int64 counterpart.
    return 1 + format_uint64(dest + 1, ~static_cast<std::uint64_t>(value) + 1);
}

unsigned format_double(char *dest, double d) noexcept
{
    return static_cast<unsigned>(switchboard::wasm::formatDouble(dest, d));
}

} // namespace boost::json::detail
