#pragma once
// Outbox: the bounded per-session queue of shared frames that transports embed.

#include "switchboard/Frame.h"
#include "switchboard/Session.h"

#include <cstddef>
#include <deque>
#include <vector>

namespace switchboard {

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
class Outbox {
public:
    explicit Outbox(OutboxLimits limits = {}) : m_limits(limits) {}

    SendResult push(const SharedFrame &frame, std::size_t externalBytes = 0)
    {
        const std::size_t size = frame->bytes.size();
        if (m_frames.size() + 1 > m_limits.maxFrames
            || m_bytes + externalBytes + size > m_limits.maxBytes) {
            ++m_dropped;
            return SendResult::Dropped;
        }
        m_frames.push_back(frame);
        m_bytes += size;
        if (m_frames.size() * 2 > m_limits.maxFrames || (m_bytes + externalBytes) * 2 > m_limits.maxBytes)
            return SendResult::Backpressure;
        return SendResult::Ok;
    }

    /// Moves every queued frame to `out` (appending) and empties the outbox. With an empty
    /// `out` the two vectors swap storage, so a transport that reuses its batch vector queues
    /// and writes without allocating in the steady state.
    void takeAll(std::vector<SharedFrame> &out)
    {
        if (out.empty()) {
            out.swap(m_frames);
            // Do not keep a burst-sized buffer for an idle session.
            if (m_frames.capacity() > kRetainedCapacity)
                std::vector<SharedFrame>().swap(m_frames);
        } else {
            out.insert(out.end(), std::make_move_iterator(m_frames.begin()), std::make_move_iterator(m_frames.end()));
            m_frames.clear();
        }
        m_bytes = 0;
    }

    bool empty() const { return m_frames.empty(); }
    std::size_t frameCount() const { return m_frames.size(); }
    std::size_t byteCount() const { return m_bytes; }
    std::size_t droppedCount() const { return m_dropped; }
    const OutboxLimits &limits() const { return m_limits; }

private:
    static constexpr std::size_t kRetainedCapacity = 256;
    OutboxLimits m_limits;
    std::vector<SharedFrame> m_frames; // only appended to and taken whole: no deque needed
    std::size_t m_bytes = 0;
    std::size_t m_dropped = 0;
};

} // namespace switchboard
