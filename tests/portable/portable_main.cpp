// Qt-free checks of core that run natively and under node (wasm-core preset). They prove that
// core behaves the same when compiled by g++ and by Emscripten's clang for WebAssembly.
#include "PortableCheck.h"
#include "PortableSuites.h"

#include "switchboard/ChannelName.h"
#include "switchboard/Error.h"
#include "switchboard/JsonParse.h"
#include "switchboard/Topic.h"
#include "switchboard/TopicFilter.h"

#include <boost/json/serialize.hpp>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
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

void jsonNumbers()
{
    // The wasm build converts doubles with the JavaScript engine (core/wasm/BrowserNumbers.h) and
    // formats integers with its own code; the native build uses Boost.JSON's. Both must agree.
    boost::json::value v;
    SB_CHECK(!sb::parseJson("[1.5, -0.0, 1e300, 2.5e-7, 0.1, 123456789.125, 1E2, -7.25e-3, 1.0]", v));
    SB_CHECK(v.is_array());
    if (v.is_array() && v.as_array().size() == 9) {
        const boost::json::array &a = v.as_array();
        const double expected[] = {1.5, -0.0, 1e300, 2.5e-7, 0.1, 123456789.125, 100.0, -7.25e-3, 1.0};
        for (std::size_t i = 0; i < 9; ++i) {
            SB_CHECK(a[i].is_double());
            SB_CHECK(a[i].is_double() && a[i].get_double() == expected[i]);
        }
        SB_CHECK(a[1].is_double() && std::signbit(a[1].get_double()));
    } else {
        SB_CHECK_MSG(false, "expected an array of 9 numbers");
    }
    // Serialized and read back: the same doubles (doubles stay doubles, -0 keeps its sign).
    const std::string text = boost::json::serialize(v);
    boost::json::value back;
    SB_CHECK_MSG(!sb::parseJson(text, back), text);
    SB_CHECK_MSG(back == v, text);
    if (back.is_array() && back.as_array().size() == 9)
        SB_CHECK_MSG(std::signbit(back.as_array()[1].as_double()), text);
    SB_CHECK_EQ(boost::json::serialize(boost::json::value(1.0)), std::string("1E0"));
    SB_CHECK_EQ(boost::json::serialize(boost::json::value(-0.0)), std::string("-0E0"));
    // Integers exactly, at both ends of their ranges.
    SB_CHECK_EQ(boost::json::serialize(boost::json::value(std::numeric_limits<std::int64_t>::min())),
                std::string("-9223372036854775808"));
    SB_CHECK_EQ(boost::json::serialize(boost::json::value(std::numeric_limits<std::uint64_t>::max())),
                std::string("18446744073709551615"));
    SB_CHECK_EQ(boost::json::serialize(boost::json::value(std::int64_t(0))), std::string("0"));
    SB_CHECK_EQ(boost::json::serialize(boost::json::value(std::int64_t(-42))), std::string("-42"));
    // Out of range: refused as before.
    const auto overflow = sb::parseJson("[1e400]", back);
    SB_CHECK(overflow && overflow->kind == sb::JsonProblem::Kind::NumberOutOfRange);
    const auto underflow = sb::parseJson("{\"x\":-1e-400}", back);
    SB_CHECK(underflow && underflow->kind == sb::JsonProblem::Kind::NumberOutOfRange);
    SB_CHECK(!sb::parseJson("[0e-400, 0.0, 5e-324]", back));
}

} // namespace

int main()
{
    SB_RUN(errorCodes);
    SB_RUN(topics);
    SB_RUN(filters);
    SB_RUN(channelNames);
    SB_RUN(jsonNumbers);
    runRuntimeChecks();
    return sb_portable::summary();
}
