#pragma once
// ContentFilter: which publications of a channel a subscriber wants, by their content
// (docs/protocol.md, "Content filters"). One implementation serves the WebSocket `subscribe`
// `filter` member, SSE's `filter=` query parameters and the recovery of both.

#include "switchboard/Publication.h"

#include <boost/json/value.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace switchboard {

/// Limits of one filter; a filter over them is refused (never truncated).
inline constexpr std::size_t kMaxFilterConditions = 16;
inline constexpr std::size_t kMaxFilterConditionLength = 512; ///< bytes of `field=value`
inline constexpr std::size_t kMaxFilterPathDepth = 8;         ///< keys in a data path

/// A conjunction of conditions, each `field=value` or `field!=value`:
///   - `event` is the publication's event name;
///   - any other field is a dotted path into the publication's JSON `data` (`service.tier`);
///     the prefix `data.` names the data explicitly (`data.event` is the data member `event`).
///   - a string found at the path compares as text, any other JSON value by its compact JSON
///     text (`count=3`, `urgent=true`); `=` needs the field present and equal, `!=` holds when
///     the field is absent or differs. A binary publication has no data: only `event` and `!=`
///     conditions can hold for it.
/// Equal filters (the same conditions in any order, repeated ones once) have the same key().
/// Immutable value type; every member is const and thread-safe.
class ContentFilter {
public:
    struct Condition {
        bool event = false;             ///< compares the event name, not the data
        std::vector<std::string> path;  ///< data keys, outermost first (when !event)
        bool negated = false;           ///< `!=`
        std::string value;
        friend bool operator==(const Condition &, const Condition &) = default;
    };

    /// Parses `field=value` / `field!=value` texts (SSE query values). Returns nullopt with
    /// `problem` set (a sentence naming the bad condition) for an empty list, an empty field,
    /// no operator, an empty path segment or a limit exceeded.
    static std::optional<ContentFilter> parse(const std::vector<std::string_view> &conditions,
                                              std::string &problem);
    /// The WebSocket `filter` member: a string (one condition), an array of strings, or an
    /// object `{"severity": "SEV-1", "event": "incident.created"}` (equality per member; a
    /// non-string member compares by its compact JSON text). Other types are refused.
    static std::optional<ContentFilter> fromJson(const boost::json::value &filter, std::string &problem);

    const std::vector<Condition> &conditions() const noexcept { return m_conditions; }
    /// Canonical text of the conditions: equal for equal filters, used to group subscribers.
    const std::string &key() const noexcept { return m_key; }
    /// True when a condition looks at the data (the publication's data must be parsed).
    bool needsData() const noexcept { return m_needsData; }

    /// `data`: the publication's parsed JSON data, or nullptr when it has none (binary) or it
    /// does not parse.
    bool matches(std::string_view event, const boost::json::value *data) const;
    /// Convenience: parses publication.data itself when needed.
    bool matches(const Publication &publication) const;

private:
    ContentFilter() = default;
    bool add(std::string_view text, std::string &problem);
    void finish();

    std::vector<Condition> m_conditions;
    std::string m_key;
    bool m_needsData = false;
};

} // namespace switchboard
