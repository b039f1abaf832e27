#pragma once
// ShardedPresenceStore: one PresenceStore made of several, each channel's roster on one of them.

#include "switchboard/PresenceStore.h"

#include <cstddef>
#include <vector>

namespace switchboard {

/// Routes add, remove and members to the shard shardOfChannel(channel, shards.size()) names: the
/// same shard as ShardedBroker's for the channel. The handler is given to every shard; each
/// announces transitions of its own channels only.
///
/// Ownership: does not own the shards; they must outlive it. Thread safety: that of the shards.
class ShardedPresenceStore final : public PresenceStore {
public:
    /// `shards` must not be empty.
    explicit ShardedPresenceStore(std::vector<PresenceStore *> shards);

    std::size_t shardCount() const { return m_shards.size(); }
    std::size_t shardOf(std::string_view channel) const;

    void setHandler(PresenceHandler *handler) override;
    void add(std::string_view channel, const Member &member, std::string_view sessionId,
             std::function<void(bool firstConnection)> done) override;
    void remove(std::string_view channel, std::string_view userId, std::string_view sessionId,
                std::function<void(bool lastConnection)> done) override;
    void members(std::string_view channel, std::function<void(std::vector<Member>)> done) override;

private:
    std::vector<PresenceStore *> m_shards;
};

} // namespace switchboard
