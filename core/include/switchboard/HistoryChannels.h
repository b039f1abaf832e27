#pragma once
// Channel listings that also name the channels which only hold history: a channel nobody
// subscribes to keeps its history until its TTL, and listings meant to show "every channel"
// (switchboard-gateway's /api/channels, the Qt Gateway's channels model, so the dashboard) list
// it too, with 0 subscribers.

#include <switchboard/Hub.h>

#include <string>
#include <vector>

namespace switchboard {

/// Adds to `listed` (channels with subscribers, each name once, any order) every name of `withHistory` it
/// does not hold yet, as a channel with 0 subscribers and 0 published (its type from its name),
/// and leaves `listed` sorted by name. Names that are not valid channel names are skipped.
/// `withHistory` may be in any order and hold a name twice. O((n + m) log(n + m)).
void addHistoryOnlyChannels(std::vector<ChannelStats> &listed, std::vector<std::string> withHistory);

} // namespace switchboard
