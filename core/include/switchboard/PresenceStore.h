#pragma once
// PresenceStore: who is in a presence channel. One member per user id, however many connections.
// MemoryPresenceStore implements it; a Redis store can replace it without touching Hub.

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

/// Contract: callbacks may run synchronously or later, always on the thread driving the Hub.
class PresenceStore {
public:
    virtual ~PresenceStore() = default;
    /// Adds one connection. `done(true)` when it is the user's first connection in the channel.
    virtual void add(std::string_view channel, const Member &member, std::string_view sessionId,
                     std::function<void(bool firstConnection)> done) = 0;
    /// Removes one connection. `done(true)` when it was the user's last one.
    virtual void remove(std::string_view channel, std::string_view userId, std::string_view sessionId,
                        std::function<void(bool lastConnection)> done) = 0;
    virtual void members(std::string_view channel, std::function<void(std::vector<Member>)> done) = 0;
};

} // namespace switchboard
