#pragma once
// HttpSession: one HTTP/1.1 connection. Parses requests with Beast and routes them: /ws upgrades
// hand the stream to a WebSocketSession, /sse to an SseSession; /api, /metrics, /healthz and
// static files are answered here (keep-alive).
//
// Deadlines: a request (headers and body) must arrive within --header-timeout of the session
// starting to wait for it (switchboard_http_header_timeouts_total); a keep-alive connection
// that sends no byte of a next request within that time is closed as idle
// (switchboard_http_idle_timeouts_total).

#include "AnyStream.h"
#include "HttpTypes.h"
#include "ServerContext.h"

#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>

#include <memory>
#include <optional>
#include <string>

namespace switchboard::asio {

/// Runs on the connection's strand. Lives until the connection closes or is handed over.
class HttpSession : public std::enable_shared_from_this<HttpSession> {
public:
    /// `peer`: the client's address as text, for log lines.
    HttpSession(ServerContext &context, AnyStream stream, std::string peer);
    void start();

private:
    void read();
    void onRead(boost::system::error_code ec);
    void onRequestDeadline();
    void route(Request &request);
    void upgrade(Request &request);
    void write(Response response, bool keepAlive);
    /// Writes `response` with a serializer, one write_some at a time (a file body is read in
    /// small chunks as the socket takes them), then reads the next request or closes.
    template <class Body> void writeMessage(http::response<Body> response, bool keepAlive);
    template <class Op> void writeSome(std::shared_ptr<Op> op);
    void close();

    ServerContext &m_ctx;
    std::string m_peer;
    std::optional<AnyStream> m_stream; ///< empty once handed to a WebSocket or SSE session
    boost::beast::flat_buffer m_buffer;
    std::optional<http::request_parser<http::string_body>> m_parser;
    boost::asio::steady_timer m_deadline;
    std::uint64_t m_requests = 0; ///< requests read on this connection
};

} // namespace switchboard::asio
