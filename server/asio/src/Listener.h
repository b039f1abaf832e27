#pragma once
// Listener: accepts TCP connections (each gets its own strand), counts each against the TCP
// connection limit (refusing what is over it with a 503 and closing idle connections near it),
// runs the TLS handshake when TLS is configured and starts an HttpSession. A failed accept (out
// of file descriptors) is retried after a back-off that grows from 50 ms to 1 s.

#include "ServerContext.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <memory>
#include <string>

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
    void refuse(boost::asio::ip::tcp::socket &socket, const std::string &peer);

    ServerContext &m_ctx;
    boost::asio::ip::tcp::acceptor m_acceptor;
    boost::asio::steady_timer m_retry;
    std::chrono::milliseconds m_backoff{0}; ///< after a failed accept; 0 after a success
};

} // namespace switchboard::asio
