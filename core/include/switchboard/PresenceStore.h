#pragma once
// PresenceStore: who is in a presence channel. One member per user id, however many connections.
// MemoryPresenceStore implements it; RedisPresenceStore (engine/redis) shares it across nodes.

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace switchboard {

struct Member {
    std::string userId;
    std::string info;            ///< JSON text (object or null)
    std::size_t connections = 0; ///< sessions of this user in the channel
};

/// Told about presence transitions decided elsewhere (another node of a cluster, or a node that
/// died and was swept), so that this node's subscribers of `channel` hear them. A store calls it
/// exactly once per user transition and never for transitions it answered through add() /
/// remove() on this node (the Hub announces those itself). Runs on the thread driving the Hub;
/// it may not call back into the store synchronously.
class PresenceHandler {
public:
    virtual ~PresenceHandler() = default;
    /// `member` became present in `channel` (its user's first connection across the cluster).
    virtual void onMemberAdded(std::string_view channel, const Member &member) = 0;
    /// `member` left `channel` (its user's last connection across the cluster went).
    virtual void onMemberRemoved(std::string_view channel, const Member &member) = 0;
};

/// Contract: callbacks may run synchronously or later, always on the thread driving the Hub.
class PresenceStore {
public:
    virtual ~PresenceStore() = default;
    /// The Hub registers itself (null when it goes). A single-process store never calls it;
    /// the default ignores it.
    virtual void setHandler(PresenceHandler *handler) { (void)handler; }
    /// Adds one connection. `done(true)` when it is the user's first connection in the channel.
    virtual void add(std::string_view channel, const Member &member, std::string_view sessionId,
                     std::function<void(bool firstConnection)> done) = 0;
    /// Removes one connection. `done(true)` when it was the user's last one.
    virtual void remove(std::string_view channel, std::string_view userId, std::string_view sessionId,
                        std::function<void(bool lastConnection)> done) = 0;
    virtual void members(std::string_view channel, std::function<void(std::vector<Member>)> done) = 0;
};

} // namespace switchboard
