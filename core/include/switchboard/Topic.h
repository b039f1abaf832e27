#pragma once
// Topic: a hierarchical name such as `sensors/room-1/temperature`.

#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace switchboard {

/// Validation errors of topics and filters.
enum class TopicError : int {
    Empty = 1,          ///< the whole name is empty
    EmptySegment,       ///< `a//b`, leading or trailing `/`
    BadCharacter,       ///< outside [A-Za-z0-9] and `_-=@,.;:+~!#$%^&()[]{}|<>?'` (no space, `/` separates)
    TooLong,            ///< more than kMaxTopicLength bytes
    TooDeep,            ///< more than kMaxTopicDepth segments
    WildcardInTopic,    ///< `*` or `**` in a topic (only filters may hold them)
    MisplacedWildcard,  ///< `**` not last, or a wildcard mixed into a segment (`a*`)
};
const std::error_category &topicErrorCategory() noexcept;
inline std::error_code make_error_code(TopicError e) noexcept { return {static_cast<int>(e), topicErrorCategory()}; }

inline constexpr std::size_t kMaxTopicLength = 255;
inline constexpr std::size_t kMaxTopicDepth = 16;

/// A validated topic (no wildcards). Cheap to copy, compares by value.
class Topic {
public:
    /// Returns the topic, or nullopt with `error` set.
    static std::optional<Topic> parse(std::string_view text, std::error_code &error);
    /// Throws std::system_error on invalid input.
    explicit Topic(std::string_view text);

    const std::string &str() const noexcept { return m_text; }
    std::size_t depth() const noexcept;
    /// Segment views into str().
    std::vector<std::string_view> segments() const;

    friend bool operator==(const Topic &, const Topic &) = default;
    /// Orders by the text (byte-wise), for ordered containers.
    friend bool operator<(const Topic &a, const Topic &b) noexcept { return a.m_text < b.m_text; }

private:
    Topic() = default;
    std::string m_text;
};

/// Validates `text` as a topic (no wildcards) without allocating.
std::error_code validateTopic(std::string_view text) noexcept;

} // namespace switchboard

template <>
struct std::is_error_code_enum<switchboard::TopicError> : std::true_type {};
