#include "SseFilter.h"

#include "HttpTypes.h"

#include <boost/json.hpp>

namespace json = boost::json;

namespace switchboard::asio {

std::optional<SseFilter> SseFilter::parse(std::string_view text)
{
    const auto eq = text.find('=');
    if (eq == std::string_view::npos || eq == 0)
        return std::nullopt;
    SseFilter filter;
    filter.path = splitList(text.substr(0, eq), '.');
    filter.value = std::string(text.substr(eq + 1));
    return filter;
}

bool SseFilter::matches(const json::value &data) const
{
    const json::value *v = &data;
    for (const auto &key : path) {
        if (!v->is_object())
            return false;
        v = v->as_object().if_contains(key);
        if (!v)
            return false;
    }
    if (v->is_string())
        return v->get_string() == value;
    return json::serialize(*v) == value;
}

} // namespace switchboard::asio
