#include "switchboard/MemoryPresenceStore.h"

#include <map>
#include <set>
#include <string>

namespace switchboard {

struct MemoryPresenceStore::Impl {
    struct Entry {
        std::string info;
        std::set<std::string, std::less<>> sessions;
    };
    using Roster = std::map<std::string, Entry, std::less<>>;
    std::map<std::string, Roster, std::less<>> channels;
};

MemoryPresenceStore::MemoryPresenceStore() : d(std::make_unique<Impl>()) {}
MemoryPresenceStore::~MemoryPresenceStore() = default;

void MemoryPresenceStore::add(std::string_view channel, const Member &member, std::string_view sessionId,
                              std::function<void(bool)> done)
{
    auto channelIt = d->channels.find(channel);
    if (channelIt == d->channels.end())
        channelIt = d->channels.emplace(std::string(channel), Impl::Roster{}).first;
    Impl::Roster &roster = channelIt->second;
    auto userIt = roster.find(member.userId);
    const bool first = userIt == roster.end();
    if (first)
        userIt = roster.emplace(member.userId, Impl::Entry{}).first;
    userIt->second.info = member.info;
    userIt->second.sessions.emplace(sessionId);
    if (done)
        done(first);
}

void MemoryPresenceStore::remove(std::string_view channel, std::string_view userId, std::string_view sessionId,
                                 std::function<void(bool)> done)
{
    bool last = false;
    auto channelIt = d->channels.find(channel);
    if (channelIt != d->channels.end()) {
        Impl::Roster &roster = channelIt->second;
        auto userIt = roster.find(userId);
        if (userIt != roster.end()) {
            auto &sessions = userIt->second.sessions;
            auto sessionIt = sessions.find(sessionId);
            if (sessionIt != sessions.end()) {
                sessions.erase(sessionIt);
                if (sessions.empty()) {
                    roster.erase(userIt);
                    last = true;
                    if (roster.empty())
                        d->channels.erase(channelIt);
                }
            }
        }
    }
    if (done)
        done(last);
}

void MemoryPresenceStore::members(std::string_view channel, std::function<void(std::vector<Member>)> done)
{
    std::vector<Member> result;
    auto channelIt = d->channels.find(channel);
    if (channelIt != d->channels.end()) {
        result.reserve(channelIt->second.size());
        for (const auto &[userId, entry] : channelIt->second)
            result.push_back(Member{userId, entry.info, entry.sessions.size()});
    }
    if (done)
        done(std::move(result));
}

std::size_t MemoryPresenceStore::channelCount() const
{
    return d->channels.size();
}

} // namespace switchboard
