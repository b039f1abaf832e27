#include "HttpClient.h"

namespace switchboard::bench {

namespace http = boost::beast::http;

HttpClient::HttpClient(boost::asio::io_context &io, boost::asio::ip::tcp::endpoint endpoint, std::string hostHeader,
                       std::chrono::milliseconds timeout, std::chrono::milliseconds idleReuse)
    : m_stream(io)
    , m_endpoint(endpoint)
    , m_hostHeader(std::move(hostHeader))
    , m_timeout(timeout)
    , m_idleReuse(idleReuse)
{
}

void HttpClient::request(http::verb method, std::string target, std::string body,
                         std::vector<std::pair<std::string, std::string>> headers, Callback done)
{
    Pending pending;
    auto &req = pending.request;
    req.method(method);
    req.target(target);
    req.version(11);
    req.keep_alive(true);
    req.set(http::field::host, m_hostHeader);
    req.set(http::field::user_agent, "switchboard-soak");
    for (auto &[name, value] : headers)
        req.set(name, value);
    if (!body.empty())
        req.set(http::field::content_type, "application/json");
    req.body() = std::move(body);
    req.prepare_payload();
    pending.done = std::move(done);
    m_queue.push_back(std::move(pending));
    next();
}

void HttpClient::next()
{
    if (m_busy || m_queue.empty())
        return;
    m_busy = true;
    if (m_connected && std::chrono::steady_clock::now() - m_lastUsed < m_idleReuse)
        return send();
    if (m_connected) {
        boost::system::error_code ignored;
        m_stream.socket().close(ignored);
        m_connected = false;
        m_buffer.clear();
    }
    m_stream.expires_after(m_timeout);
    m_stream.async_connect(m_endpoint, [this](boost::system::error_code ec) {
        if (ec)
            return finish(ec);
        m_connected = true;
        send();
    });
}

void HttpClient::send()
{
    m_stream.expires_after(m_timeout);
    http::async_write(m_stream, m_queue.front().request, [this](boost::system::error_code ec, std::size_t) {
        if (ec)
            return finish(ec);
        m_response = {};
        http::async_read(m_stream, m_buffer, m_response, [this](boost::system::error_code ec, std::size_t) {
            finish(ec);
        });
    });
}

void HttpClient::finish(boost::system::error_code ec)
{
    Pending pending = std::move(m_queue.front());
    m_queue.pop_front();
    m_busy = false;
    m_lastUsed = std::chrono::steady_clock::now();
    if (ec || !m_response.keep_alive()) {
        boost::system::error_code ignored;
        m_stream.socket().close(ignored);
        m_connected = false;
        m_buffer.clear();
    }
    Response response = ec ? Response{} : std::move(m_response);
    pending.done(ec, std::move(response));
    next();
}

} // namespace switchboard::bench
