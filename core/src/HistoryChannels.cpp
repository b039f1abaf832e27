#include "switchboard/HistoryChannels.h"

#include "switchboard/ChannelName.h"

#include <algorithm>
#include <iterator>

namespace switchboard {

void addHistoryOnlyChannels(std::vector<ChannelStats> &listed, std::vector<std::string> withHistory)
{
    if (withHistory.empty())
        return;
    const auto byName = [](const ChannelStats &a, const ChannelStats &b) { return a.name < b.name; };
    std::sort(listed.begin(), listed.end(), byName); // callers pass it sorted; cheap when it is
    const std::size_t subscribed = listed.size();
    for (std::string &name : withHistory) {
        if (validateChannelName(name))
            continue;
        const auto end = listed.begin() + std::ptrdiff_t(subscribed);
        const auto at = std::lower_bound(listed.begin(), end, name, [](const ChannelStats &c, const std::string &n) { return c.name < n; });
        if (at != end && at->name == name)
            continue;
        const ChannelType type = channelTypeOf(name);
        listed.push_back(ChannelStats{std::move(name), type, 0, 0});
    }
    std::sort(listed.begin(), listed.end(), byName);
    // The same history-only name twice (listed by two sources) is kept once.
    listed.erase(std::unique(listed.begin(), listed.end(), [](const ChannelStats &a, const ChannelStats &b) { return a.name == b.name; }),
                 listed.end());
}

} // namespace switchboard
