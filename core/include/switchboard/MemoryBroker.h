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
#include <iosfwd>
#include <memory>
#include <string_view>
#include <system_error>

namespace switchboard {

/// Why MemoryBroker::loadSnapshot() rejected its input.
enum class SnapshotError : int {
    Unreadable = 1, ///< the stream failed before its end
    NotJson,        ///< the text is not JSON
    Foreign,        ///< valid JSON, but not a Switchboard history snapshot
    Unsupported,    ///< a snapshot of a format version this build does not read
    Malformed,      ///< a snapshot with a missing or mistyped field, or inconsistent offsets
};
const std::error_category &snapshotErrorCategory() noexcept;
inline std::error_code make_error_code(SnapshotError e) noexcept { return {static_cast<int>(e), snapshotErrorCategory()}; }

/// What a snapshot held (save) or what was restored from it (load).
struct SnapshotStats {
    std::size_t streams = 0;
    std::size_t publications = 0;
    /// Load only: publications past their TTL or beyond the channel's size, and whole streams
    /// that expired or whose channel keeps no history under the current rules.
    std::size_t expiredPublications = 0;
    std::size_t droppedStreams = 0;
};

struct MemoryBrokerOptions {
    HistoryOptions history;
    /// Publications queued per subscribed channel while waiting for delivery to the handler.
    /// When full, a publication is dropped for the handler (still stored in history) and counted.
    std::size_t subscriptionBuffer = 1024;
    /// Null: delivery runs inside publish() (after the history write). Otherwise delivery is
    /// posted to this executor, which must outlive the broker or stop running its tasks.
    Executor *executor = nullptr;
    /// Called with a one-line message on drops, handler failures and evictions of published
    /// history (channel, epoch, top offset, publications lost). May be empty.
    std::function<void(std::string_view message)> log;
    /// How often streams are checked for expired publications when a TTL is configured.
    std::chrono::milliseconds sweepInterval{1000};
    /// Idempotent publishes (Broker::publish): how long a key is remembered and how many at most.
    IdempotencyOptions idempotency;
};

/// In-memory Broker. Keeps, per channel, a stream: an epoch (random, new whenever the stream is
/// created again after it expired entirely or was evicted), the top offset (starting at 1) and
/// a HistoryBuffer sized by the HistoryOptions rule of the channel. A stream is created by the
/// first publish or by a history query with `createStream` (a join); one nothing was published
/// to is dropped when the channel's last subscriber leaves, and `maxStreams` is enforced as
/// HistoryOptions describes (subscribers never evict published history). With a TTL, a stream
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
    /// Channels whose stream holds at least one publication not yet expired, by name; subscribed
    /// or not (a channel nobody subscribes to keeps its history until its TTL). For listings
    /// such as the gateway's `/api/channels`.
    std::vector<std::string> channelsWithHistory() const;
    std::uint64_t historyEvictions() const override;
    IdempotencyCounters idempotency() const override;

    /// Writes every stream (channel, epoch, top offset, last activity) and its retained
    /// publications with their storage times to `out` as one JSON document (format
    /// `switchboard-history-snapshot`, version 1; docs/core.md). Times are written as wall clock
    /// so that TTLs keep running while no process holds the history. Expired publications are
    /// dropped first. Binary publications are never in history, so never in a snapshot. Check
    /// `out` for write errors afterwards.
    SnapshotStats saveSnapshot(std::ostream &out);
    /// Replaces every held stream with the streams of a snapshot read from `in`. The current
    /// history rules apply: a channel that no longer keeps history is skipped; publications
    /// stored longer ago (wall clock) than the channel's TTL, or beyond its size, are dropped;
    /// a stream left with no publication whose last activity is older than the TTL is skipped,
    /// so its channel gets a new epoch as usual. Kept streams keep their epoch and offsets:
    /// a subscriber recovering from a position taken before the snapshot gets exactly the gap.
    /// On error (`error` set, SnapshotError) the broker holds no stream at all. Subscriptions
    /// are not touched and nothing is delivered.
    SnapshotStats loadSnapshot(std::istream &in, std::error_code &error);

private:
    struct Impl;
    std::unique_ptr<Impl> d;
};

} // namespace switchboard

template <>
struct std::is_error_code_enum<switchboard::SnapshotError> : std::true_type {};
