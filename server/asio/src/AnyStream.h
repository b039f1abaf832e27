#pragma once
// AnyStream: a connection's byte stream, plain TCP or TLS, behind one AsyncStream interface so
// Beast's HTTP parser, asio::async_write and the WebSocket session need no templates.

#include "IoTypes.h"

#include <boost/asio/ssl/stream.hpp>

#include <memory>
#include <utility>

namespace switchboard::asio {

namespace net = boost::asio;
using tcp = net::ip::tcp;

/// Owns the socket. Not thread-safe: used from the connection's strand only.
class AnyStream {
public:
    using executor_type = IoExecutor;
    using TlsStream = net::ssl::stream<TcpSocket>;

    explicit AnyStream(TcpSocket socket) : m_tcp(std::move(socket)) {}
    AnyStream(TcpSocket socket, net::ssl::context &tls)
        : m_tcp(socket.get_executor()), m_tls(std::make_unique<TlsStream>(std::move(socket), tls)) {}
    AnyStream(AnyStream &&) = default;

    executor_type get_executor() noexcept { return lowest().get_executor(); }
    bool isTls() const noexcept { return m_tls != nullptr; }
    TlsStream *tls() noexcept { return m_tls.get(); }
    TcpSocket &lowest() noexcept { return m_tls ? m_tls->next_layer() : m_tcp; }
    /// The TLS stream, taken out (null for plain TCP): for an owner that keeps only what its
    /// kind of connection needs.
    std::unique_ptr<TlsStream> takeTls() noexcept { return std::move(m_tls); }

    template <class Buffers, class Handler>
    void async_read_some(const Buffers &buffers, Handler &&handler)
    {
        if (m_tls)
            m_tls->async_read_some(buffers, std::forward<Handler>(handler));
        else
            m_tcp.async_read_some(buffers, std::forward<Handler>(handler));
    }

    template <class Buffers, class Handler>
    void async_write_some(const Buffers &buffers, Handler &&handler)
    {
        if (m_tls)
            m_tls->async_write_some(buffers, std::forward<Handler>(handler));
        else
            m_tcp.async_write_some(buffers, std::forward<Handler>(handler));
    }

    /// Closes the socket at once (pending operations complete with operation_aborted).
    void close() noexcept
    {
        boost::system::error_code ignored;
        lowest().shutdown(TcpSocket::shutdown_both, ignored);
        lowest().close(ignored);
    }

private:
    TcpSocket m_tcp;
    std::unique_ptr<TlsStream> m_tls; ///< when set, m_tcp is unused and the TLS stream owns the socket
};

} // namespace switchboard::asio
