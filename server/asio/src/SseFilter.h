#pragma once
// SseFilter: the content filter of GET /sse?filter=field=value. A message passes when its data
// holds `value` at `field` (a dotted path into nested objects); every filter of a stream must hold.

#include <boost/json/value.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace switchboard::asio {

/// Value type; no state beyond its fields.
struct SseFilter {
    std::vector<std::string> path; ///< object keys, outermost first (empty segments skipped)
    std::string value;

    /// Parses `field=value` (the value may hold '='); nullopt when there is no '=' or nothing
    /// before it.
    static std::optional<SseFilter> parse(std::string_view text);
    /// A string found at `path` is compared as is, anything else by its compact JSON text.
    bool matches(const boost::json::value &data) const;
};

} // namespace switchboard::asio
