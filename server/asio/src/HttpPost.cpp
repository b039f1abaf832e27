#include "HttpPost.h"

#include "BackendTls.h"
#include "RequestSigner.h"

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/url/parse.hpp>

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <memory>
#include <stdexcept>
#include <type_traits>

namespace switchboard::asio {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = net::ssl;

HttpUrl HttpUrl::parse(const std::string &url, const std::string &flag)
{
    const auto parsed = boost::urls::parse_absolute_uri(url);
    if (!parsed)
        throw std::invalid_argument(flag + " " + url + ": not a URL");
    const bool tls = parsed->scheme() == "https";
    if (!tls && parsed->scheme() != "http")
        throw std::invalid_argument(flag + " " + url + ": only http:// and https:// URLs are supported");
    if (parsed->host_address().empty())
        throw std::invalid_argument(flag + " " + url + ": no host");
    HttpUrl out;
    out.url = url;
    out.host = parsed->host_address();
    out.port = parsed->has_port() ? std::string(parsed->port()) : std::string(tls ? "443" : "80");
    out.hostHeader = parsed->encoded_host_and_port();
    out.target = parsed->encoded_target();
    if (out.target.empty())
        out.target = "/";
    out.tls = tls;
    return out;
}

namespace {

using PlainStream = beast::tcp_stream;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

/// The context of clients that bring none: the system trust store, built on first use.
std::shared_ptr<ssl::context> defaultTlsContext()
{
    static const std::shared_ptr<ssl::context> context = makeBackendTlsContext({});
    return context;
}

/// One exchange; owns its socket and buffers, kept alive by the handlers it has pending.
template <class Stream>
class Exchange : public std::enable_shared_from_this<Exchange<Stream>> {
public:
    /// `streamArgs`: the io_context, and for TLS the context.
    template <class... StreamArgs>
    Exchange(std::function<void(HttpPostResult)> done, std::shared_ptr<ssl::context> tls, StreamArgs &&...streamArgs)
        : m_tls(std::move(tls)), m_stream(std::forward<StreamArgs>(streamArgs)...), m_resolver(m_stream.get_executor()),
          m_done(std::move(done))
    {
    }

    void start(const HttpUrl &url, HttpPostRequest request)
    {
        m_host = url.host;
        m_where = url.host + ":" + url.port;
        m_request.method(http::verb::post);
        m_request.target(url.target);
        m_request.version(11);
        m_request.set(http::field::host, url.hostHeader);
        m_request.set(http::field::user_agent, "switchboard-gateway");
        m_request.set(http::field::content_type, request.contentType);
        m_request.set(http::field::connection, "close");
        for (const auto &header : request.headers)
            m_request.set(header.first, header.second);
        if (!request.signingSecret.empty()) {
            const RequestSignature signature = signRequest(request.signingSecret, request.body);
            m_request.set(RequestSignature::timestampHeader, signature.timestamp);
            m_request.set(RequestSignature::signatureHeader, signature.signature);
        }
        m_request.body() = std::move(request.body);
        m_request.prepare_payload();
        m_parser.body_limit(request.maxAnswerBytes);
        m_parser.header_limit(16 * 1024);
        // One deadline over the whole exchange: the stream's timer covers connect, handshake,
        // write, read; resolving (127.0.0.1, or a name) is bounded by the same expiry below.
        beast::get_lowest_layer(m_stream).expires_after(request.timeout);
        auto self = this->shared_from_this();
        m_resolver.async_resolve(url.host, url.port, [self](const boost::system::error_code &ec,
                                                            const net::ip::tcp::resolver::results_type &results) {
            if (ec)
                return self->finish(HttpPostResult::Outcome::Unreachable, "cannot resolve host: " + ec.message());
            beast::get_lowest_layer(self->m_stream).async_connect(results, [self](const boost::system::error_code &ec,
                                                                                  const net::ip::tcp::endpoint &) {
                if (ec == beast::error::timeout)
                    return self->finish(HttpPostResult::Outcome::Timeout, "connect timed out");
                if (ec)
                    return self->finish(HttpPostResult::Outcome::Unreachable, "cannot connect: " + ec.message());
                if constexpr (std::is_same_v<Stream, TlsStream>)
                    self->handshake();
                else
                    self->write();
            });
        });
    }

private:
    void handshake()
    {
        SSL *ssl = m_stream.native_handle();
        // OpenSSL checks the name during the handshake, so a mismatch is reported as such
        // ("hostname mismatch") rather than as a bare failure.
        boost::system::error_code notAnAddress;
        net::ip::make_address(m_host, notAnAddress);
        if (notAnAddress) {
            SSL_set_tlsext_host_name(ssl, m_host.c_str()); // SNI: names only (RFC 6066)
            SSL_set1_host(ssl, m_host.c_str());
        } else {
            X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), m_host.c_str());
        }
        auto self = this->shared_from_this();
        m_stream.async_handshake(ssl::stream_base::client, [self](const boost::system::error_code &ec) {
            if (ec == beast::error::timeout)
                return self->finish(HttpPostResult::Outcome::Timeout, "TLS handshake timed out");
            if (ec) {
                std::string text = "TLS handshake with " + self->m_where + " failed: " + ec.message();
                const long verify = SSL_get_verify_result(self->m_stream.native_handle());
                if (verify != X509_V_OK)
                    text += std::string(" (") + X509_verify_cert_error_string(verify) + ")";
                return self->finish(HttpPostResult::Outcome::Unreachable, std::move(text));
            }
            self->write();
        });
    }

    void write()
    {
        auto self = this->shared_from_this();
        http::async_write(m_stream, m_request, [self](const boost::system::error_code &ec, std::size_t) {
            if (ec == beast::error::timeout)
                return self->finish(HttpPostResult::Outcome::Timeout, "send timed out");
            if (ec)
                return self->finish(HttpPostResult::Outcome::BadAnswer, "cannot send: " + ec.message());
            http::async_read(self->m_stream, self->m_buffer, self->m_parser,
                             [self](const boost::system::error_code &ec, std::size_t) { self->answered(ec); });
        });
    }

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
        // The answer is complete (or the exchange failed): close the TCP connection without a
        // TLS close_notify exchange, which could only wait for the peer.
        boost::system::error_code ignored;
        auto &tcp = beast::get_lowest_layer(m_stream);
        tcp.socket().shutdown(net::ip::tcp::socket::shutdown_both, ignored);
        tcp.close();
        m_result.outcome = outcome;
        m_result.error = std::move(error);
        auto done = std::move(m_done);
        done(std::move(m_result));
    }

    std::shared_ptr<ssl::context> m_tls; // outlives m_stream, which refers to it
    Stream m_stream;
    net::ip::tcp::resolver m_resolver;
    std::function<void(HttpPostResult)> m_done;
    std::string m_host;
    std::string m_where;
    http::request<http::string_body> m_request;
    http::response_parser<http::string_body> m_parser;
    beast::flat_buffer m_buffer{64 * 1024};
    HttpPostResult m_result;
};

} // namespace

void httpPost(net::io_context &ioc, const HttpUrl &url, HttpPostRequest request, std::function<void(HttpPostResult)> done)
{
    if (!url.tls) {
        std::make_shared<Exchange<PlainStream>>(std::move(done), nullptr, ioc)->start(url, std::move(request));
        return;
    }
    std::shared_ptr<ssl::context> tls = request.tls;
    if (!tls) {
        try {
            tls = defaultTlsContext();
        } catch (const std::exception &e) {
            HttpPostResult result;
            result.outcome = HttpPostResult::Outcome::Unreachable;
            result.error = e.what();
            net::post(ioc, [done = std::move(done), result = std::move(result)]() mutable { done(std::move(result)); });
            return;
        }
    }
    ssl::context &context = *tls;
    std::make_shared<Exchange<TlsStream>>(std::move(done), std::move(tls), ioc, context)->start(url, std::move(request));
}

} // namespace switchboard::asio
