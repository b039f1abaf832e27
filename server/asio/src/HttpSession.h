#pragma once
// HttpSession: one HTTP/1.1 connection. Parses requests with Beast and routes them: /ws upgrades
// hand the stream to a WebSocketSession, /sse to an SseSession; /api, /metrics, /healthz and
// static files are answered here (keep-alive).
//
// Deadlines: a request (headers and body) must arrive within --header-timeout of the session
// starting to wait for it (switchboard_http_header_timeouts_total); a keep-alive connection
// that sends no byte of a next request within that time is closed as idle
// (switchboard_http_idle_timeouts_total). While it waits without a byte of a request, the
// connection may be closed to make room near the TCP connection limit
// (switchboard_http_idle_evictions_total). A response whose socket takes no byte for
// --write-timeout is dropped (switchboard_http_write_timeouts_total).

#include "AnyStream.h"
#include "HttpTypes.h"
#include "ServerContext.h"
#include "WebSocketSession.h"

#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>

#include <memory>
#include <optional>
#include <string>

namespace switchboard::asio {

/// Runs on the connection's strand (evictIfIdle() posts to it). Lives until the connection closes
/// or is handed over, with its TcpSlot, to a WebSocket or SSE session.
class HttpSession final : public IdleConnection, public std::enable_shared_from_this<HttpSession> {
public:
    /// `peer`: the client's address (from the accept), for log lines and the WebSocket session;
    /// `slot`: its place in the TCP limit.
    HttpSession(ServerContext &context, AnyStream stream, const boost::asio::ip::tcp::endpoint &peer, TcpSlot slot);
    ~HttpSession() override;
    void start();
    void evictIfIdle() override;

private:
    void read();
    /// Plain TCP: moves what the kernel already holds for the socket into m_buffer, without
    /// waiting; false when nothing was there.
    bool takeWaitingBytes();
    void readRequest(); ///< the request itself, once bytes are there (or at once with TLS)
    void onRead(boost::system::error_code ec);
    void onRequestDeadline();
    void watchWriteProgress();
    void route(Request &request);
    void upgrade(Request &request, std::optional<PusherTarget> pusher = std::nullopt);
    void write(Response response, bool keepAlive);
    /// Writes `response` with a serializer, one write_some at a time (a file body is read in
    /// small chunks as the socket takes them), then reads the next request or closes.
    template <class Body> void writeMessage(http::response<Body> response, bool keepAlive);
    template <class Op> void writeSome(std::shared_ptr<Op> op);
    void close();
    void stopWaiting();

    ServerContext &m_ctx;
    boost::asio::ip::tcp::endpoint m_peer; ///< formatted only for a log line (PeerText.h)
    std::optional<AnyStream> m_stream; ///< empty once handed to a WebSocket or SSE session
    boost::beast::flat_buffer m_buffer;
    std::optional<http::request_parser<http::string_body>> m_parser;
    IoTimer m_deadline;
    std::uint64_t m_requests = 0; ///< requests read on this connection
    /// What m_deadline guards: reading a request, or writing a response (progress checked
    /// against m_lastProgress, stamped by every write_some).
    enum class Phase { Idle, Reading, Writing } m_phase = Phase::Idle;
    std::chrono::steady_clock::time_point m_lastProgress;
    TcpSlot m_slot;
    std::uint64_t m_idleTicket = 0; ///< registered in TcpConnections while waiting for a request
};

} // namespace switchboard::asio
