#include "RedisTlsConnector.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <array>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <system_error>

#include <sys/socket.h>
#include <unistd.h>

namespace switchboard::asio {
namespace {

namespace ssl = boost::asio::ssl;
using tcp = boost::asio::ip::tcp;
using unix_socket = boost::asio::local::stream_protocol;
using boost::system::error_code;

/// One hiredis connection's TLS tunnel. Kept alive by its outstanding handlers; every member is
/// touched on `strand` only, except `cancelled` (set under the core mutex by the engine's thread).
class TlsTunnel : public std::enable_shared_from_this<TlsTunnel> {
public:
    TlsTunnel(boost::asio::io_context &ioc, std::shared_ptr<ssl::context> context, std::mutex &coreMutex,
              redis::RedisUrl url, redis::RedisDialDone done)
        : m_strand(boost::asio::make_strand(ioc)), m_context(std::move(context)), m_coreMutex(coreMutex),
          m_url(std::move(url)), m_done(std::move(done)), m_resolver(m_strand), m_tls(m_strand, *m_context),
          m_acceptor(m_strand), m_local(m_strand)
    {
    }

    ~TlsTunnel() { removeSocket(); } // a tunnel still offering its socket when the io_context goes

    void start()
    {
        boost::asio::post(m_strand, [self = shared_from_this()] { self->resolve(); });
    }

    /// The engine let go (core lock held): no `done` after this; the sockets close on the strand.
    void cancel()
    {
        m_cancelled = true;
        boost::asio::post(m_strand, [self = shared_from_this()] { self->close(); });
    }

private:
    std::string where() const { return m_url.host + ":" + std::to_string(m_url.port); }

    void resolve()
    {
        if (m_closed)
            return;
        m_resolver.async_resolve(m_url.host, std::to_string(m_url.port),
                                 [self = shared_from_this()](const error_code &ec, const tcp::resolver::results_type &results) {
                                     if (ec)
                                         return self->fail("cannot resolve " + self->m_url.host + ": " + ec.message());
                                     self->connect(results);
                                 });
    }

    void connect(const tcp::resolver::results_type &results)
    {
        if (m_closed)
            return;
        boost::asio::async_connect(m_tls.lowest_layer(), results, [self = shared_from_this()](const error_code &ec, const tcp::endpoint &) {
            if (ec)
                return self->fail("cannot connect to " + self->where() + ": " + ec.message());
            self->handshake();
        });
    }

    void handshake()
    {
        if (m_closed)
            return;
        error_code ignored;
        m_tls.lowest_layer().set_option(tcp::no_delay(true), ignored);
        SSL *ssl = m_tls.native_handle();
        // OpenSSL checks the name itself, so a mismatch is reported as such (not a bare failure).
        error_code notAnAddress;
        boost::asio::ip::make_address(m_url.host, notAnAddress);
        if (notAnAddress) {
            SSL_set_tlsext_host_name(ssl, m_url.host.c_str()); // SNI: names only (RFC 6066)
            SSL_set1_host(ssl, m_url.host.c_str());
        } else {
            X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), m_url.host.c_str());
        }
        m_tls.async_handshake(ssl::stream_base::client, [self = shared_from_this()](const error_code &ec) {
            if (ec)
                return self->fail("TLS handshake with " + self->where() + " failed: " + self->describe(ec));
            self->offer();
        });
    }

    std::string describe(const error_code &ec)
    {
        std::string text = ec.message();
        const long verify = SSL_get_verify_result(m_tls.native_handle());
        if (verify != X509_V_OK)
            text += std::string(" (") + X509_verify_cert_error_string(verify) + ")";
        return text;
    }

    /// The TLS side is up: a unix socket in a directory only this user can enter, for hiredis.
    void offer()
    {
        if (m_closed)
            return;
        std::string pattern = (std::filesystem::temp_directory_path() / "switchboard-redis-XXXXXX").string();
        if (!::mkdtemp(pattern.data()))
            return fail("cannot create a directory for the TLS tunnel: " + std::generic_category().message(errno));
        m_directory = pattern;
        m_socketPath = m_directory + "/tunnel";
        error_code ec;
        m_acceptor.open(unix_socket(), ec);
        if (!ec)
            m_acceptor.bind(unix_socket::endpoint(m_socketPath), ec);
        if (!ec)
            m_acceptor.listen(1, ec);
        if (ec)
            return fail("cannot listen on " + m_socketPath + ": " + ec.message());
        m_acceptor.async_accept(m_local, [self = shared_from_this()](const error_code &accepted) {
            error_code ignored;
            self->m_acceptor.close(ignored); // exactly one connection per dial
            self->removeSocket();
            if (accepted || self->m_closed)
                return self->close();
            ucred peer{};
            socklen_t length = sizeof peer;
            if (::getsockopt(self->m_local.native_handle(), SOL_SOCKET, SO_PEERCRED, &peer, &length) != 0
                || peer.pid != ::getpid())
                return self->close(); // not hiredis in this process: the engine sees the close and retries
            self->pumpFromRedis();
            self->pumpToRedis();
        });
        redis::RedisDialTarget target;
        target.unixPath = m_socketPath;
        target.closeReason = [reason = m_closeReason] { return *reason; };
        report(std::string(), target);
    }

    void pumpFromRedis()
    {
        m_tls.async_read_some(boost::asio::buffer(m_fromRedis), [self = shared_from_this()](const error_code &ec, std::size_t n) {
            if (ec && !self->m_closed) // Redis refused or ended the session: tell the engine why
                self->noteCloseReason(ec == boost::asio::error::eof || ec == ssl::error::stream_truncated
                                          ? std::string("Redis closed the TLS connection")
                                          : "TLS: " + self->describe(ec));
            if (ec || self->m_closed)
                return self->close();
            boost::asio::async_write(self->m_local, boost::asio::buffer(self->m_fromRedis.data(), n),
                                     [self](const error_code &written, std::size_t) {
                                         if (written || self->m_closed)
                                             return self->close();
                                         self->pumpFromRedis();
                                     });
        });
    }

    void pumpToRedis()
    {
        m_local.async_read_some(boost::asio::buffer(m_toRedis), [self = shared_from_this()](const error_code &ec, std::size_t n) {
            if (ec || self->m_closed)
                return self->close();
            boost::asio::async_write(self->m_tls, boost::asio::buffer(self->m_toRedis.data(), n),
                                     [self](const error_code &written, std::size_t) {
                                         if (written || self->m_closed)
                                             return self->close();
                                         self->pumpToRedis();
                                     });
        });
    }

    /// Kept for the engine (RedisDialTarget::closeReason), which reads it under the core mutex.
    void noteCloseReason(const std::string &reason)
    {
        std::lock_guard lock(m_coreMutex);
        if (m_closeReason->empty())
            *m_closeReason = reason;
    }

    void fail(const std::string &reason)
    {
        close();
        report(reason, {});
    }

    void report(const std::string &error, const redis::RedisDialTarget &target)
    {
        if (m_reported)
            return;
        m_reported = true;
        std::lock_guard lock(m_coreMutex);
        if (!m_cancelled)
            m_done(error, target);
    }

    void close()
    {
        if (m_closed)
            return;
        m_closed = true;
        error_code ignored;
        m_resolver.cancel();
        m_tls.lowest_layer().close(ignored);
        m_acceptor.close(ignored);
        m_local.close(ignored);
        removeSocket();
    }

    void removeSocket()
    {
        if (m_directory.empty())
            return;
        std::error_code ignored;
        std::filesystem::remove(m_socketPath, ignored);
        std::filesystem::remove(m_directory, ignored);
        m_directory.clear();
    }

    boost::asio::strand<boost::asio::io_context::executor_type> m_strand;
    std::shared_ptr<ssl::context> m_context;
    std::mutex &m_coreMutex;
    redis::RedisUrl m_url;
    redis::RedisDialDone m_done;
    tcp::resolver m_resolver;
    ssl::stream<tcp::socket> m_tls;
    unix_socket::acceptor m_acceptor;
    unix_socket::socket m_local;
    std::string m_directory;
    std::string m_socketPath;
    std::array<char, 16384> m_fromRedis{};
    std::array<char, 16384> m_toRedis{};
    std::shared_ptr<std::string> m_closeReason = std::make_shared<std::string>(); // guarded by m_coreMutex
    std::atomic<bool> m_cancelled{false};
    bool m_closed = false;
    bool m_reported = false;
};

/// The handle the engine holds: releasing it ends the tunnel.
struct TunnelHandle {
    explicit TunnelHandle(std::shared_ptr<TlsTunnel> t) : tunnel(std::move(t)) {}
    ~TunnelHandle() { tunnel->cancel(); }
    TunnelHandle(const TunnelHandle &) = delete;
    TunnelHandle &operator=(const TunnelHandle &) = delete;
    std::shared_ptr<TlsTunnel> tunnel;
};

std::shared_ptr<ssl::context> makeContext(const RedisTlsOptions &options)
{
    auto context = std::make_shared<ssl::context>(ssl::context::tls_client);
    SSL_CTX_set_min_proto_version(context->native_handle(), TLS1_2_VERSION);
    context->set_verify_mode(ssl::verify_peer);
    error_code ec;
    if (options.caFile.empty())
        context->set_default_verify_paths(ec);
    else
        context->load_verify_file(options.caFile, ec);
    if (ec)
        throw std::runtime_error("--engine-tls-ca " + (options.caFile.empty() ? std::string("(system store)") : options.caFile) + ": " + ec.message());
    if (!options.certFile.empty()) {
        context->use_certificate_chain_file(options.certFile, ec);
        if (ec)
            throw std::runtime_error("--engine-tls-cert " + options.certFile + ": " + ec.message());
        context->use_private_key_file(options.keyFile, ssl::context::pem, ec);
        if (ec)
            throw std::runtime_error("--engine-tls-key " + options.keyFile + ": " + ec.message());
    }
    return context;
}

} // namespace

redis::RedisConnector redisTlsConnector(boost::asio::io_context &ioc, std::mutex &coreMutex, const RedisTlsOptions &options)
{
    std::shared_ptr<ssl::context> context = makeContext(options);
    return [&ioc, &coreMutex, context](const redis::RedisUrl &url, redis::RedisDialDone done) -> std::shared_ptr<void> {
        auto tunnel = std::make_shared<TlsTunnel>(ioc, context, coreMutex, url, std::move(done));
        tunnel->start();
        return std::make_shared<TunnelHandle>(std::move(tunnel));
    };
}

} // namespace switchboard::asio
