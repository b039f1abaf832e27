#include "HttpSession.h"

#include "PeerText.h"

#include "HttpApi.h"
#include "PusherHttpApi.h"
#include "Log.h"
#include "SseSession.h"
#include "StaticFiles.h"
#include "ConnectProxy.h"
#include "WebSocketSession.h"

#include <switchboard/WireEncoding.h>

#include <sys/socket.h>

#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <boost/url/parse.hpp>

#include <algorithm>
#include <cctype>

namespace switchboard::asio {

namespace {
constexpr std::size_t kHeaderLimit = 16 * 1024;
/// What a new connection's first read takes without waiting: a WebSocket upgrade request from a
/// browser is 400-700 bytes; the rest of a larger one follows with the request's own reads.
constexpr std::size_t kFirstRead = 1024;
}

HttpSession::HttpSession(ServerContext &context, AnyStream stream, const boost::asio::ip::tcp::endpoint &peer, TcpSlot slot)
    : m_ctx(context)
    , m_peer(peer)
    , m_stream(std::move(stream))
    , m_deadline(m_stream->get_executor())
    , m_slot(std::move(slot))
{
}

HttpSession::~HttpSession() = default;

void HttpSession::evictIfIdle()
{
    boost::asio::post(m_deadline.get_executor(), [weak = weak_from_this()] {
        auto self = weak.lock();
        if (!self || !self->m_stream || !self->m_idleTicket)
            return; // busy with a request, or gone
        boost::system::error_code ec;
        if (self->m_buffer.size() > 0 || (self->m_parser && self->m_parser->got_some())
            || self->m_stream->lowest().available(ec) > 0)
            return; // a request has begun (or its first bytes wait in the kernel)
        self->m_idleTicket = 0;
        self->m_ctx.metrics.httpIdleEvictions.fetch_add(1, std::memory_order_relaxed);
        log::refusal("idle connection", peerText(self->m_peer), {}, "closed to make room near the TCP connection limit");
        self->close();
    });
}

void HttpSession::stopWaiting()
{
    if (m_idleTicket) {
        m_ctx.tcp.removeIdle(m_idleTicket);
        m_idleTicket = 0;
    }
}

void HttpSession::start()
{
    read();
}

void HttpSession::read()
{
    m_parser.emplace();
    m_parser->header_limit(kHeaderLimit);
    m_parser->body_limit(m_ctx.config.maxBodyBytes);
    // A new connection's request is usually there by the time it is accepted: taken at once, it
    // needs no readiness wait (nor the re-arm of the socket's registration that one costs), and
    // the connection is never on the idle list.
    if (m_buffer.size() == 0 && !m_idleTicket && (m_stream->isTls() || !takeWaitingBytes()))
        m_idleTicket = m_ctx.tcp.addIdle(weak_from_this());
    // A slow or silent client is dropped; an idle keep-alive connection too.
    m_phase = Phase::Reading;
    m_deadline.expires_after(m_ctx.config.headerTimeout);
    m_deadline.async_wait([weak = weak_from_this()](const boost::system::error_code &ec) {
        if (auto self = weak.lock(); self && !ec)
            self->onRequestDeadline();
    });
    if (m_idleTicket && !m_stream->isTls()) {
        // Idle: wait until the socket is readable before reading. The bytes stay in the kernel
        // until this session takes itself off the idle list, so a look for room near the TCP
        // limit (evictIfIdle, on another thread) never mistakes a request whose first bytes are
        // between the socket and the session's buffer for an idle connection. (With TLS the
        // stream may already hold decrypted bytes the socket no longer shows: read at once.)
        m_stream->lowest().async_wait(TcpSocket::wait_read, [self = shared_from_this()](boost::system::error_code ec) {
            if (ec)
                return self->onRead(ec);
            self->stopWaiting();
            self->readRequest();
        });
        return;
    }
    readRequest();
}

bool HttpSession::takeWaitingBytes()
{
    // Into a buffer of the stack first: an idle connection keeps no buffer of its own.
    char first[kFirstRead];
    const ssize_t n = ::recv(m_stream->lowest().native_handle(), first, sizeof first, MSG_DONTWAIT);
    if (n <= 0)
        return false; // nothing yet, the end or an error: the readiness wait reports it
    const std::size_t size = static_cast<std::size_t>(n);
    boost::asio::buffer_copy(m_buffer.prepare(size), boost::asio::buffer(first, size));
    m_buffer.commit(size);
    return true;
}

void HttpSession::readRequest()
{
    http::async_read(*m_stream, m_buffer, *m_parser,
                     [self = shared_from_this()](boost::system::error_code ec, std::size_t) { self->onRead(ec); });
}

void HttpSession::onRead(boost::system::error_code ec)
{
    m_deadline.cancel();
    m_phase = Phase::Idle;
    stopWaiting();
    if (!m_stream)
        return;
    if (ec == http::error::end_of_stream || ec == boost::asio::error::eof || ec == boost::asio::error::operation_aborted
        || ec == boost::asio::error::connection_reset || ec == boost::asio::error::bad_descriptor) {
        return close();
    }
    if (ec == http::error::body_limit) {
        m_ctx.metrics.httpTooLarge.fetch_add(1, std::memory_order_relaxed);
        return write(errorResponse(http::status::payload_too_large, "request body too large"), false);
    }
    if (ec == http::error::header_limit) {
        m_ctx.metrics.httpMalformed.fetch_add(1, std::memory_order_relaxed);
        return write(errorResponse(http::status::request_header_fields_too_large, "request header too large"), false);
    }
    if (ec) {
        m_ctx.metrics.httpMalformed.fetch_add(1, std::memory_order_relaxed);
        log::debug("http: bad request: ", ec.message());
        return write(errorResponse(http::status::bad_request, "malformed HTTP request: " + ec.message()), false);
    }
    m_ctx.metrics.httpRequests.fetch_add(1, std::memory_order_relaxed);
    ++m_requests;
    Request request = m_parser->release();
    route(request);
}

void HttpSession::onRequestDeadline()
{
    if (!m_stream || m_phase != Phase::Reading)
        return; // the request arrived as the timer fired
    const bool started = m_buffer.size() > 0 || (m_parser && m_parser->got_some());
    if (started || m_requests == 0) {
        // Half a request, or a connection that never sent one: holding a socket is all it does.
        m_ctx.metrics.httpHeaderTimeouts.fetch_add(1, std::memory_order_relaxed);
        log::refusal("request deadline", peerText(m_peer), {},
                     (started ? "incomplete request after " : "no request after ")
                         + std::to_string(m_ctx.config.headerTimeout.count()) + " ms");
    } else {
        m_ctx.metrics.httpIdleTimeouts.fetch_add(1, std::memory_order_relaxed);
        log::debug("http: idle keep-alive connection from ", peerText(m_peer), " closed");
    }
    close();
}

void HttpSession::route(Request &req)
{
    const auto parsed = boost::urls::parse_origin_form(req.target());
    if (!parsed)
        return write(errorResponse(http::status::bad_request, "malformed request target"), false);
    const boost::urls::url_view url = *parsed;
    const std::string path(url.path());
    const bool keepAlive = req.keep_alive() && !m_ctx.shuttingDown.load();

    // Pusher Channels protocol 7 (docs/pusher.md): /app/{key}, served when an app is configured.
    const bool pusherPath = path.rfind("/app/", 0) == 0 && !m_ctx.config.pusherApps.empty();
    const bool browserStream = path == "/ws" || path == "/sse" || pusherPath;
    if (browserStream && !m_ctx.config.allowedOrigins.empty()) {
        const auto origin = req.find(http::field::origin);
        const auto &allowed = m_ctx.config.allowedOrigins;
        if (origin != req.end() && std::find(allowed.begin(), allowed.end(), origin->value()) == allowed.end()) {
            m_ctx.metrics.rejectedOrigin.fetch_add(1, std::memory_order_relaxed);
            return write(errorResponse(http::status::forbidden, 3502, "origin not allowed"), false);
        }
    }
    if (pusherPath) {
        if (!boost::beast::websocket::is_upgrade(req))
            return write(errorResponse(http::status::upgrade_required, "WebSocket upgrade required"), false);
        // The key and version are checked by PusherProtocol after the upgrade: pusher-js learns
        // why from pusher:error and the close code (4001, 4007, 4008), not from an HTTP status.
        PusherTarget target;
        target.appKey = path.substr(5);
        if (const auto it = url.params().find("protocol"); it != url.params().end())
            target.protocol = (*it).value;
        return upgrade(req, std::move(target));
    }
    if (boost::beast::websocket::is_upgrade(req)) {
        if (path != "/ws")
            return write(errorResponse(http::status::not_found, "WebSocket endpoint is /ws"), false);
        return upgrade(req);
    }
    if (path == "/ws")
        return write(errorResponse(http::status::upgrade_required, "WebSocket upgrade required"), false);
    if (path == "/sse") {
        if (req.method() != http::verb::get)
            return write(errorResponse(http::status::method_not_allowed, "GET only"), false);
        auto sse = std::make_shared<SseSession>(m_ctx, std::move(*m_stream), peerText(m_peer), std::move(m_slot));
        m_stream.reset();
        return sse->start(req, url);
    }
    if (path == "/metrics")
        return write(metricsResponse(m_ctx), keepAlive);
    if (path == "/healthz")
        return write(healthResponse(m_ctx), keepAlive);
    if (isPusherApiPath(m_ctx, path)) {
        auto self = shared_from_this();
        return handlePusherApi(m_ctx, req, url, peerText(m_peer), [self, keepAlive](Response res) {
            // May run under the core lock: post, never write here.
            auto shared = std::make_shared<Response>(std::move(res));
            boost::asio::post(self->m_deadline.get_executor(), [self, shared, keepAlive] {
                self->write(std::move(*shared), keepAlive);
            });
        });
    }
    if (path.rfind("/api/", 0) == 0) {
        auto self = shared_from_this();
        return handleApi(m_ctx, req, url, [self, keepAlive](Response res) {
            // May run under the core lock: post, never write here.
            auto shared = std::make_shared<Response>(std::move(res));
            boost::asio::post(self->m_deadline.get_executor(), [self, shared, keepAlive] {
                self->write(std::move(*shared), keepAlive);
            });
        });
    }
    if (req.method() != http::verb::get && req.method() != http::verb::head)
        return write(errorResponse(http::status::method_not_allowed, "method not allowed"), keepAlive);
    StaticAnswer answer = serveStatic(m_ctx.staticDir, path, req.method() == http::verb::head,
                                      req[http::field::accept_encoding], req[http::field::if_none_match]);
    if (!answer.refusal.empty()) {
        m_ctx.metrics.staticRefused.fetch_add(1, std::memory_order_relaxed);
        log::refusal("static path", peerText(m_peer), {}, answer.refusal + ": " + path);
    }
    if (answer.notModified)
        m_ctx.metrics.staticNotModified.fetch_add(1, std::memory_order_relaxed);
    else if (!answer.encoding.empty())
        m_ctx.metrics.staticPrecompressed.fetch_add(1, std::memory_order_relaxed);
    if (answer.file)
        return writeMessage(std::move(*answer.file), keepAlive);
    write(std::move(answer.response), keepAlive);
}

void HttpSession::upgrade(Request &req, std::optional<PusherTarget> pusher)
{
    const auto key = req.find(http::field::sec_websocket_key);
    const auto version = req.find(http::field::sec_websocket_version);
    if (key == req.end() || !ws::isValidKey(key->value())) {
        m_ctx.metrics.wsHandshakeRefused.fetch_add(1, std::memory_order_relaxed);
        log::refusal("websocket handshake", peerText(m_peer), {}, "Sec-WebSocket-Key missing or not 16 bytes (400)");
        return write(errorResponse(http::status::bad_request, "Sec-WebSocket-Key must be 16 bytes in base64"), false);
    }
    if (version == req.end() || version->value() != "13") {
        m_ctx.metrics.wsHandshakeRefused.fetch_add(1, std::memory_order_relaxed);
        log::refusal("websocket handshake", peerText(m_peer), {}, "Sec-WebSocket-Version is not 13 (426)");
        Response res = errorResponse(http::status::upgrade_required, "WebSocket version 13 is required");
        res.set(http::field::sec_websocket_version, "13");
        return write(std::move(res), false);
    }
    const bool admitted = m_ctx.tryAddConnection();
    auto res = std::make_shared<http::response<http::empty_body>>(http::status::switching_protocols, req.version());
    res->set(http::field::server, "switchboard-gateway");
    res->set(http::field::upgrade, "websocket");
    res->set(http::field::connection, "Upgrade");
    res->set(http::field::sec_websocket_accept, ws::acceptKey(key->value()));
    // permessage-deflate (RFC 7692): every Sec-WebSocket-Extensions header, in order.
    std::string offers;
    for (auto range = req.equal_range(http::field::sec_websocket_extensions); range.first != range.second; ++range.first) {
        if (!offers.empty())
            offers += ", ";
        offers.append(range.first->value());
    }
    int deflateWindowBits = 0;
    if (!offers.empty()) {
        if (const auto agreement = ws::negotiateDeflate(
                offers, ws::DeflateOptions{m_ctx.config.permessageDeflate, m_ctx.config.deflateWindowBits})) {
            res->set(http::field::sec_websocket_extensions, agreement->response);
            deflateWindowBits = agreement->serverWindowBits;
        }
    }
    std::string leftover = boost::beast::buffers_to_string(m_buffer.data());
    m_buffer.consume(m_buffer.size());
    ConnectionInfo info;
    info.transport = "websocket";
    // The binary encoding (docs/protocol.md) when the client offers it; Pusher clients speak
    // their own JSON protocol.
    if (!pusher) {
        std::string offered;
        for (auto range = req.equal_range(http::field::sec_websocket_protocol); range.first != range.second; ++range.first) {
            if (!offered.empty())
                offered += ',';
            offered.append(range.first->value());
        }
        info.encoding = negotiateWireEncoding(offered);
        if (info.encoding == WireEncoding::Binary) {
            res->set(http::field::sec_websocket_protocol, kBinarySubprotocol);
            m_ctx.metrics.wsBinaryEncodingSessions.fetch_add(1, std::memory_order_relaxed);
        }
    }
    if (!m_ctx.config.connectProxy.empty()) { // only the connect proxy reads them
        for (const auto &field : req) {
            std::string name(field.name_string());
            std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
            const bool seen = std::any_of(info.headers.begin(), info.headers.end(),
                                          [&](const auto &header) { return header.first == name; });
            if (!seen && ConnectProxy::forwardsHeader(name)) // one value per name: the first
                info.headers.emplace_back(std::move(name), std::string(field.value()));
        }
    }
    http::async_write(*m_stream, *res,
                      [self = shared_from_this(), res, admitted, deflateWindowBits, leftover = std::move(leftover), info = std::move(info),
                       pusher = std::move(pusher)](
                          const boost::system::error_code &ec, std::size_t) mutable {
                          if (ec) {
                              if (admitted)
                                  self->m_ctx.removeConnection();
                              return self->close();
                          }
                          if (!admitted) {
                              // Over the connection limit (3003 server full) or shutting down
                              // (3000: reconnect, to another node): the client learns why through
                              // the close code, then the connection is dropped.
                              const bool shutdown = self->m_ctx.shuttingDown.load();
                              (shutdown ? self->m_ctx.metrics.rejectedShutdown : self->m_ctx.metrics.rejectedFull)
                                  .fetch_add(1, std::memory_order_relaxed);
                              auto frame = std::make_shared<std::string>();
                              if (shutdown)
                                  ws::appendCloseFrame(*frame, static_cast<std::uint16_t>(DisconnectCode::Shutdown),
                                                       "server shutting down");
                              else
                                  ws::appendCloseFrame(*frame, static_cast<std::uint16_t>(DisconnectCode::ServerFull),
                                                       "server full");
                              boost::asio::async_write(*self->m_stream, boost::asio::buffer(*frame),
                                                       [self, frame](const boost::system::error_code &, std::size_t) { self->close(); });
                              return;
                          }
                          // The session keeps the connection's TCP slot until it is destroyed
                          // (with its socket); one allocation holds both and the control block.
                          auto session = std::make_shared<WebSocketSession>(
                              self->m_ctx, std::move(*self->m_stream), std::move(self->m_slot), self->m_peer, deflateWindowBits);
                          self->m_stream.reset();
                          session->start(std::move(leftover), std::move(info), std::move(pusher));
                      });
}

void HttpSession::write(Response response, bool keepAlive)
{
    writeMessage(std::move(response), keepAlive);
}

namespace {

/// A response being written and its serializer (which refers to it: never moved).
template <class Body>
struct WriteOperation {
    WriteOperation(http::response<Body> r, bool k) : response(std::move(r)), serializer(response), keepAlive(k) {}
    http::response<Body> response;
    http::response_serializer<Body> serializer;
    bool keepAlive;
};

} // namespace

template <class Body>
void HttpSession::writeMessage(http::response<Body> response, bool keepAlive)
{
    if (!m_stream)
        return;
    response.keep_alive(keepAlive);
    m_phase = Phase::Writing;
    m_lastProgress = std::chrono::steady_clock::now();
    if (m_ctx.config.writeTimeout.count() > 0) {
        m_deadline.expires_after(m_ctx.config.writeTimeout);
        watchWriteProgress();
    }
    writeSome(std::make_shared<WriteOperation<Body>>(std::move(response), keepAlive));
}

void HttpSession::watchWriteProgress()
{
    m_deadline.async_wait([weak = weak_from_this()](const boost::system::error_code &ec) {
        auto self = weak.lock();
        if (!self || ec || !self->m_stream || self->m_phase != Phase::Writing)
            return;
        // Stamping progress per write_some is cheaper than re-arming a timer per chunk: the
        // timer wakes once per write timeout and compares.
        const auto stalledUntil = self->m_lastProgress + self->m_ctx.config.writeTimeout;
        if (std::chrono::steady_clock::now() < stalledUntil) {
            self->m_deadline.expires_at(stalledUntil);
            return self->watchWriteProgress();
        }
        self->m_ctx.metrics.httpWriteTimeouts.fetch_add(1, std::memory_order_relaxed);
        log::refusal("write deadline", peerText(self->m_peer), {},
                     "HTTP response made no progress for " + std::to_string(self->m_ctx.config.writeTimeout.count())
                         + " ms");
        self->close();
    });
}

template <class Op>
void HttpSession::writeSome(std::shared_ptr<Op> op)
{
    http::async_write_some(*m_stream, op->serializer,
                           [self = shared_from_this(), op](const boost::system::error_code &ec, std::size_t) {
                               if (ec)
                                   return self->close();
                               self->m_lastProgress = std::chrono::steady_clock::now();
                               if (!op->serializer.is_done())
                                   return self->writeSome(op);
                               self->m_phase = Phase::Idle;
                               self->m_deadline.cancel();
                               if (!op->keepAlive)
                                   return self->close();
                               self->read();
                           });
}

void HttpSession::close()
{
    m_deadline.cancel();
    stopWaiting();
    if (m_stream)
        m_stream->close();
}

} // namespace switchboard::asio
