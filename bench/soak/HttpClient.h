#pragma once
// A keep-alive HTTP/1.1 client for one server (Boost.Beast): requests are queued and sent one at
// a time over one connection, each bounded by a timeout; after an error, or when the connection
// has been idle longer than `idleReuse` (servers close idle keep-alive connections: the gateway
// after its --header-timeout, 10 s by default), the next request opens a new connection. The soak uses one for publishing and one
// for /metrics.
//
// Thread safety: none. Lives on one io_context run by one thread; call request() on that thread.
// Callbacks run there too and may queue further requests. Destroy it only once the io_context
// has stopped (pending handlers refer to it).

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>

#include <chrono>
#include <deque>
#include <functional>
#include <string>

namespace switchboard::bench {

class HttpClient
{
public:
    using Response = boost::beast::http::response<boost::beast::http::string_body>;
    /// `ec` is set when the request could not be completed (the response is then empty).
    using Callback = std::function<void(boost::system::error_code ec, Response response)>;

    HttpClient(boost::asio::io_context &io, boost::asio::ip::tcp::endpoint endpoint, std::string hostHeader,
               std::chrono::milliseconds timeout = std::chrono::seconds(10),
               std::chrono::milliseconds idleReuse = std::chrono::seconds(2));

    /// Sends `method target` with `body` (JSON when not empty) and `headers`; `done` gets the answer.
    void request(boost::beast::http::verb method, std::string target, std::string body,
                 std::vector<std::pair<std::string, std::string>> headers, Callback done);

private:
    struct Pending
    {
        boost::beast::http::request<boost::beast::http::string_body> request;
        Callback done;
    };

    void next();
    void send();
    void finish(boost::system::error_code ec);

    boost::beast::tcp_stream m_stream;
    boost::asio::ip::tcp::endpoint m_endpoint;
    std::string m_hostHeader;
    std::chrono::milliseconds m_timeout;
    std::chrono::milliseconds m_idleReuse;
    std::chrono::steady_clock::time_point m_lastUsed;
    std::deque<Pending> m_queue;
    bool m_busy = false;
    bool m_connected = false;
    boost::beast::flat_buffer m_buffer;
    Response m_response;
};

} // namespace switchboard::bench
