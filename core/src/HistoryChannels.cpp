#include "switchboard/HistoryChannels.h"

#include "switchboard/ChannelName.h"

#include <algorithm>

namespace switchboard {

void addHistoryOnlyChannels(std::vector<ChannelStats> &listed, std::vector<std::string> withHistory)
{
    if (withHistory.empty())
        return;
    for (std::string &name : withHistory) {
        if (validateChannelName(name))
            continue;
        const ChannelType type = channelTypeOf(name);
        listed.push_back(ChannelStats{std::move(name), type, 0, 0});
    }
    // Stable: of the entries sharing a name, the first is the one with subscribers when there is
    // one (those came first), and unique() keeps the first.
    std::stable_sort(listed.begin(), listed.end(), [](const ChannelStats &a, const ChannelStats &b) { return a.name < b.name; });
    listed.erase(std::unique(listed.begin(), listed.end(), [](const ChannelStats &a, const ChannelStats &b) { return a.name == b.name; }),
                 listed.end());
}

} // namespace switchboard
