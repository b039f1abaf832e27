#pragma once
// Outbox: the bounded per-session queue of shared frames that transports embed.

#include "switchboard/Frame.h"
#include "switchboard/Session.h"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace switchboard {

/// A session's outbox bounds. An Outbox keeps them in 32 bits: larger values act as 2^32 - 1.
struct OutboxLimits {
    std::size_t maxFrames = 4096;
    std::size_t maxBytes = 4u << 20; // 4 MiB
};

/// What the Hub does when a session's outbox is full.
enum class SlowConsumerPolicy {
    DropMessage,      ///< the frame is dropped for this session only and counted
    DisconnectClient, ///< the session is closed with DisconnectCode::SlowConsumer
};

/// FIFO of shared frames bounded in frames and bytes. Holds references, never copies bytes.
///
/// A transport pushes frames as the Hub sends them and, when its socket is free, takes
/// everything queued in one go (takeAll) to write it as one gather write. `externalBytes` lets a
/// transport count bytes already handed to its socket layer (QWebSocket::bytesToWrite) against
/// the same byte limit. Not thread-safe: the owner serializes access.
///
/// Each frame's ChannelPolicy decides what a push does when the frame does not fit, or when a
/// frame of its conflation key is already pending:
/// - LatestOnly: a pending frame with the same Frame::conflationKey is replaced in place (same
///   queue position, byte count adjusted; SendOutcome::conflated = 1). The key index behind it is
///   allocated only while LatestOnly frames are pending and freed by takeAll(), so an idle
///   outbox holds none. No room (no pending frame of the key, or the newer frame does not fit
///   where the older one was): Dropped.
/// - DropOldest: the oldest pending frames, whatever their policy, are dropped until the new
///   one fits (SendOutcome::evicted, counted in droppedCount()); O(1) amortised (a head index,
///   compacted when half the storage is dead). A frame that cannot fit even in an empty outbox
///   (bytes above the limit with `externalBytes`): Dropped.
/// - DropNewest and Disconnect: Dropped; the Hub applies the rest of the policy.
class Outbox {
public:
    explicit Outbox(OutboxLimits limits = {})
        : m_maxFrames(clamped(limits.maxFrames)), m_maxBytes(clamped(limits.maxBytes))
    {
    }

    SendOutcome push(const SharedFrame &frame, std::size_t externalBytes = 0);

    /// Moves every queued frame to `out` (appending), oldest first, and empties the outbox. A
    /// lone pending frame is kept inside the outbox (no storage of its own: at one message in
    /// flight, the common case, a session needs no heap block for its queue, and the frame's
    /// reference is on the outbox's own cache line when the transport drains it). With more,
    /// and an empty `out`, the two vectors swap storage: no per-frame work, and a transport
    /// that drains every session into one vector per thread queues and writes without
    /// allocating in the steady state. The outbox keeps at most kRetainedCapacity frames of
    /// storage, and none after the first round: a session's first round is its connect
    /// exchange (`welcome`, often `subscribed`), and an idle connection should not hold that
    /// round's storage for its life; a busy session's later rounds keep theirs.
    void takeAll(std::vector<SharedFrame> &out);

    /// Frames of storage an outbox keeps once drained; a larger buffer (left by a burst) is
    /// released, so an idle session holds no burst-sized one.
    static constexpr std::size_t kRetainedCapacity = 256;

    /// Nothing pending: gives back the storage kept for the next round of frames (up to
    /// kRetainedCapacity frames' worth, often the batch storage of the transport that drained
    /// it). For a transport whose session has gone quiet: under load the storage saves an
    /// allocation per round, after a burst it is up to 4 KiB per idle session. Returns whether
    /// there was storage to give back.
    bool releaseStorage();

    bool empty() const { return !m_lone && m_frames.size() == m_head; }
    std::size_t frameCount() const { return (m_lone ? 1 : 0) + m_frames.size() - m_head; }
    /// Bytes of the pending frames (at most limits().maxBytes, so 32 bits hold them).
    std::size_t byteCount() const { return m_bytes; }
    /// Frames refused (Dropped) and frames evicted by DropOldest, since construction.
    std::size_t droppedCount() const { return m_dropped; }
    OutboxLimits limits() const { return {m_maxFrames, m_maxBytes}; }

private:
    /// Keys view the conflationKey of the frame held in the slot they name; a replacement
    /// re-keys the node to the new frame's string before the old frame can go.
    using LatestIndex = std::unordered_map<std::string_view, std::size_t>;
    static std::uint32_t clamped(std::size_t limit) { return limit > UINT32_MAX ? UINT32_MAX : std::uint32_t(limit); }
    // Inline: push() asks both for every delivery.
    bool fits(std::size_t frameBytes, std::size_t externalBytes) const
    {
        return frameCount() + 1 <= m_maxFrames && m_bytes + externalBytes + frameBytes <= m_maxBytes;
    }
    SendResult level(std::size_t externalBytes) const
    {
        if (frameCount() * 2 > m_maxFrames || (m_bytes + externalBytes) * 2 > m_maxBytes)
            return SendResult::Backpressure;
        return SendResult::Ok;
    }
    void evictOldest();
    void compact();
    /// Moves the lone frame, if any, into m_frames: before anything that indexes m_frames.
    void spillLone();

    // 72 bytes in all: every connection of a gateway embeds one.
    std::vector<SharedFrame> m_frames; // pending: [m_head, end); before m_head: evicted (null)
    /// The only pending frame, when it is not LatestOnly and m_frames holds none pending (and
    /// nothing else: m_head is 0). Anything that queues a second frame moves it to m_frames first.
    SharedFrame m_lone;
    std::unique_ptr<LatestIndex> m_latest; // LatestOnly frames pending: conflation key -> slot
    std::uint64_t m_dropped : 63 = 0;
    std::uint64_t m_firstRoundTaken : 1 = 0; // takeAll() has run: later rounds keep their storage
    std::uint32_t m_maxFrames;
    std::uint32_t m_maxBytes;
    std::uint32_t m_head = 0;  // at most the frames' count, itself at most m_maxFrames
    std::uint32_t m_bytes = 0; // at most m_maxBytes
};

} // namespace switchboard
