#include "switchboard/ContentFilter.h"

#include "Utf8.h"
#include "switchboard/JsonParse.h"

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <tuple>

namespace json = boost::json;

namespace switchboard {
namespace {

constexpr std::string_view kEventField = "event";
constexpr std::string_view kDataPrefix = "data.";

std::string quoted(std::string_view text)
{
    // Problems quote the offending text, cut so that an error frame stays small.
    return '\'' + detail::shownText(text) + '\'';
}

/// Reads `field` into `condition`; false with `problem` set when it names nothing.
bool readField(std::string_view field, ContentFilter::Condition &condition, std::string &problem,
               std::string_view whole)
{
    if (field.empty()) {
        problem = "filter condition " + quoted(whole) + " has no field before its operator";
        return false;
    }
    if (field == kEventField) {
        condition.event = true;
        return true;
    }
    if (field.starts_with(kDataPrefix))
        field.remove_prefix(kDataPrefix.size());
    std::size_t start = 0;
    while (true) {
        const std::size_t dot = field.find('.', start);
        const std::string_view key = field.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
        if (key.empty()) {
            problem = "filter field " + quoted(field) + " has an empty segment";
            return false;
        }
        if (condition.path.size() == kMaxFilterPathDepth) {
            problem = "filter field " + quoted(field) + " is deeper than " + std::to_string(kMaxFilterPathDepth) + " keys";
            return false;
        }
        condition.path.emplace_back(key);
        if (dot == std::string_view::npos)
            return true;
        start = dot + 1;
    }
}

bool sameText(const json::value &found, std::string_view value)
{
    if (found.is_string())
        return found.get_string() == value;
    return json::serialize(found) == value;
}

} // namespace

bool ContentFilter::add(std::string_view text, std::string &problem)
{
    if (m_conditions.size() == kMaxFilterConditions) {
        problem = "a filter holds at most " + std::to_string(kMaxFilterConditions) + " conditions";
        return false;
    }
    if (text.size() > kMaxFilterConditionLength) {
        problem = "filter condition " + quoted(text) + " is longer than " + std::to_string(kMaxFilterConditionLength)
            + " bytes";
        return false;
    }
    const std::size_t eq = text.find('=');
    if (eq == std::string_view::npos) {
        problem = "filter condition " + quoted(text) + " must be field=value or field!=value";
        return false;
    }
    Condition condition;
    std::string_view field = text.substr(0, eq);
    if (field.ends_with('!')) {
        condition.negated = true;
        field.remove_suffix(1);
    }
    if (!readField(field, condition, problem, text))
        return false;
    condition.value = std::string(text.substr(eq + 1));
    m_conditions.push_back(std::move(condition));
    return true;
}

void ContentFilter::finish()
{
    // Canonical order, duplicates once: equal filters get equal keys whatever the spelling.
    auto less = [](const Condition &a, const Condition &b) {
        return std::tie(a.event, a.path, a.negated, a.value) < std::tie(b.event, b.path, b.negated, b.value);
    };
    std::sort(m_conditions.begin(), m_conditions.end(), less);
    m_conditions.erase(std::unique(m_conditions.begin(), m_conditions.end()), m_conditions.end());
    m_key.clear();
    m_needsData = false;
    for (const Condition &c : m_conditions) {
        // '\0' cannot occur in a path key of the text forms; lengths keep values unambiguous.
        if (c.event) {
            m_key += "event";
        } else {
            m_needsData = true;
            m_key += "data";
            for (const std::string &key : c.path)
                m_key.append(1, '\0').append(std::to_string(key.size())).append(1, ':').append(key);
        }
        m_key += c.negated ? "!=" : "=";
        m_key.append(std::to_string(c.value.size())).append(1, ':').append(c.value).append(1, '\n');
    }
}

std::optional<ContentFilter> ContentFilter::parse(const std::vector<std::string_view> &conditions,
                                                  std::string &problem)
{
    if (conditions.empty()) {
        problem = "filter has no condition";
        return std::nullopt;
    }
    ContentFilter filter;
    for (std::string_view text : conditions) {
        if (!filter.add(text, problem))
            return std::nullopt;
    }
    filter.finish();
    return filter;
}

std::optional<ContentFilter> ContentFilter::fromJson(const json::value &value, std::string &problem)
{
    if (value.is_string())
        return parse({std::string_view(value.get_string())}, problem);
    if (value.is_array()) {
        std::vector<std::string_view> texts;
        for (const json::value &item : value.get_array()) {
            if (!item.is_string()) {
                problem = "filter array items must be strings (field=value)";
                return std::nullopt;
            }
            texts.emplace_back(item.get_string());
        }
        return parse(texts, problem);
    }
    if (value.is_object()) {
        const json::object &object = value.get_object();
        if (object.empty()) {
            problem = "filter has no condition";
            return std::nullopt;
        }
        ContentFilter filter;
        for (const auto &member : object) {
            if (filter.m_conditions.size() == kMaxFilterConditions) {
                problem = "a filter holds at most " + std::to_string(kMaxFilterConditions) + " conditions";
                return std::nullopt;
            }
            const std::string_view field = member.key();
            Condition condition;
            if (!readField(field, condition, problem, field))
                return std::nullopt;
            condition.value = member.value().is_string() ? std::string(member.value().get_string())
                                                         : json::serialize(member.value());
            if (field.size() + 1 + condition.value.size() > kMaxFilterConditionLength) {
                problem = "filter condition " + quoted(field) + " is longer than "
                    + std::to_string(kMaxFilterConditionLength) + " bytes";
                return std::nullopt;
            }
            filter.m_conditions.push_back(std::move(condition));
        }
        filter.finish();
        return filter;
    }
    problem = "filter must be a string, an array of strings or an object";
    return std::nullopt;
}

bool ContentFilter::matches(std::string_view event, const json::value *data) const
{
    for (const Condition &condition : m_conditions) {
        bool equal = false;
        if (condition.event) {
            equal = event == condition.value;
        } else if (data) {
            const json::value *found = data;
            for (const std::string &key : condition.path) {
                found = found->is_object() ? found->get_object().if_contains(key) : nullptr;
                if (!found)
                    break;
            }
            equal = found && sameText(*found, condition.value);
        }
        if (equal == condition.negated)
            return false;
    }
    return true;
}

bool ContentFilter::matches(const Publication &publication) const
{
    if (!m_needsData || publication.binary)
        return matches(publication.event, nullptr);
    unsigned char buffer[2048];
    json::monotonic_resource arena(buffer, sizeof buffer);
    const json::storage_ptr storage(&arena);
    json::value data(storage);
    if (parseJson(publication.data, data))
        return matches(publication.event, nullptr);
    return matches(publication.event, &data);
}

} // namespace switchboard
