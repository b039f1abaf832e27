#include "switchboard/ChannelPolicy.h"
#include "switchboard/JsonParse.h"
#include "switchboard/PrefixRules.h"

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <stdexcept>

namespace switchboard {

std::string_view channelPolicyName(ChannelPolicy policy)
{
    switch (policy) {
    case ChannelPolicy::DropNewest: return "drop-newest";
    case ChannelPolicy::DropOldest: return "drop-oldest";
    case ChannelPolicy::LatestOnly: return "latest-only";
    case ChannelPolicy::Disconnect: return "disconnect";
    }
    return "drop-newest";
}

void parseChannelPolicy(std::string_view text, ChannelPolicyRule &rule)
{
    constexpr std::string_view latestOnlyKeyed = "latest-only:";
    rule.keyField.clear();
    if (text == "drop-newest")
        rule.policy = ChannelPolicy::DropNewest;
    else if (text == "drop-oldest")
        rule.policy = ChannelPolicy::DropOldest;
    else if (text == "latest-only")
        rule.policy = ChannelPolicy::LatestOnly;
    else if (text == "disconnect")
        rule.policy = ChannelPolicy::Disconnect;
    else if (text.starts_with(latestOnlyKeyed) && text.size() > latestOnlyKeyed.size()) {
        rule.policy = ChannelPolicy::LatestOnly;
        rule.keyField = std::string(text.substr(latestOnlyKeyed.size()));
    } else {
        throw std::invalid_argument("channel policy must be drop-newest, drop-oldest, latest-only, latest-only:FIELD "
                                    "or disconnect, not '" + std::string(text) + "'");
    }
}

ChannelPolicyRule parseChannelPolicyRule(std::string_view text)
{
    const auto eq = text.find('=');
    if (eq == std::string_view::npos)
        throw std::invalid_argument("channel policy rule wants PREFIX=POLICY, got '" + std::string(text) + "'");
    ChannelPolicyRule rule;
    rule.prefix = std::string(text.substr(0, eq));
    parseChannelPolicy(text.substr(eq + 1), rule);
    return rule;
}

const ChannelPolicyRule *channelPolicyRuleFor(const std::vector<ChannelPolicyRule> &rules, std::string_view channel)
{
    return longestPrefixRule(rules, channel);
}

std::string conflationKeyOf(std::string_view channel, const std::string *keyField, const Publication &publication)
{
    std::string key(channel);
    if (!keyField || publication.binary)
        return key;
    unsigned char buffer[2048];
    boost::json::monotonic_resource arena(buffer, sizeof buffer);
    const boost::json::storage_ptr storage(&arena);
    boost::json::value parsed(storage);
    if (parseJson(publication.data, parsed) || !parsed.is_object())
        return key;
    const boost::json::value *field = parsed.get_object().if_contains(*keyField);
    if (!field)
        return key;
    key += '\0';
    if (field->is_string())
        key += std::string_view(field->get_string());
    else
        key += boost::json::serialize(*field);
    return key;
}

} // namespace switchboard
