// Boost.JSON's integer and double formatting for the browser build of core, defined here so that
// its tables stay out of the module; doubles go to the browser's number conversion
// (BrowserNumbers.h, implemented in wasm/numbers).
#include "BrowserNumbers.h"

#include <boost/json/detail/config.hpp>
#include <boost/json/detail/format.hpp>

#include <cstdint>

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
