#include "GatewayMetrics.h"

#include <charconv>

namespace switchboard::bench {

std::map<std::string, double, std::less<>> parseUnlabelledSamples(std::string_view text)
{
    std::map<std::string, double, std::less<>> samples;
    while (!text.empty()) {
        const std::size_t end = text.find('\n');
        std::string_view line = text.substr(0, end);
        text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
        if (line.empty() || line.front() == '#')
            continue;
        const std::size_t space = line.find(' ');
        if (space == std::string_view::npos || line.substr(0, space).find('{') != std::string_view::npos)
            continue;
        std::string_view value = line.substr(space + 1);
        value = value.substr(0, value.find(' ')); // an optional timestamp follows
        double number = 0;
        const auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), number);
        if (ec == std::errc())
            samples.emplace(std::string(line.substr(0, space)), number);
    }
    return samples;
}

} // namespace switchboard::bench
