// Topic parsing: Topic::parse and validateTopic agree on every input; a valid topic keeps its
// text, splits into non-empty segments within the limits, and is matched by itself and by `**`.
#include "FuzzSupport.h"

#include <switchboard/Topic.h>
#include <switchboard/TopicFilter.h>

#include <string>

using namespace switchboard;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
    const std::string_view input = fuzzsupport::text(data, size);
    std::error_code error;
    const auto topic = Topic::parse(input, error);
    FUZZ_CHECK(topic.has_value() == !error);
    FUZZ_CHECK(validateTopic(input) == error);
    if (!topic)
        return 0;
    FUZZ_CHECK(topic->str() == input);
    FUZZ_CHECK(input.size() <= kMaxTopicLength);
    const auto segments = topic->segments();
    FUZZ_CHECK(segments.size() == topic->depth());
    FUZZ_CHECK(segments.size() >= 1 && segments.size() <= kMaxTopicDepth);
    std::string joined;
    for (const auto segment : segments) {
        FUZZ_CHECK(!segment.empty() && segment.find('/') == std::string_view::npos);
        FUZZ_CHECK(segment != kSingleWildcard && segment != kMultiWildcard);
        if (!joined.empty())
            joined += '/';
        joined += segment;
    }
    FUZZ_CHECK(joined == input);
    const TopicFilter exact(*topic);
    FUZZ_CHECK(exact.match(*topic) && exact.match(input) && !exact.hasWildcard());
    FUZZ_CHECK(TopicFilter(std::string_view("**")).match(*topic));
    return 0;
}
