#include "switchboard/HistoryOptions.h"

#include "switchboard/PrefixRules.h"

namespace switchboard {

HistoryRule HistoryOptions::ruleFor(std::string_view channel) const
{
    const HistoryRule *best = longestPrefixRule(rules, channel);
    return best ? *best : HistoryRule{};
}

} // namespace switchboard
