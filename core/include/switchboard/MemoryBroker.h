#pragma once
// MemoryBroker: the Broker of a single process, with per-channel history in memory.

#include "switchboard/Broker.h"
#include "switchboard/Executor.h"
#include "switchboard/HistoryOptions.h"
#include "switchboard/Timer.h"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>

namespace switchboard {

struct MemoryBrokerOptions {
    HistoryOptions history;
    /// Publications queued per subscribed channel while waiting for delivery to the handler.
    /// When full, a publication is dropped for the handler (still stored in history) and counted.
    std::size_t subscriptionBuffer = 1024;
    /// Null: delivery runs inside publish() (after the history write). Otherwise delivery is
    /// posted to this executor, which must outlive the broker or stop running its tasks.
    Executor *executor = nullptr;
    /// Called with a one-line message on drops and handler failures. May be empty.
    std::function<void(std::string_view message)> log;
    /// How often streams are checked for expired publications when a TTL is configured.
    std::chrono::milliseconds sweepInterval{1000};
};

/// In-memory Broker. Keeps, per channel, a stream: an epoch (random, new whenever the stream is
/// created again after it expired entirely or was evicted), the top offset (starting at 1) and
/// a HistoryBuffer sized by the HistoryOptions rule of the channel. A stream is created by the
/// first publish or by a history query with `createStream` (a join). With a TTL, a stream
/// expires entirely once it holds no publication, nothing was created or published on it for
/// the TTL, and the channel is not subscribed here. Binary publications and channels whose
/// rule has size 0 are delivered but not stored (offset 0, empty epoch).
///
/// Delivery follows the publish order per channel. Each subscribed channel has a bounded queue;
/// a publish made from inside the handler (re-entrant) is queued and delivered after the current
/// delivery returns, so handlers never nest. Handler exceptions are caught, counted and logged;
/// they never reach the publisher.
///
/// Thread safety: none; use from the thread that drives the Hub. Callbacks (`done`) run
/// synchronously inside publish() and history().
class MemoryBroker final : public Broker {
public:
    explicit MemoryBroker(Timer &timer, MemoryBrokerOptions options = {});
    ~MemoryBroker() override;
    MemoryBroker(const MemoryBroker &) = delete;
    MemoryBroker &operator=(const MemoryBroker &) = delete;

    void setHandler(BrokerHandler *handler) override;
    void subscribe(std::string_view channel) override;
    void unsubscribe(std::string_view channel) override;
    void publish(Publication publication,
                 std::function<void(std::error_code, StreamPosition)> done) override;
    void history(std::string_view channel, const HistoryQuery &query,
                 std::function<void(HistoryResult)> done) override;

    const MemoryBrokerOptions &options() const;
    /// Publications dropped because a subscription queue was full, over all channels.
    std::uint64_t dropped() const;
    /// Dropped publications of one subscribed channel (0 when not subscribed).
    std::uint64_t dropped(std::string_view channel) const;
    /// Exceptions thrown by the handler.
    std::uint64_t handlerErrors() const;
    /// Streams currently held.
    std::size_t streamCount() const;

private:
    struct Impl;
    std::unique_ptr<Impl> d;
};

} // namespace switchboard
