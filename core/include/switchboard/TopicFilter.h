#pragma once
// TopicFilter: a pattern over topics, such as `sensors/*/temperature` or `sensors/**`.

#include "switchboard/Topic.h"

#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace switchboard {

/// Wildcard segments of a filter.
inline constexpr std::string_view kSingleWildcard = "*"; ///< exactly one segment
inline constexpr std::string_view kMultiWildcard = "**"; ///< one or more trailing segments

/// A validated filter. Segments follow the Topic rules, plus two whole-segment wildcards:
/// `*` matches exactly one segment, `**` matches one or more trailing segments and may only be
/// the last segment. So `a/**` matches `a/b` and `a/b/c` but not `a`; `**` matches every topic;
/// `*` matches every single-segment topic. A filter without wildcards matches only the equal topic.
///
/// Errors (TopicError): Empty, EmptySegment, BadCharacter, TooLong (kMaxTopicLength),
/// TooDeep (kMaxTopicDepth segments), MisplacedWildcard (`**` not last, or `*` inside a segment
/// such as `a*` or `***`). Cheap to copy, compares by value.
class TopicFilter {
public:
    /// Returns the filter, or nullopt with `error` set.
    static std::optional<TopicFilter> parse(std::string_view text, std::error_code &error);
    /// Throws std::system_error on invalid input.
    explicit TopicFilter(std::string_view text);
    /// Every topic is a filter that matches exactly itself.
    explicit TopicFilter(const Topic &topic);

    const std::string &str() const noexcept { return m_text; }
    std::size_t depth() const noexcept;
    /// Segment views into str().
    std::vector<std::string_view> segments() const;
    /// Holds `*` or `**` somewhere.
    bool hasWildcard() const noexcept;
    /// Ends with `**`.
    bool isMultiLevel() const noexcept;

    bool match(const Topic &topic) const noexcept;
    /// False when `topic` is not a valid topic.
    bool match(std::string_view topic) const noexcept;

    friend bool operator==(const TopicFilter &, const TopicFilter &) = default;
    /// Orders by the text (byte-wise), for ordered containers.
    friend bool operator<(const TopicFilter &a, const TopicFilter &b) noexcept { return a.m_text < b.m_text; }

private:
    TopicFilter() = default;
    bool matchValid(std::string_view topic) const noexcept;
    std::string m_text;
};

/// Validates `text` as a filter without allocating.
std::error_code validateTopicFilter(std::string_view text) noexcept;

} // namespace switchboard
