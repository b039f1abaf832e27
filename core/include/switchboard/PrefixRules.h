#pragma once
// PrefixRules: the rule of a channel among rules keyed by channel-name prefix.

#include <string_view>
#include <vector>

namespace switchboard {

/// The rule of `rules` whose `prefix` (a std::string member) starts `channel` and is the
/// longest such; nullptr when none matches. An empty prefix matches every channel. Among rules
/// with equal prefixes the first wins. Linear: servers have a handful of rules, and callers
/// resolve once per channel or per stream, not per publication.
template <class Rule>
const Rule *longestPrefixRule(const std::vector<Rule> &rules, std::string_view channel)
{
    const Rule *best = nullptr;
    for (const Rule &rule : rules) {
        if (channel.starts_with(rule.prefix) && (!best || rule.prefix.size() > best->prefix.size()))
            best = &rule;
    }
    return best;
}

} // namespace switchboard
