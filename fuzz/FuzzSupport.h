#pragma once
// Helpers shared by the fuzz targets: an invariant check that aborts (libFuzzer then saves the
// input as a crash), and the line splitting most targets use to turn one input into a script.

#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <vector>

/// Aborts with the failed condition when an invariant does not hold.
#define FUZZ_CHECK(condition)                                                                     \
    do {                                                                                          \
        if (!(condition)) {                                                                       \
            std::fprintf(stderr, "fuzz invariant failed: %s (%s:%d)\n", #condition, __FILE__, __LINE__); \
            std::abort();                                                                         \
        }                                                                                         \
    } while (0)

namespace fuzzsupport {

inline std::string_view text(const std::uint8_t *data, std::size_t size)
{
    return {reinterpret_cast<const char *>(data), size};
}

/// `input` cut at each '\n' (the newline is not part of a line; a last empty line is dropped).
inline std::vector<std::string_view> lines(std::string_view input)
{
    std::vector<std::string_view> out;
    while (!input.empty()) {
        const auto nl = input.find('\n');
        out.push_back(input.substr(0, nl));
        if (nl == std::string_view::npos)
            break;
        input.remove_prefix(nl + 1);
    }
    return out;
}

/// The number a script line gives (decimal), or `fallback` when it does not start with one.
template <typename Number>
Number number(std::string_view text, Number fallback = 0)
{
    Number value = fallback;
    if (std::from_chars(text.data(), text.data() + text.size(), value).ec != std::errc())
        return fallback;
    return value;
}

} // namespace fuzzsupport
