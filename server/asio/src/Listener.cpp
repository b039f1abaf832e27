#include "Listener.h"

#include "HttpSession.h"
#include "Log.h"
#include "PeerText.h"

#include <boost/asio/post.hpp>

#include <algorithm>

namespace switchboard::asio {

Listener::Listener(ServerContext &context, const tcp::endpoint &endpoint)
    : m_ctx(context), m_acceptor(context.ioc.get_executor()), m_retry(m_acceptor.get_executor())
{
    m_acceptor.open(endpoint.protocol());
    m_acceptor.set_option(TcpSocket::reuse_address(true));
    m_acceptor.bind(endpoint);
    m_acceptor.listen(TcpSocket::max_listen_connections);
}

tcp::endpoint Listener::localEndpoint() const
{
    return m_acceptor.local_endpoint();
}

void Listener::start()
{
    boost::asio::post(m_acceptor.get_executor(), [self = shared_from_this()] { self->accept(); });
}

void Listener::stop()
{
    boost::asio::post(m_acceptor.get_executor(), [self = shared_from_this()] {
        boost::system::error_code ignored;
        self->m_retry.cancel();
        self->m_acceptor.close(ignored);
    });
}

void Listener::accept()
{
    if (!m_acceptor.is_open())
        return;
    // Every connection lives on one io thread (IoShards): its handlers run one at a time.
    m_acceptor.async_accept(m_ctx.connectionExecutor(), m_acceptedPeer,
                            [self = shared_from_this()](boost::system::error_code ec, TcpSocket socket) {
                                self->onAccept(ec, std::move(socket));
                            });
}

void Listener::onAccept(boost::system::error_code ec, TcpSocket socket)
{
    if (ec == boost::asio::error::operation_aborted || !m_acceptor.is_open())
        return;
    if (ec) {
        // Typically out of file descriptors (EMFILE, ENFILE): the pending connection stays in
        // the backlog; wait, longer each time, instead of spinning, and never stop accepting.
        m_ctx.metrics.acceptErrors.fetch_add(1, std::memory_order_relaxed);
        m_backoff = std::clamp(m_backoff * 2, std::chrono::milliseconds(50), std::chrono::milliseconds(1000));
        log::limited(LogLevel::Warn, "accept",
                     "accept failed: " + ec.message() + "; retrying in " + std::to_string(m_backoff.count()) + " ms");
        m_retry.expires_after(m_backoff);
        m_retry.async_wait([self = shared_from_this()](const boost::system::error_code &e) {
            if (!e)
                self->accept();
        });
        return;
    }
    m_backoff = std::chrono::milliseconds(0);
    m_ctx.metrics.connectionsAccepted.fetch_add(1, std::memory_order_relaxed);
    boost::system::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    if (m_ctx.config.socketSendBuffer > 0)
        socket.set_option(boost::asio::socket_base::send_buffer_size(int(m_ctx.config.socketSendBuffer)), ignored);
    const tcp::endpoint peer = m_acceptedPeer;
    TcpSlot slot = m_ctx.tcp.tryAcquire();
    if (!slot) {
        refuse(socket, peerText(peer));
        m_ctx.tcp.evictOldestIdle(); // room for the next one, if idle connections hold the slots
        return accept();
    }
    // Near the limit, the connection idle the longest makes room (before the limit refuses).
    if (m_ctx.tcp.nearLimit())
        m_ctx.tcp.evictOldestIdle();
    if (!m_ctx.tls) {
        std::make_shared<HttpSession>(m_ctx, AnyStream(std::move(socket)), peer, std::move(slot))->start();
    } else {
        auto stream = std::make_shared<AnyStream>(std::move(socket), *m_ctx.tls);
        auto heldSlot = std::make_shared<TcpSlot>(std::move(slot)); // released if the handshake fails
        auto deadline = std::make_shared<IoTimer>(stream->get_executor(), m_ctx.config.headerTimeout);
        deadline->async_wait([stream](const boost::system::error_code &e) {
            if (!e)
                stream->close();
        });
        stream->tls()->async_handshake(boost::asio::ssl::stream_base::server,
                                       [this, stream, deadline, heldSlot, peer](const boost::system::error_code &e) mutable {
                                           deadline->cancel();
                                           if (e) {
                                               m_ctx.metrics.tlsHandshakeFailures.fetch_add(1, std::memory_order_relaxed);
                                               log::debug("TLS handshake failed: ", e.message());
                                               stream->close();
                                               return;
                                           }
                                           std::make_shared<HttpSession>(m_ctx, std::move(*stream), peer,
                                                                         std::move(*heldSlot))->start();
                                       });
    }
    accept();
}

void Listener::refuse(TcpSocket &socket, const std::string &peer)
{
    m_ctx.metrics.rejectedTcpLimit.fetch_add(1, std::memory_order_relaxed);
    log::refusal("tcp connection limit", peer, {}, std::to_string(m_ctx.tcp.limit()) + " connections open");
    boost::system::error_code ignored;
    socket.non_blocking(true, ignored);
    if (!m_ctx.tls) {
        // What the client already sent is read (best effort, never waiting), so closing sends a
        // FIN rather than a reset that could destroy the answer before the client reads it.
        char sink[4096];
        for (int i = 0; i < 4; ++i) {
            if (socket.read_some(boost::asio::buffer(sink), ignored) == 0)
                break;
        }
        static constexpr std::string_view kBody = "{\"error\":{\"code\":503,\"message\":\"too many connections\"}}\n";
        static const std::string kAnswer = "HTTP/1.1 503 Service Unavailable\r\nServer: switchboard-gateway\r\n"
                                           "Content-Type: application/json\r\nContent-Length: "
                                           + std::to_string(kBody.size())
                                           + "\r\nRetry-After: 1\r\nConnection: close\r\n\r\n" + std::string(kBody);
        socket.write_some(boost::asio::buffer(kAnswer), ignored);
    }
    socket.shutdown(TcpSocket::shutdown_both, ignored);
    socket.close(ignored);
}

} // namespace switchboard::asio
