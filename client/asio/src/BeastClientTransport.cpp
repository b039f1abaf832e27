#include "BeastClientTransport.h"

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <boost/url/parse.hpp>

#include <algorithm>
#include <deque>
#include <optional>
#include <stdexcept>

namespace switchboard::asioclient {

namespace {
namespace beast = boost::beast;
namespace websocket = boost::beast::websocket;
namespace ssl = boost::asio::ssl;
using tcp = boost::asio::ip::tcp;

constexpr std::uint16_t kAbnormalClosure = 1006; // RFC 6455: no close frame was received
constexpr std::size_t kMaxCloseReasonBytes = 123;

struct Endpoint {
    bool tls = false;
    std::string host;       ///< to resolve and to verify
    std::string port;
    std::string hostHeader; ///< host[:port] as written in the URL
    std::string target;     ///< path and query
};

std::optional<Endpoint> parseEndpoint(const std::string &url, std::string &error)
{
    auto parsed = boost::urls::parse_uri(url);
    if (!parsed) {
        error = "invalid URL: " + parsed.error().message();
        return std::nullopt;
    }
    const auto &u = *parsed;
    Endpoint e;
    if (u.scheme() == "wss")
        e.tls = true;
    else if (u.scheme() != "ws") {
        error = "unsupported URL scheme (ws:// or wss://): " + std::string(u.scheme());
        return std::nullopt;
    }
    e.host = std::string(u.host_address());
    if (e.host.empty()) {
        error = "URL without a host";
        return std::nullopt;
    }
    e.port = u.has_port() ? std::string(u.port()) : (e.tls ? "443" : "80");
    e.hostHeader = std::string(u.encoded_host_and_port());
    e.target = std::string(u.encoded_target());
    if (e.target.empty() || e.target.front() != '/')
        e.target.insert(0, "/");
    return e;
}

std::string shortReason(std::string_view reason)
{
    std::size_t end = std::min(reason.size(), kMaxCloseReasonBytes);
    if (end < reason.size())
        while (end > 0 && (static_cast<unsigned char>(reason[end]) & 0xC0) == 0x80)
            --end; // cut before the lead byte of a split UTF-8 sequence
    return std::string(reason.substr(0, end));
}
} // namespace

/// One WebSocket connection attempt and its life: resolve, TCP connect, TLS handshake (wss://),
/// upgrade, then one read loop and one write in flight. Runs on the strand only. Reports to the
/// transport through a weak pointer with its generation; abort() silences it for good.
class BeastClientTransport::Connection {
public:
    virtual ~Connection() = default;
    virtual void start() = 0;
    virtual void send(std::string bytes, bool binary) = 0;
    /// The subprotocol the server chose (its upgrade response), empty before or when none.
    virtual std::string negotiated() const = 0;
    virtual void close(std::uint16_t code, std::string reason) = 0;
    virtual void abort() = 0;
};

namespace {

template <bool Tls>
class WsConnection final : public BeastClientTransport::Connection,
                           public std::enable_shared_from_this<WsConnection<Tls>> {
    using NextLayer = std::conditional_t<Tls, beast::ssl_stream<beast::tcp_stream>, beast::tcp_stream>;

public:
    WsConnection(boost::asio::any_io_executor strand, ssl::context *tls, Endpoint endpoint,
                 const TransportSettings &settings, std::string subprotocol,
                 std::weak_ptr<BeastClientTransport *> owner, std::uint64_t generation)
        : m_ws(makeStream(strand, tls)), m_resolver(strand), m_strand(strand), m_endpoint(std::move(endpoint)),
          m_settings(settings), m_subprotocol(std::move(subprotocol)), m_owner(std::move(owner)),
          m_generation(generation)
    {
    }

    void start() override
    {
        m_resolver.async_resolve(m_endpoint.host, m_endpoint.port,
                                 [self = this->shared_from_this()](const beast::error_code &ec, tcp::resolver::results_type results) {
                                     self->onResolved(ec, std::move(results));
                                 });
    }

    void send(std::string bytes, bool binary) override
    {
        if (m_done || !m_open || m_closeRequest)
            return;
        if (m_queuedBytes + bytes.size() > m_settings.maxWriteQueueBytes) {
            finish(kAbnormalClosure, "write queue full");
            return;
        }
        m_queuedBytes += bytes.size();
        m_queue.emplace_back(std::move(bytes), binary);
        if (!m_writing)
            writeNext();
    }

    std::string negotiated() const override
    {
        if (!m_open || m_subprotocol.empty())
            return {};
        const auto chosen = m_response.find(beast::http::field::sec_websocket_protocol);
        return chosen == m_response.end() ? std::string() : std::string(chosen->value());
    }

    void close(std::uint16_t code, std::string reason) override
    {
        if (m_done || m_closeRequest)
            return;
        m_closeRequest = std::make_pair(code, shortReason(reason));
        if (!m_open) { // still connecting: no close handshake possible
            finish(code, m_closeRequest->second);
            return;
        }
        m_queue.clear(); // nothing more is sent after a close
        m_queuedBytes = 0;
        if (!m_writing)
            sendClose();
    }

    void abort() override
    {
        m_done = true;
        dropSocket();
    }

private:
    static websocket::stream<NextLayer> makeStream(const boost::asio::any_io_executor &strand, ssl::context *tls)
    {
        if constexpr (Tls)
            return websocket::stream<NextLayer>(strand, *tls);
        else
            return websocket::stream<NextLayer>(strand);
    }

    void onResolved(const beast::error_code &ec, tcp::resolver::results_type results)
    {
        if (m_done)
            return;
        if (ec)
            return finish(kAbnormalClosure, "cannot resolve " + m_endpoint.host + ": " + ec.message());
        beast::get_lowest_layer(m_ws).async_connect(
            results, [self = this->shared_from_this()](const beast::error_code &ec, const tcp::endpoint &) {
                self->onConnected(ec);
            });
    }

    void onConnected(const beast::error_code &ec)
    {
        if (m_done)
            return;
        if (ec)
            return finish(kAbnormalClosure, "cannot connect to " + m_endpoint.hostHeader + ": " + ec.message());
        beast::get_lowest_layer(m_ws).socket().set_option(tcp::no_delay(true));
        if constexpr (Tls) {
            const std::string name = m_settings.tls.serverName.empty() ? m_endpoint.host : m_settings.tls.serverName;
            beast::error_code notAnAddress;
            boost::asio::ip::make_address(name, notAnAddress);
            if (notAnAddress && !SSL_set_tlsext_host_name(m_ws.next_layer().native_handle(), name.c_str()))
                return finish(kAbnormalClosure, "cannot set the TLS server name");
            if (m_settings.tls.verifyPeer)
                m_ws.next_layer().set_verify_callback(ssl::host_name_verification(name));
            m_ws.next_layer().async_handshake(ssl::stream_base::client, [self = this->shared_from_this()](const beast::error_code &ec) {
                if (self->m_done)
                    return;
                if (ec)
                    return self->finish(kAbnormalClosure, "TLS handshake failed: " + ec.message());
                self->upgrade();
            });
        } else {
            upgrade();
        }
    }

    void upgrade()
    {
        websocket::stream_base::timeout timeouts = websocket::stream_base::timeout::suggested(beast::role_type::client);
        timeouts.handshake_timeout = std::chrono::seconds(10); // also bounds the close handshake
        m_ws.set_option(timeouts);
        m_ws.set_option(websocket::stream_base::decorator(
            [headers = m_settings.headers, subprotocol = m_subprotocol](websocket::request_type &req) {
                req.set(beast::http::field::user_agent, "switchboard-asio-client");
                for (const auto &[name, value] : headers)
                    req.set(name, value);
                if (!subprotocol.empty())
                    req.set(beast::http::field::sec_websocket_protocol, subprotocol);
            }));
        m_ws.read_message_max(m_settings.maxMessageBytes); // counts inflated bytes too
        if (m_settings.deflate.enabled) {
            // Offered as: permessage-deflate; server_max_window_bits=N; client_max_window_bits=15;
            // server_no_context_takeover; client_no_context_takeover. The gateway answers without
            // client_max_window_bits, which lets this side compress with up to 15 bits.
            websocket::permessage_deflate deflate;
            deflate.client_enable = true;
            deflate.server_max_window_bits = std::clamp(m_settings.deflate.maxWindowBits, 9, 15);
            deflate.client_max_window_bits = 15;
            deflate.server_no_context_takeover = true;
            deflate.client_no_context_takeover = true;
            deflate.msg_size_threshold = m_settings.deflate.minCompressBytes;
            m_ws.set_option(deflate);
        }
        m_ws.async_handshake(m_response, m_endpoint.hostHeader, m_endpoint.target, [self = this->shared_from_this()](const beast::error_code &ec) {
            if (self->m_done)
                return;
            if (ec)
                return self->finish(kAbnormalClosure, "WebSocket upgrade failed: " + ec.message());
            self->m_open = true;
            if (auto owner = self->m_owner.lock(); owner && *owner)
                (*owner)->connectionOpened(self->m_generation);
            if (!self->m_done)
                self->readNext();
        });
    }

    void readNext()
    {
        m_ws.async_read(m_buffer, [self = this->shared_from_this()](const beast::error_code &ec, std::size_t) {
            self->onRead(ec);
        });
    }

    void onRead(const beast::error_code &ec)
    {
        if (m_done)
            return;
        if (ec == websocket::error::closed) {
            const auto &theirs = m_ws.reason();
            if (m_closeRequest)
                return finish(m_closeRequest->first, m_closeRequest->second);
            return finish(theirs.code, std::string(theirs.reason.c_str(), theirs.reason.size()));
        }
        if (ec) {
            if (m_closeRequest)
                return finish(m_closeRequest->first, m_closeRequest->second);
            if (ec == websocket::error::message_too_big)
                return finish(1009, "message too big");
            return finish(kAbnormalClosure, ec.message());
        }
        const auto data = m_buffer.cdata();
        const std::string_view bytes(static_cast<const char *>(data.data()), data.size());
        if (auto owner = m_owner.lock(); owner && *owner)
            (*owner)->connectionMessage(m_generation, bytes, !m_ws.got_text());
        m_buffer.consume(m_buffer.size());
        if (!m_done)
            readNext();
    }

    void writeNext()
    {
        m_writing = true;
        m_ws.text(!m_queue.front().second);
        m_ws.async_write(boost::asio::buffer(m_queue.front().first),
                         [self = this->shared_from_this()](const beast::error_code &ec, std::size_t) { self->onWritten(ec); });
    }

    void onWritten(const beast::error_code &ec)
    {
        m_writing = false;
        if (m_done)
            return;
        if (ec)
            return finish(m_closeRequest ? m_closeRequest->first : kAbnormalClosure, "write failed: " + ec.message());
        if (!m_queue.empty()) { // close() may have cleared it meanwhile
            m_queuedBytes -= m_queue.front().first.size();
            m_queue.pop_front();
        }
        if (m_closeRequest)
            sendClose();
        else if (!m_queue.empty())
            writeNext();
    }

    void sendClose()
    {
        websocket::close_reason reason(m_closeRequest->first);
        reason.reason = m_closeRequest->second;
        m_ws.async_close(reason, [self = this->shared_from_this()](const beast::error_code &) {
            // The close handshake is over (or failed): report the code we asked for.
            if (!self->m_done)
                self->finish(self->m_closeRequest->first, self->m_closeRequest->second);
        });
    }

    void dropSocket()
    {
        beast::error_code ignored;
        m_resolver.cancel();
        beast::get_lowest_layer(m_ws).socket().close(ignored);
    }

    /// The end of this connection: reported once, from the strand, never inline.
    void finish(std::uint16_t code, std::string reason)
    {
        if (m_done)
            return;
        m_done = true;
        dropSocket();
        boost::asio::post(m_strand, [owner = m_owner, generation = m_generation, code, reason = std::move(reason)] {
            if (auto alive = owner.lock(); alive && *alive)
                (*alive)->connectionClosed(generation, code, reason);
        });
    }

    websocket::stream<NextLayer> m_ws;
    tcp::resolver m_resolver;
    boost::asio::any_io_executor m_strand;
    Endpoint m_endpoint;
    TransportSettings m_settings;
    std::string m_subprotocol; ///< offered; empty: none
    std::weak_ptr<BeastClientTransport *> m_owner;
    std::uint64_t m_generation;
    beast::flat_buffer m_buffer;
    std::deque<std::pair<std::string, bool>> m_queue; ///< (bytes, binary)
    websocket::response_type m_response; ///< the upgrade response: its Sec-WebSocket-Protocol
    std::size_t m_queuedBytes = 0;
    bool m_writing = false;
    bool m_open = false;
    bool m_done = false;
    std::optional<std::pair<std::uint16_t, std::string>> m_closeRequest;
};

} // namespace

BeastClientTransport::BeastClientTransport(boost::asio::any_io_executor strand, TransportSettings settings)
    : m_strand(std::move(strand)), m_settings(std::move(settings))
{
}

BeastClientTransport::~BeastClientTransport()
{
    *m_self = nullptr;
    if (m_connection)
        m_connection->abort();
}

void BeastClientTransport::setListener(ClientTransportListener *listener)
{
    m_listener = listener;
}

ssl::context &BeastClientTransport::tlsContext()
{
    if (!m_tls) {
        auto context = std::make_unique<ssl::context>(ssl::context::tls_client);
        context->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3
                             | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
        if (m_settings.tls.verifyPeer) {
            context->set_verify_mode(ssl::verify_peer);
            if (m_settings.tls.caFile.empty())
                context->set_default_verify_paths();
            else
                context->load_verify_file(m_settings.tls.caFile); // throws when unreadable
        } else {
            context->set_verify_mode(ssl::verify_none);
        }
        m_tls = std::move(context);
    }
    return *m_tls;
}

void BeastClientTransport::open(const std::string &url)
{
    if (m_connection) // the caller did not wait for the previous close: drop that connection
        m_connection->abort();
    m_connection.reset();
    const std::uint64_t generation = ++m_generation;
    std::string error;
    const auto endpoint = parseEndpoint(url, error);
    if (!endpoint)
        return failLater(generation, std::move(error));
    try {
        if (endpoint->tls)
            m_connection = std::make_shared<WsConnection<true>>(m_strand, &tlsContext(), *endpoint, m_settings,
                                                                m_subprotocol, m_self, generation);
        else
            m_connection = std::make_shared<WsConnection<false>>(m_strand, nullptr, *endpoint, m_settings,
                                                                 m_subprotocol, m_self, generation);
    } catch (const std::exception &e) { // the CA file could not be read
        return failLater(generation, std::string("TLS setup failed: ") + e.what());
    }
    m_connection->start();
}

void BeastClientTransport::failLater(std::uint64_t generation, std::string reason)
{
    boost::asio::post(m_strand, [self = std::weak_ptr<BeastClientTransport *>(m_self), generation, reason = std::move(reason)] {
        if (auto alive = self.lock(); alive && *alive)
            (*alive)->connectionClosed(generation, kAbnormalClosure, reason);
    });
}

void BeastClientTransport::setSubprotocol(std::string_view subprotocol) { m_subprotocol = subprotocol; }

std::string BeastClientTransport::negotiatedSubprotocol() const
{
    return m_connection ? m_connection->negotiated() : std::string();
}

void BeastClientTransport::sendText(std::string_view text)
{
    if (m_connection)
        m_connection->send(std::string(text), false);
}

void BeastClientTransport::sendBinary(std::string_view bytes)
{
    if (m_connection)
        m_connection->send(std::string(bytes), true);
}

void BeastClientTransport::close(std::uint16_t code, std::string_view reason)
{
    if (m_connection)
        m_connection->close(code, std::string(reason));
}

void BeastClientTransport::connectionOpened(std::uint64_t generation)
{
    if (generation == m_generation && m_listener)
        m_listener->onTransportOpen();
}

void BeastClientTransport::connectionMessage(std::uint64_t generation, std::string_view bytes, bool binary)
{
    if (generation == m_generation && m_listener)
        m_listener->onTransportMessage(bytes, binary);
}

void BeastClientTransport::connectionClosed(std::uint64_t generation, std::uint16_t code, std::string_view reason)
{
    if (generation != m_generation || generation <= m_reportedGeneration)
        return;
    m_reportedGeneration = generation;
    m_connection.reset();
    if (m_listener)
        m_listener->onTransportClosed(code, reason);
}

} // namespace switchboard::asioclient
