#pragma once
// Broker: carries publications between nodes and keeps channel history.
// MemoryBroker (one process) implements it; a Redis broker can replace it without touching Hub.

#include "switchboard/IdempotencyTable.h"
#include "switchboard/Publication.h"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string_view>
#include <system_error>
#include <vector>

namespace switchboard {

/// Receives publications for channels this node subscribed to.
class BrokerHandler {
public:
    virtual ~BrokerHandler() = default;
    virtual void onPublication(const Publication &publication) = 0;
    /// Publications of `channel` may have been lost for this node's subscribers: a network broker
    /// lost its connection and could not read them back. The subscribers must recover (the Hub
    /// closes them with DisconnectCode::InsufficientState). MemoryBroker never calls it.
    virtual void onGap(std::string_view channel) { (void)channel; }
};

struct HistoryQuery {
    /// Return publications with offset > since.offset. A position of another epoch (or beyond
    /// the top) is not of this stream: everything held is returned, with `complete` false.
    std::optional<StreamPosition> since;
    std::size_t limit = 0;               ///< 0: everything held
    bool positionOnly = false;           ///< only `top` is wanted: no publications are copied
    /// When the channel keeps history (its rule has a size) and has no stream, create an empty
    /// one first (when the broker's stream limit leaves room), so that `top` carries the epoch new publications will get ({0, epoch}). A join
    /// asks this: the subscriber then knows the epoch before anything is published.
    bool createStream = false;
};

struct HistoryResult {
    std::error_code error;
    std::vector<Publication> publications; ///< oldest first
    /// Offset of the newest publication and the epoch; {0, ""} when the channel keeps no history
    /// or (without createStream) has no stream.
    StreamPosition top;
    /// True when `since` was given, its epoch is the stream's (never for an empty epoch), and
    /// nothing after it has been evicted: `publications` is then exactly the gap. Always false
    /// on a channel that keeps no history: nothing can be recovered there.
    bool complete = false;
};

/// Contract: callbacks may run synchronously (memory) or later on the executor the broker was
/// built with (network brokers), but always on the thread that drives the Hub. Handler errors
/// never propagate to the publisher.
class Broker {
public:
    virtual ~Broker() = default;
    virtual void setHandler(BrokerHandler *handler) = 0;
    /// This node has local subscribers on `channel` (called on the first local subscriber).
    virtual void subscribe(std::string_view channel) = 0;
    /// The last local subscriber left.
    virtual void unsubscribe(std::string_view channel) = 0;
    /// Assigns offset and epoch (non-binary), stores in history, delivers to every node's handler
    /// that subscribed to the channel. `done` gets the stored position.
    /// With a `publication.idempotencyKey` another publish of the same channel made with the
    /// same key within the broker's idempotency window (on any node sharing the broker's store)
    /// is the original: nothing is stored or delivered, and `done` gets the original's position
    /// (counted in idempotency().duplicates). Recording the key is atomic with the offset.
    virtual void publish(Publication publication,
                         std::function<void(std::error_code, StreamPosition)> done) = 0;
    /// Reads the stream of `channel` (and creates it when `query.createStream` asks so).
    virtual void history(std::string_view channel, const HistoryQuery &query,
                         std::function<void(HistoryResult)> done) = 0;
    /// Streams holding published history that were evicted to respect a stream limit (their
    /// epoch and publications lost). Reported in HubCounters::historyEvictions; 0 by default.
    virtual std::uint64_t historyEvictions() const { return 0; }
    /// What idempotent publishes did on this node (HubCounters::idempotentDuplicates and
    /// idempotencyKeysEvicted); zeros by default.
    virtual IdempotencyCounters idempotency() const { return {}; }
};

} // namespace switchboard
