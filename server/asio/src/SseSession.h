#pragma once
// SseSession: one Server-Sent Events stream (GET /sse?channels=a,b). A Hub session (not a
// ServerProtocol one): it joins its channels at start, optionally resuming from Last-Event-ID,
// and turns each message frame into an SSE event. Its content filter (core ContentFilter) is
// applied by the Hub, live and on Last-Event-ID recovery, as for WebSocket subscribers.
// Frames wait in a bounded Outbox (outboxFrames / outboxBytes, policy drop or close 3001); a
// write that makes no progress for --write-timeout drops the client
// (switchboard_sse_write_timeouts_total).

#include "AnyStream.h"
#include "HttpTypes.h"
#include "ServerContext.h"

#include <switchboard/ContentFilter.h>
#include <switchboard/Outbox.h>
#include <switchboard/Publication.h>
#include <switchboard/Session.h>

#include <boost/asio/steady_timer.hpp>
#include <boost/url/url_view.hpp>

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace switchboard::asio {

/// Thread safety: send() and close() from any thread (queue under the session mutex, post to
/// the strand); everything else on the connection's strand.
class SseSession final : public Session, public std::enable_shared_from_this<SseSession> {
public:
    /// `peer`: the client's address as text, for log lines; `slot`: its place in the TCP limit,
    /// held until the session is destroyed.
    SseSession(ServerContext &context, AnyStream stream, std::string peer, TcpSlot slot);
    ~SseSession() override;

    /// Validates the query, joins the channels and starts streaming; on a bad request answers
    /// with an HTTP error and closes. The connection is not yet counted.
    void start(const Request &request, const boost::urls::url_view &url);

    SendOutcome send(const SharedFrame &frame) override;
    void close(DisconnectCode code, std::string_view reason) override;

    /// Position text of Last-Event-ID: `<channel>:<offset>:<epoch>` entries separated by spaces.
    static std::map<std::string, StreamPosition> parseEventId(std::string_view id);

private:
    void refuse(http::status status, int code, std::string_view message);
    void joined(std::vector<std::pair<std::string, StreamPosition>> positions, std::vector<std::string> replay,
                std::error_code error, std::string_view errorChannel);
    void scheduleFlushLocked();
    void flush();
    void appendEvent(const std::string &frameBytes);
    void watchPeer();
    void heartbeat();
    void watchExpiry();
    template <class Handler> void writeOut(Handler handler);
    void watchWriteProgress();
    void finish();

    ServerContext &m_ctx;
    std::string m_peer;
    std::string m_user;            ///< the token's subject, for log lines
    std::int64_t m_expiresAtMs = 0; ///< the token's expiry (ms since the epoch); 0: never
    AnyStream m_stream;
    std::string m_sessionId;
    std::shared_ptr<const ContentFilter> m_filter; ///< null: every message
    std::map<std::string, StreamPosition> m_positions; ///< strand only: last id per channel

    std::mutex m_mutex;
    Outbox m_outbox;
    std::string m_pendingText;     ///< heartbeats and the final disconnect event
    bool m_ready = false;          ///< header written: frames may flow
    bool m_writing = false;
    bool m_closing = false;        ///< after the pending write, finish
    bool m_finishedFlag = false;

    std::vector<SharedFrame> m_batch;
    std::string m_out;
    bool m_finished = false;
    bool m_counted = false;
    bool m_attached = false;
    char m_peerByte[64];
    IoTimer m_heartbeat;
    IoTimer m_expiry; ///< ends the stream (3004) when the token expires
    TcpSlot m_slot;
    IoTimer m_writeDeadline; ///< drops a client whose socket takes no byte for writeTimeout
    bool m_inFlight = false;                   ///< strand only: a write of m_out is under way
    std::chrono::steady_clock::time_point m_lastProgress;
};

} // namespace switchboard::asio
