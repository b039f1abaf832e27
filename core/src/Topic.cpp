#include "switchboard/Topic.h"

#include <algorithm>
#include <string>

namespace switchboard {

namespace {

class TopicCategory final : public std::error_category {
public:
    const char *name() const noexcept override { return "switchboard.topic"; }
    std::string message(int value) const override
    {
        switch (static_cast<TopicError>(value)) {
        case TopicError::Empty: return "topic is empty";
        case TopicError::EmptySegment: return "topic has an empty segment";
        case TopicError::BadCharacter: return "topic contains a character that is not allowed";
        case TopicError::TooLong: return "topic is longer than 255 bytes";
        case TopicError::TooDeep: return "topic has more than 16 segments";
        case TopicError::WildcardInTopic: return "topic contains a wildcard";
        case TopicError::MisplacedWildcard: return "wildcard is misplaced";
        }
        return "unknown topic error";
    }
};

// Characters allowed in a segment besides ASCII letters and digits.
constexpr std::string_view kPunctuation = "_-=@,.;:+~!#$%^&()[]{}|<>?'";

constexpr bool isSegmentChar(char c) noexcept
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
        || kPunctuation.find(c) != std::string_view::npos;
}

} // namespace

const std::error_category &topicErrorCategory() noexcept
{
    static const TopicCategory category;
    return category;
}

std::error_code validateTopic(std::string_view text) noexcept
{
    if (text.empty())
        return TopicError::Empty;
    if (text.size() > kMaxTopicLength)
        return TopicError::TooLong;
    std::size_t depth = 1;
    std::size_t segmentLength = 0;
    // The first problem found from the left wins, so `a//*` reports the empty segment.
    for (char c : text) {
        if (c == '/') {
            if (segmentLength == 0)
                return TopicError::EmptySegment;
            if (++depth > kMaxTopicDepth)
                return TopicError::TooDeep;
            segmentLength = 0;
            continue;
        }
        if (c == '*')
            return TopicError::WildcardInTopic;
        if (!isSegmentChar(c))
            return TopicError::BadCharacter;
        ++segmentLength;
    }
    if (segmentLength == 0)
        return TopicError::EmptySegment;
    return {};
}

std::optional<Topic> Topic::parse(std::string_view text, std::error_code &error)
{
    error = validateTopic(text);
    if (error)
        return std::nullopt;
    Topic topic;
    topic.m_text.assign(text);
    return topic;
}

Topic::Topic(std::string_view text)
{
    if (auto error = validateTopic(text))
        throw std::system_error(error, std::string(text.substr(0, kMaxTopicLength)));
    m_text.assign(text);
}

std::size_t Topic::depth() const noexcept
{
    return static_cast<std::size_t>(std::count(m_text.begin(), m_text.end(), '/')) + 1;
}

std::vector<std::string_view> Topic::segments() const
{
    std::vector<std::string_view> out;
    out.reserve(depth());
    std::string_view rest = m_text;
    for (;;) {
        const auto slash = rest.find('/');
        out.push_back(rest.substr(0, slash));
        if (slash == std::string_view::npos)
            break;
        rest.remove_prefix(slash + 1);
    }
    return out;
}

} // namespace switchboard
