#include "HttpPost.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/url/parse.hpp>

#include <memory>
#include <stdexcept>

namespace switchboard::asio {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

HttpUrl HttpUrl::parse(const std::string &url, const std::string &flag)
{
    const auto parsed = boost::urls::parse_absolute_uri(url);
    if (!parsed)
        throw std::invalid_argument(flag + " " + url + ": not a URL");
    if (parsed->scheme() != "http")
        throw std::invalid_argument(flag + " " + url + ": only http:// URLs are supported");
    if (parsed->host_address().empty())
        throw std::invalid_argument(flag + " " + url + ": no host");
    HttpUrl out;
    out.url = url;
    out.host = parsed->host_address();
    out.port = parsed->has_port() ? std::string(parsed->port()) : std::string("80");
    out.hostHeader = parsed->encoded_host_and_port();
    out.target = parsed->encoded_target();
    if (out.target.empty())
        out.target = "/";
    return out;
}

namespace {

/// One exchange; owns its socket and buffers, kept alive by the handlers it has pending.
class Exchange : public std::enable_shared_from_this<Exchange> {
public:
    Exchange(net::io_context &ioc, std::function<void(HttpPostResult)> done)
        : m_resolver(ioc), m_stream(ioc), m_done(std::move(done))
    {
    }

    void start(const HttpUrl &url, HttpPostRequest request)
    {
        m_request.method(http::verb::post);
        m_request.target(url.target);
        m_request.version(11);
        m_request.set(http::field::host, url.hostHeader);
        m_request.set(http::field::user_agent, "switchboard-gateway");
        m_request.set(http::field::content_type, request.contentType);
        m_request.set(http::field::connection, "close");
        for (const auto &header : request.headers)
            m_request.set(header.first, header.second);
        m_request.body() = std::move(request.body);
        m_request.prepare_payload();
        m_parser.body_limit(request.maxAnswerBytes);
        m_parser.header_limit(16 * 1024);
        // One deadline over the whole exchange: the stream's timer covers connect, write, read;
        // resolving (127.0.0.1, or a name) is bounded by the same expiry below.
        m_stream.expires_after(request.timeout);
        auto self = shared_from_this();
        m_resolver.async_resolve(url.host, url.port, [self](const boost::system::error_code &ec,
                                                            const net::ip::tcp::resolver::results_type &results) {
            if (ec)
                return self->finish(HttpPostResult::Outcome::Unreachable, "cannot resolve host: " + ec.message());
            self->m_stream.async_connect(results, [self](const boost::system::error_code &ec, const net::ip::tcp::endpoint &) {
                if (ec == beast::error::timeout)
                    return self->finish(HttpPostResult::Outcome::Timeout, "connect timed out");
                if (ec)
                    return self->finish(HttpPostResult::Outcome::Unreachable, "cannot connect: " + ec.message());
                http::async_write(self->m_stream, self->m_request, [self](const boost::system::error_code &ec, std::size_t) {
                    if (ec == beast::error::timeout)
                        return self->finish(HttpPostResult::Outcome::Timeout, "send timed out");
                    if (ec)
                        return self->finish(HttpPostResult::Outcome::BadAnswer, "cannot send: " + ec.message());
                    http::async_read(self->m_stream, self->m_buffer, self->m_parser,
                                     [self](const boost::system::error_code &ec, std::size_t) { self->answered(ec); });
                });
            });
        });
    }

private:
    void answered(const boost::system::error_code &ec)
    {
        if (ec == beast::error::timeout)
            return finish(HttpPostResult::Outcome::Timeout, "no answer in time");
        if (ec)
            return finish(HttpPostResult::Outcome::BadAnswer, "no valid HTTP answer: " + ec.message());
        auto &response = m_parser.get();
        m_result.status = response.result_int();
        m_result.contentType = std::string(response[http::field::content_type]);
        m_result.body = std::move(response.body());
        finish(HttpPostResult::Outcome::Answered, {});
    }

    void finish(HttpPostResult::Outcome outcome, std::string error)
    {
        boost::system::error_code ignored;
        m_stream.socket().shutdown(net::ip::tcp::socket::shutdown_both, ignored);
        m_stream.close();
        m_result.outcome = outcome;
        m_result.error = std::move(error);
        auto done = std::move(m_done);
        done(std::move(m_result));
    }

    net::ip::tcp::resolver m_resolver;
    beast::tcp_stream m_stream;
    std::function<void(HttpPostResult)> m_done;
    http::request<http::string_body> m_request;
    http::response_parser<http::string_body> m_parser;
    beast::flat_buffer m_buffer{64 * 1024};
    HttpPostResult m_result;
};

} // namespace

void httpPost(net::io_context &ioc, const HttpUrl &url, HttpPostRequest request, std::function<void(HttpPostResult)> done)
{
    std::make_shared<Exchange>(ioc, std::move(done))->start(url, std::move(request));
}

} // namespace switchboard::asio
