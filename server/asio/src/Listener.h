#pragma once
// Listener: accepts TCP connections (each on the io thread IoShards picks), counts each against the TCP
// connection limit (refusing what is over it with a 503 and closing idle connections near it),
// runs the TLS handshake when TLS is configured and starts an HttpSession. A failed accept (out
// of file descriptors) is retried after a back-off that grows from 50 ms to 1 s.

#include "ServerContext.h"

#include <boost/asio/basic_socket_acceptor.hpp>

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
    /// Stops accepting (thread-safe: posted to the main io_context, which runs the acceptor).
    void stop();

private:
    void accept();
    void onAccept(boost::system::error_code ec, TcpSocket socket);
    void refuse(TcpSocket &socket, const std::string &peer);

    ServerContext &m_ctx;
    /// On the main io_context, which one thread runs: no strand.
    boost::asio::basic_socket_acceptor<boost::asio::ip::tcp, IoExecutor> m_acceptor;
    /// The peer of the accept in progress, filled by accept() itself: no getpeername() per
    /// connection (one accept is in progress at a time).
    boost::asio::ip::tcp::endpoint m_acceptedPeer;
    IoTimer m_retry;
    std::chrono::milliseconds m_backoff{0}; ///< after a failed accept; 0 after a success
};

} // namespace switchboard::asio
