#pragma once
// MemoryPresenceStore: the PresenceStore of a single process.

#include "switchboard/PresenceStore.h"

#include <memory>

namespace switchboard {

/// Rosters in memory: per channel, one member per user id with the set of its sessions. The
/// roster lists members ordered by user id. A member's info is the one given by its most recent
/// connection. Callbacks run synchronously. Thread safety: none (the Hub's thread).
class MemoryPresenceStore final : public PresenceStore {
public:
    MemoryPresenceStore();
    ~MemoryPresenceStore() override;
    MemoryPresenceStore(const MemoryPresenceStore &) = delete;
    MemoryPresenceStore &operator=(const MemoryPresenceStore &) = delete;

    /// Adding a session that is already counted for the user changes nothing (done(false)).
    void add(std::string_view channel, const Member &member, std::string_view sessionId,
             std::function<void(bool firstConnection)> done) override;
    /// Removing an unknown user or session changes nothing (done(false)).
    void remove(std::string_view channel, std::string_view userId, std::string_view sessionId,
                std::function<void(bool lastConnection)> done) override;
    void members(std::string_view channel, std::function<void(std::vector<Member>)> done) override;

    /// Channels with at least one member.
    std::size_t channelCount() const;

private:
    struct Impl;
    std::unique_ptr<Impl> d;
};

} // namespace switchboard
