#include "Listener.h"

#include "HttpSession.h"
#include "Log.h"

#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>

namespace switchboard::asio {

namespace {

/// `address:port` of the remote end, for log lines ("?" once the socket is gone).
std::string peerAddress(const tcp::socket &socket)
{
    boost::system::error_code ec;
    const auto endpoint = socket.remote_endpoint(ec);
    if (ec)
        return "?";
    return endpoint.address().to_string() + ':' + std::to_string(endpoint.port());
}

} // namespace

Listener::Listener(ServerContext &context, const tcp::endpoint &endpoint)
    : m_ctx(context), m_acceptor(boost::asio::make_strand(context.ioc)), m_retry(m_acceptor.get_executor())
{
    m_acceptor.open(endpoint.protocol());
    m_acceptor.set_option(tcp::acceptor::reuse_address(true));
    m_acceptor.bind(endpoint);
    m_acceptor.listen(tcp::socket::max_listen_connections);
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
    // Every connection gets its own strand: its handlers never run concurrently.
    m_acceptor.async_accept(boost::asio::make_strand(m_ctx.ioc),
                            [self = shared_from_this()](boost::system::error_code ec, tcp::socket socket) {
                                self->onAccept(ec, std::move(socket));
                            });
}

void Listener::onAccept(boost::system::error_code ec, tcp::socket socket)
{
    if (ec == boost::asio::error::operation_aborted || !m_acceptor.is_open())
        return;
    if (ec) {
        // Typically out of file descriptors: wait a little instead of spinning.
        log::warn("accept failed: ", ec.message());
        m_retry.expires_after(std::chrono::milliseconds(50));
        m_retry.async_wait([self = shared_from_this()](const boost::system::error_code &e) {
            if (!e)
                self->accept();
        });
        return;
    }
    m_ctx.metrics.connectionsAccepted.fetch_add(1, std::memory_order_relaxed);
    boost::system::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    std::string peer = peerAddress(socket);
    if (!m_ctx.tls) {
        std::make_shared<HttpSession>(m_ctx, AnyStream(std::move(socket)), std::move(peer))->start();
    } else {
        auto stream = std::make_shared<AnyStream>(std::move(socket), *m_ctx.tls);
        auto deadline = std::make_shared<boost::asio::steady_timer>(stream->get_executor(), m_ctx.config.headerTimeout);
        deadline->async_wait([stream](const boost::system::error_code &e) {
            if (!e)
                stream->close();
        });
        stream->tls()->async_handshake(boost::asio::ssl::stream_base::server,
                                       [this, stream, deadline, peer = std::move(peer)](const boost::system::error_code &e) mutable {
                                           deadline->cancel();
                                           if (e) {
                                               m_ctx.metrics.tlsHandshakeFailures.fetch_add(1, std::memory_order_relaxed);
                                               log::debug("TLS handshake failed: ", e.message());
                                               stream->close();
                                               return;
                                           }
                                           std::make_shared<HttpSession>(m_ctx, std::move(*stream), std::move(peer))->start();
                                       });
    }
    accept();
}

} // namespace switchboard::asio
