#include "switchboard/TopicFilter.h"

#include <algorithm>

namespace switchboard {

namespace {

// Splits off the first segment of `rest` (which must be non-empty) and advances past its `/`.
// Returns the segment; `rest` becomes empty after the last one and `more` tells which.
std::string_view nextSegment(std::string_view &rest, bool &more) noexcept
{
    const auto slash = rest.find('/');
    const std::string_view segment = rest.substr(0, slash);
    more = slash != std::string_view::npos;
    rest = more ? rest.substr(slash + 1) : std::string_view{};
    return segment;
}

} // namespace

std::error_code validateTopicFilter(std::string_view text) noexcept
{
    if (text.empty())
        return TopicError::Empty;
    if (text.size() > kMaxTopicLength)
        return TopicError::TooLong;
    std::string_view rest = text;
    std::size_t depth = 0;
    bool more = true;
    while (more) {
        const std::string_view segment = nextSegment(rest, more);
        if (++depth > kMaxTopicDepth)
            return TopicError::TooDeep;
        if (segment.empty())
            return TopicError::EmptySegment;
        if (segment == kSingleWildcard)
            continue;
        if (segment == kMultiWildcard) {
            if (more)
                return TopicError::MisplacedWildcard;
            continue;
        }
        if (segment.find('*') != std::string_view::npos)
            return TopicError::MisplacedWildcard;
        // Reuse the topic rules for the characters of a plain segment.
        if (auto error = validateTopic(segment))
            return error;
    }
    return {};
}

std::optional<TopicFilter> TopicFilter::parse(std::string_view text, std::error_code &error)
{
    error = validateTopicFilter(text);
    if (error)
        return std::nullopt;
    TopicFilter filter;
    filter.m_text.assign(text);
    return filter;
}

TopicFilter::TopicFilter(std::string_view text)
{
    if (auto error = validateTopicFilter(text))
        throw std::system_error(error, std::string(text.substr(0, kMaxTopicLength)));
    m_text.assign(text);
}

TopicFilter::TopicFilter(const Topic &topic) : m_text(topic.str()) {}

std::size_t TopicFilter::depth() const noexcept
{
    return static_cast<std::size_t>(std::count(m_text.begin(), m_text.end(), '/')) + 1;
}

std::vector<std::string_view> TopicFilter::segments() const
{
    std::vector<std::string_view> out;
    out.reserve(depth());
    std::string_view rest = m_text;
    bool more = true;
    while (more)
        out.push_back(nextSegment(rest, more));
    return out;
}

bool TopicFilter::hasWildcard() const noexcept
{
    // Validation guarantees `*` appears only as a whole wildcard segment.
    return m_text.find('*') != std::string::npos;
}

bool TopicFilter::isMultiLevel() const noexcept
{
    return m_text == kMultiWildcard || std::string_view(m_text).ends_with("/**");
}

bool TopicFilter::match(const Topic &topic) const noexcept
{
    return matchValid(topic.str());
}

bool TopicFilter::match(std::string_view topic) const noexcept
{
    return !validateTopic(topic) && matchValid(topic);
}

bool TopicFilter::matchValid(std::string_view topic) const noexcept
{
    std::string_view filterRest = m_text;
    std::string_view topicRest = topic;
    bool filterMore = true;
    bool topicMore = true;
    while (filterMore) {
        const std::string_view f = nextSegment(filterRest, filterMore);
        if (!topicMore)
            return false; // the filter has segments left, the topic has none
        if (f == kMultiWildcard)
            return true; // last filter segment (validated); the topic still has at least one
        const std::string_view t = nextSegment(topicRest, topicMore);
        if (f != kSingleWildcard && f != t)
            return false;
    }
    return !topicMore;
}

} // namespace switchboard
