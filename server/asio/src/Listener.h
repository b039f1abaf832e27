#pragma once
// Listener: accepts TCP connections (each gets its own strand), runs the TLS handshake when TLS
// is configured and starts an HttpSession.

#include "ServerContext.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <memory>

namespace switchboard::asio {

class Listener : public std::enable_shared_from_this<Listener> {
public:
    /// Binds and listens; throws boost::system::system_error on failure.
    Listener(ServerContext &context, const boost::asio::ip::tcp::endpoint &endpoint);
    boost::asio::ip::tcp::endpoint localEndpoint() const;
    void start();
    /// Stops accepting (thread-safe: posted to the acceptor's strand).
    void stop();

private:
    void accept();
    void onAccept(boost::system::error_code ec, boost::asio::ip::tcp::socket socket);

    ServerContext &m_ctx;
    boost::asio::ip::tcp::acceptor m_acceptor;
    boost::asio::steady_timer m_retry;
};

} // namespace switchboard::asio
