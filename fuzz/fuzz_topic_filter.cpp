// Topic filter parsing and matching. Input: a filter on the first line, topics on the next.
// TopicFilter::parse and validateTopicFilter agree; a valid filter's flags follow its segments;
// match() agrees with a plain reference matcher written from the documented rules (`*` one
// segment, `**` one or more trailing segments), and the string and Topic overloads agree.
#include "FuzzSupport.h"

#include <switchboard/Topic.h>
#include <switchboard/TopicFilter.h>

using namespace switchboard;

namespace {

bool referenceMatch(const std::vector<std::string_view> &filter, const std::vector<std::string_view> &topic)
{
    for (std::size_t i = 0; i < filter.size(); ++i) {
        if (filter[i] == kMultiWildcard)
            return i == filter.size() - 1 && topic.size() > i;
        if (i >= topic.size())
            return false;
        if (filter[i] != kSingleWildcard && filter[i] != topic[i])
            return false;
    }
    return topic.size() == filter.size();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
    const auto lines = fuzzsupport::lines(fuzzsupport::text(data, size));
    if (lines.empty())
        return 0;
    std::error_code error;
    const auto filter = TopicFilter::parse(lines[0], error);
    FUZZ_CHECK(filter.has_value() == !error);
    FUZZ_CHECK(validateTopicFilter(lines[0]) == error);
    if (!filter)
        return 0;
    FUZZ_CHECK(filter->str() == lines[0]);
    const auto segments = filter->segments();
    FUZZ_CHECK(segments.size() == filter->depth());
    bool wildcard = false;
    for (std::size_t i = 0; i < segments.size(); ++i) {
        FUZZ_CHECK(!segments[i].empty());
        wildcard = wildcard || segments[i] == kSingleWildcard || segments[i] == kMultiWildcard;
        FUZZ_CHECK(segments[i] != kMultiWildcard || i == segments.size() - 1);
    }
    FUZZ_CHECK(filter->hasWildcard() == wildcard);
    FUZZ_CHECK(filter->isMultiLevel() == (segments.back() == kMultiWildcard));
    // A filter without wildcards is a topic.
    std::error_code topicError;
    FUZZ_CHECK(Topic::parse(lines[0], topicError).has_value() == !wildcard);

    for (std::size_t i = 1; i < lines.size(); ++i) {
        std::error_code e;
        const auto topic = Topic::parse(lines[i], e);
        const bool matched = filter->match(lines[i]);
        if (!topic) {
            FUZZ_CHECK(!matched);
            continue;
        }
        FUZZ_CHECK(matched == filter->match(*topic));
        FUZZ_CHECK(matched == referenceMatch(segments, topic->segments()));
    }
    return 0;
}
