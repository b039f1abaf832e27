#include "switchboard/HistoryOptions.h"

namespace switchboard {

HistoryRule HistoryOptions::ruleFor(std::string_view channel) const
{
    const HistoryRule *best = nullptr;
    for (const HistoryRule &rule : rules) {
        if (channel.starts_with(rule.prefix) && (!best || rule.prefix.size() > best->prefix.size()))
            best = &rule;
    }
    return best ? *best : HistoryRule{};
}

} // namespace switchboard
