// Qt-free checks of core that run natively and under node (wasm-core preset). They prove that
// core behaves the same when compiled by g++ and by Emscripten's clang for WebAssembly.
#include "PortableCheck.h"
#include "PortableSuites.h"

#include "switchboard/ChannelName.h"
#include "switchboard/Error.h"
#include "switchboard/Topic.h"
#include "switchboard/TopicFilter.h"

#include <cstdio>
#include <string>
#include <system_error>

namespace sb = switchboard;

namespace {

void errorCodes()
{
    SB_CHECK(sb::shouldReconnect(3000));
    SB_CHECK(sb::shouldReconnect(1006));
    SB_CHECK(!sb::shouldReconnect(3501));
    SB_CHECK(!sb::shouldReconnect(3503));
    SB_CHECK_EQ(sb::make_error_code(sb::Error::Forbidden).message(), std::string("forbidden"));
    SB_CHECK_EQ(std::string(sb::errorName(sb::Error::RateLimited)), std::string("rate_limited"));
    SB_CHECK(sb::make_error_code(sb::Error::Timeout) != sb::make_error_code(sb::Error::Cancelled));
}

void topics()
{
    std::error_code error;
    auto topic = sb::Topic::parse("sensors/room-1/temperature", error);
    SB_CHECK(topic.has_value());
    SB_CHECK(!error);
    if (topic) {
        SB_CHECK_EQ(topic->depth(), std::size_t(3));
        SB_CHECK_EQ(std::string(topic->segments().at(1)), std::string("room-1"));
    }

    const struct { const char *text; sb::TopicError expected; } invalid[] = {
        {"", sb::TopicError::Empty},
        {"a//b", sb::TopicError::EmptySegment},
        {"/a", sb::TopicError::EmptySegment},
        {"a/", sb::TopicError::EmptySegment},
        {"a b", sb::TopicError::BadCharacter},
        {"a/*", sb::TopicError::WildcardInTopic},
        {"a/**", sb::TopicError::WildcardInTopic},
    };
    for (const auto &row : invalid) {
        std::error_code e;
        SB_CHECK_MSG(!sb::Topic::parse(row.text, e).has_value(), row.text);
        SB_CHECK_MSG(e == sb::make_error_code(row.expected), row.text);
        SB_CHECK_MSG(sb::validateTopic(row.text) == sb::make_error_code(row.expected), row.text);
    }
    SB_CHECK(sb::validateTopic(std::string(sb::kMaxTopicLength, 'a')) == std::error_code());
    SB_CHECK(sb::validateTopic(std::string(sb::kMaxTopicLength + 1, 'a')) == sb::make_error_code(sb::TopicError::TooLong));
    std::string deep = "a";
    for (std::size_t i = 1; i <= sb::kMaxTopicDepth; ++i)
        deep += "/a";
    SB_CHECK(sb::validateTopic(deep) == sb::make_error_code(sb::TopicError::TooDeep));

    bool threw = false;
    try {
        sb::Topic bad("a//b");
    } catch (const std::system_error &e) {
        threw = e.code() == sb::make_error_code(sb::TopicError::EmptySegment);
    }
    SB_CHECK(threw);
    SB_CHECK(sb::Topic("a/b") == sb::Topic("a/b"));
    SB_CHECK(!(sb::Topic("a/b") == sb::Topic("a/c")));
}

void filters()
{
    const struct { const char *filter; const char *topic; bool match; } rows[] = {
        {"a/b", "a/b", true},
        {"a/b", "a/c", false},
        {"a/*", "a/b", true},
        {"a/*", "a/b/c", false},
        {"a/*", "a", false},
        {"*/b", "x/b", true},
        {"a/**", "a/b", true},
        {"a/**", "a/b/c/d", true},
        {"a/**", "a", false},
        {"**", "anything/at/all", true},
        {"*", "one", true},
        {"*", "one/two", false},
        {"a/*/c/**", "a/x/c/d/e", true},
        {"a/*/c/**", "a/x/d/d", false},
    };
    for (const auto &row : rows) {
        std::error_code error;
        auto filter = sb::TopicFilter::parse(row.filter, error);
        SB_CHECK_MSG(filter.has_value() && !error, row.filter);
        if (filter) {
            SB_CHECK_MSG(filter->match(std::string_view(row.topic)) == row.match, row.filter);
            SB_CHECK_MSG(filter->match(sb::Topic(row.topic)) == row.match, row.filter);
        }
    }
    SB_CHECK(!sb::TopicFilter("a/b").match(std::string_view("a//b"))); // invalid topic never matches
    SB_CHECK(sb::TopicFilter("a/**").isMultiLevel());
    SB_CHECK(sb::TopicFilter("a/*/b").hasWildcard());
    SB_CHECK(!sb::TopicFilter("a/b").hasWildcard());
    SB_CHECK(sb::TopicFilter(sb::Topic("x/y")) == sb::TopicFilter("x/y"));

    for (const char *bad : {"a/**/b", "a*", "***", "a/b*", "**a"})
        SB_CHECK_MSG(sb::validateTopicFilter(bad) == sb::make_error_code(sb::TopicError::MisplacedWildcard), bad);
    SB_CHECK(sb::validateTopicFilter("") == sb::make_error_code(sb::TopicError::Empty));
    SB_CHECK(sb::validateTopicFilter("a//*") == sb::make_error_code(sb::TopicError::EmptySegment));
}

void channelNames()
{
    SB_CHECK(sb::channelTypeOf("news") == sb::ChannelType::Public);
    SB_CHECK(sb::channelTypeOf("private-orders") == sb::ChannelType::Private);
    SB_CHECK(sb::channelTypeOf("presence-room") == sb::ChannelType::Presence);
    SB_CHECK_EQ(std::string(sb::channelTypeName(sb::ChannelType::Presence)), std::string("presence"));
    SB_CHECK(!sb::validateChannelName("presence-room/1"));
    SB_CHECK(sb::validateChannelName("a//b") == sb::make_error_code(sb::Error::InvalidName));
    SB_CHECK(sb::validateChannelName("a/*") == sb::make_error_code(sb::Error::InvalidName));
    SB_CHECK(!sb::validateEventName("message"));
    SB_CHECK(!sb::validateEventName("client-typing"));
    SB_CHECK(!sb::validateEventName("incident.created"));
    for (const char *bad : {"", "a..b", ".a", "a.", "a b", "a*", "a\"b", "a\\b"})
        SB_CHECK_MSG(sb::validateEventName(bad) == sb::make_error_code(sb::Error::InvalidName), bad);
    SB_CHECK(sb::validateEventName(std::string(128, 'e')) == std::error_code());
    SB_CHECK(sb::validateEventName(std::string(129, 'e')) == sb::make_error_code(sb::Error::InvalidName));
}

} // namespace

int main()
{
    SB_RUN(errorCodes);
    SB_RUN(topics);
    SB_RUN(filters);
    SB_RUN(channelNames);
    runRuntimeChecks();
    return sb_portable::summary();
}
