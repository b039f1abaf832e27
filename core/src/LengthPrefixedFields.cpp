#include "switchboard/LengthPrefixedFields.h"

#include <charconv>

namespace switchboard::detail {

void putLengthPrefixedField(std::string &out, std::string_view value)
{
    out += std::to_string(value.size());
    out += ':';
    out += value;
}

bool takeLengthPrefixedField(std::string_view &in, std::string_view &value) noexcept
{
    const auto colon = in.find(':');
    if (colon == std::string_view::npos || colon == 0)
        return false;
    std::size_t length = 0;
    const auto [end, ec] = std::from_chars(in.data(), in.data() + colon, length);
    if (ec != std::errc{} || end != in.data() + colon || length > in.size() - colon - 1)
        return false;
    value = in.substr(colon + 1, length);
    in.remove_prefix(colon + 1 + length);
    return true;
}

} // namespace switchboard::detail
