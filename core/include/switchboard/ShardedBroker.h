#pragma once
// ShardedBroker: one Broker made of several, each channel on one of them (shardOfChannel).

#include "switchboard/Broker.h"

#include <cstddef>
#include <vector>

namespace switchboard {

/// Routes every channel call (subscribe, unsubscribe, publish, history) to the shard
/// shardOfChannel(channel, shards.size()) names, so each channel's offsets, history and delivery
/// live on one shard and keep their order there. The handler is given to every shard; each shard
/// delivers (and reports gaps for) only its own channels. A shard that cannot serve (a Redis that
/// is down) refuses only its channels.
///
/// Ownership: does not own the shards; they must outlive it. Thread safety: that of the shards
/// (none for the Redis ones): every call and callback on the thread that drives the Hub.
class ShardedBroker final : public Broker {
public:
    /// `shards` must not be empty.
    explicit ShardedBroker(std::vector<Broker *> shards);

    std::size_t shardCount() const { return m_shards.size(); }
    std::size_t shardOf(std::string_view channel) const;

    void setHandler(BrokerHandler *handler) override;
    void subscribe(std::string_view channel) override;
    void unsubscribe(std::string_view channel) override;
    void publish(Publication publication,
                 std::function<void(std::error_code, StreamPosition)> done) override;
    void history(std::string_view channel, const HistoryQuery &query,
                 std::function<void(HistoryResult)> done) override;
    /// Summed over the shards.
    std::uint64_t historyEvictions() const override;
    /// Summed over the shards.
    IdempotencyCounters idempotency() const override;

private:
    std::vector<Broker *> m_shards;
};

} // namespace switchboard
