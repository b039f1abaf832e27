#pragma once
// Session: the one interface a transport implements so the Hub can reach a connection.

#include "switchboard/Error.h"
#include "switchboard/Frame.h"

#include <cstdint>
#include <string_view>

namespace switchboard {

/// Result of handing a frame to a session (the uWebSockets vocabulary).
enum class SendResult {
    Ok,           ///< queued under the outbox limits
    Backpressure, ///< queued, but the outbox is above its high-water mark (half of a limit)
    Dropped,      ///< not queued: the outbox is full. The Hub applies the slow-consumer policy.
    Closed,       ///< not queued: the connection is closing or gone, so nobody could read the
                  ///< frame. Neither a delivery nor a drop: the Hub counts nothing.
};

/// What one send did: its SendResult, and the pending frames of the session's outbox it took
/// the place of (ChannelPolicy). Converts to and from SendResult, so a send that only queues
/// returns `SendResult::Ok` and callers may compare or switch on the outcome as on the result.
struct SendOutcome {
    SendResult result = SendResult::Ok;
    /// LatestOnly: a pending frame of the same conflation key was replaced by this one (0 or 1).
    std::uint32_t conflated = 0;
    /// DropOldest: the oldest pending frames dropped to make room for this one.
    std::uint32_t evicted = 0;

    SendOutcome(SendResult r = SendResult::Ok) : result(r) {}
    operator SendResult() const { return result; }
};

/// A connection as seen by the Hub. Implemented by transports (Qt, Asio, in-memory for tests).
///
/// Contract:
/// - send() never blocks and never writes to a socket synchronously while the caller holds a
///   lock it cares about; it appends to the session's bounded outbox (see Outbox) and schedules a
///   batched write. It may be called from the thread that drives the Hub only.
/// - close() starts closing the connection with a WebSocket close code; the transport later
///   reports the end to the ServerProtocol / Hub (detach), never from inside close().
/// - A session object stays valid from Hub::attach() until Hub::detach() returns.
class Session {
public:
    virtual ~Session() = default;
    /// Queues `frame` under the session's outbox limits and the frame's ChannelPolicy.
    virtual SendOutcome send(const SharedFrame &frame) = 0;
    virtual void close(DisconnectCode code, std::string_view reason) = 0;

    /// Hub::attach() accepted this session as `sessionId` of user `userId` (empty: anonymous).
    /// Called once, on the Hub's thread, before any frame of the session is handled. Transports
    /// keep both for their log lines. Must not call back into the Hub.
    virtual void attached(std::string_view sessionId, std::string_view userId)
    {
        (void)sessionId;
        (void)userId;
    }
    /// ServerProtocol refused an operation of this session and answered it with an error frame
    /// of `code` saying `reason` (bad input, an operation over the rate, a denied join, a
    /// publish refused...). Called on the Hub's thread, after the error frame was sent and
    /// before anything else of the session is handled. Transports log it with the peer and the
    /// user (rate-limited); the protocol counts it. Closes are not refusals of this kind: the
    /// transport sees them in close(). Must not call back into the Hub or the protocol.
    virtual void refused(Error code, std::string_view reason)
    {
        (void)code;
        (void)reason;
    }
};

} // namespace switchboard
