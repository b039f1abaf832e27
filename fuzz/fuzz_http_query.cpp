// The gateway's HTTP query parsing: the request target (Boost.URL origin form, as HttpSession
// routes it), the /sse query (`channels` lists, `filter=field=value` through core's
// ContentFilter) and Last-Event-ID.
// Input lines: request target, Last-Event-ID, JSON message data.
// Invariants: list items are never empty and never hold the separator; a filter parses or names
// its problem; a single data equality matches the data built from its own path and value;
// Last-Event-ID positions survive being written back as `<channel>:<offset>:<epoch>` and parsed
// again.
#include "FuzzSupport.h"

#include "HttpTypes.h"
#include "SseSession.h"

#include <switchboard/ContentFilter.h>

#include <boost/json.hpp>
#include <boost/url/parse.hpp>

#include <string>

using namespace switchboard;
using namespace switchboard::asio;
namespace json = boost::json;

namespace {

void checkFilter(std::string_view text, const json::value *data)
{
    std::string problem;
    const auto filter = ContentFilter::parse({text}, problem);
    FUZZ_CHECK(filter.has_value() == problem.empty());
    if (!filter)
        return;
    (void)filter->matches("incident.created", data);
    const auto &conditions = filter->conditions();
    if (conditions.size() != 1 || conditions[0].event || conditions[0].negated)
        return;
    // The object {"a":{"b":"<value>"}} matches a.b=<value>.
    json::value built = json::string(conditions[0].value);
    for (auto it = conditions[0].path.rbegin(); it != conditions[0].path.rend(); ++it) {
        FUZZ_CHECK(!it->empty());
        json::object wrapper;
        wrapper[*it] = std::move(built);
        built = std::move(wrapper);
    }
    FUZZ_CHECK(filter->matches("", &built));
}

void checkLastEventId(std::string_view id)
{
    const auto positions = SseSession::parseEventId(id);
    std::string written;
    for (const auto &[channel, position] : positions) {
        FUZZ_CHECK(!channel.empty() && channel.find(' ') == std::string::npos);
        FUZZ_CHECK(position.epoch.find(':') == std::string::npos && position.epoch.find(' ') == std::string::npos);
        if (!written.empty())
            written += ' ';
        written += channel + ':' + std::to_string(position.offset) + ':' + position.epoch;
    }
    FUZZ_CHECK(SseSession::parseEventId(written) == positions);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
    const auto lines = fuzzsupport::lines(fuzzsupport::text(data, size));
    if (lines.size() > 1)
        checkLastEventId(lines[1]);
    std::optional<json::value> body;
    if (lines.size() > 2) {
        json::error_code ec;
        json::value v = json::parse(lines[2], ec);
        if (!ec)
            body = std::move(v);
    }
    if (lines.empty())
        return 0;
    const auto parsed = boost::urls::parse_origin_form(lines[0]);
    if (!parsed)
        return 0;
    for (const auto &p : parsed->params()) {
        if (p.key == "channels") {
            for (const auto &item : splitList(p.value, ',')) {
                FUZZ_CHECK(!item.empty() && item.find(',') == std::string::npos);
            }
        } else if (p.key == "filter" && !p.value.empty()) {
            checkFilter(p.value, body ? &*body : nullptr);
        } else if (p.key == "lastEventId") {
            checkLastEventId(p.value);
        }
    }
    return 0;
}
