#include "WsConnection.h"

#include "Clock.h"

#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include <openssl/evp.h>

#include <array>
#include <cstring>
#include <optional>

namespace switchboard::bench {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr std::uint8_t kContinuation = 0x0;
constexpr std::uint8_t kText = 0x1;
constexpr std::uint8_t kBinary = 0x2;
constexpr std::uint8_t kClose = 0x8;
constexpr std::uint8_t kPing = 0x9;
constexpr std::uint8_t kPong = 0xA;
constexpr std::size_t kMaxHeader = 14;
constexpr std::uint64_t kMaxFrame = 64ull << 20;

std::string base64(const unsigned char *data, std::size_t size)
{
    std::string out(4 * ((size + 2) / 3), '\0');
    const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char *>(out.data()), data, static_cast<int>(size));
    out.resize(static_cast<std::size_t>(n));
    return out;
}

// Sec-WebSocket-Accept for a key (RFC 6455 section 4.2.2): base64(SHA-1(key + GUID)).
std::string acceptFor(std::string_view key)
{
    static constexpr std::string_view guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    std::string input;
    input.reserve(key.size() + guid.size());
    input.append(key).append(guid);
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    EVP_Digest(input.data(), input.size(), digest, &length, EVP_sha1(), nullptr);
    return base64(digest, length);
}

// Total size of the frame starting at `data`, or nullopt while its header is incomplete.
std::optional<std::uint64_t> frameSize(const char *data, std::size_t size)
{
    if (size < 2)
        return std::nullopt;
    const auto *p = reinterpret_cast<const unsigned char *>(data);
    std::uint64_t length = p[1] & 0x7F;
    std::size_t header = 2;
    if (length == 126) {
        if (size < 4)
            return std::nullopt;
        length = (std::uint64_t(p[2]) << 8) | p[3];
        header = 4;
    } else if (length == 127) {
        if (size < 10)
            return std::nullopt;
        length = 0;
        for (int i = 2; i < 10; ++i)
            length = (length << 8) | p[i];
        header = 10;
    }
    if (p[1] & 0x80)
        header += 4;
    return header + length;
}

} // namespace

struct WsConnection::Handshake
{
    http::request<http::empty_body> request;
    http::response<http::empty_body> response;
    boost::beast::flat_buffer buffer;
    std::string expectedAccept;
    UpgradeCallback done;
};

WsConnection::WsConnection(asio::io_context &io, std::vector<char> &scratch, std::uint64_t seed)
    : m_socket(io)
    , m_scratch(scratch)
    , m_random(static_cast<std::minstd_rand::result_type>(seed % 2147483646u + 1))
{
}

WsConnection::~WsConnection()
{
    boost::system::error_code ignored;
    m_socket.close(ignored);
}

void WsConnection::open(const tcp::endpoint &endpoint, std::string_view hostHeader, std::string_view target,
                        UpgradeCallback done)
{
    m_state = State::Upgrading;
    m_handshake = std::make_unique<Handshake>();
    m_handshake->done = std::move(done);

    std::array<unsigned char, 16> nonce;
    for (auto &b : nonce)
        b = static_cast<unsigned char>(m_random());
    const std::string key = base64(nonce.data(), nonce.size());
    m_handshake->expectedAccept = acceptFor(key);

    auto &req = m_handshake->request;
    req.method(http::verb::get);
    req.target(target);
    req.version(11);
    req.set(http::field::host, hostHeader);
    req.set(http::field::upgrade, "websocket");
    req.set(http::field::connection, "Upgrade");
    req.set(http::field::sec_websocket_key, key);
    req.set(http::field::sec_websocket_version, "13");
    req.set(http::field::user_agent, m_userAgent);
    if (!m_subprotocol.empty())
        req.set(http::field::sec_websocket_protocol, m_subprotocol);

    m_socket.async_connect(endpoint, [this](boost::system::error_code ec) {
        if (ec)
            return finishUpgrade(false, "connect: " + ec.message());
        boost::system::error_code ignored;
        m_socket.set_option(tcp::no_delay(true), ignored);
        http::async_write(m_socket, m_handshake->request, [this](boost::system::error_code ec, std::size_t) {
            if (ec)
                return finishUpgrade(false, "upgrade request: " + ec.message());
            http::async_read(m_socket, m_handshake->buffer, m_handshake->response,
                             [this](boost::system::error_code ec, std::size_t) {
                                 if (ec)
                                     return finishUpgrade(false, "upgrade response: " + ec.message());
                                 const auto &res = m_handshake->response;
                                 if (res.result() != http::status::switching_protocols)
                                     return finishUpgrade(false, "upgrade refused: HTTP "
                                                                     + std::to_string(res.result_int()));
                                 if (res[http::field::sec_websocket_accept] != m_handshake->expectedAccept)
                                     return finishUpgrade(false, "upgrade: wrong Sec-WebSocket-Accept");
                                 if (res[http::field::sec_websocket_protocol] != m_subprotocol)
                                     return finishUpgrade(false, "upgrade: subprotocol '" + m_subprotocol
                                                                     + "' not agreed");
                                 finishUpgrade(true, {});
                             });
        });
    });
}

void WsConnection::finishUpgrade(bool ok, std::string_view why)
{
    auto handshake = std::move(m_handshake);
    if (ok) {
        m_state = State::Open;
        const auto leftover = handshake->buffer.data();
        m_pending.assign(static_cast<const char *>(leftover.data()), leftover.size());
        boost::system::error_code ignored;
        m_socket.non_blocking(true, ignored);
    } else {
        m_state = State::Closed;
        boost::system::error_code ignored;
        m_socket.close(ignored);
    }
    handshake->done(ok, why);
}

void WsConnection::startReading()
{
    if (!connected() || m_reading)
        return;
    m_reading = true;
    feed(nullptr, 0, nowNs());
    if (connected())
        armRead();
}

void WsConnection::armRead()
{
    m_socket.async_wait(tcp::socket::wait_read, [this](boost::system::error_code ec) {
        if (ec) {
            if (connected())
                fail("wait: " + ec.message());
            return;
        }
        onReadable();
    });
}

void WsConnection::onReadable()
{
    if (!connected())
        return;
    const std::uint64_t now = nowNs();
    for (;;) {
        boost::system::error_code ec;
        const std::size_t n = m_socket.read_some(asio::buffer(m_scratch), ec);
        if (ec == asio::error::would_block || ec == asio::error::try_again)
            break;
        if (ec) {
            if (ec == asio::error::eof && m_state == State::Closing)
                return fail(m_closeAnswered ? "closed" : "closed by server without a close frame");
            return fail(ec == asio::error::eof ? std::string("closed by server") : "read: " + ec.message());
        }
        feed(m_scratch.data(), n, now);
        if (!connected())
            return;
        // A short read drained the socket; anything arriving later raises a new readiness event.
        if (n < m_scratch.size())
            break;
    }
    armRead();
}

void WsConnection::feed(const char *data, std::size_t size, std::uint64_t receivedNs)
{
    // First finish a frame split across reads, copying only what it still needs.
    while (!m_pending.empty()) {
        const auto total = frameSize(m_pending.data(), m_pending.size());
        if (total && *total > kMaxFrame)
            return fail("frame too large");
        if (total && m_pending.size() >= *total) {
            const auto length = static_cast<std::size_t>(*total);
            handleFrame(m_pending.data(), length, receivedNs);
            if (!connected())
                return;
            m_pending.erase(0, length);
            continue;
        }
        if (size == 0)
            return;
        const std::size_t want = total ? static_cast<std::size_t>(*total) - m_pending.size()
                                       : kMaxHeader - m_pending.size();
        const std::size_t take = std::min(want, size);
        m_pending.append(data, take);
        data += take;
        size -= take;
    }
    if (m_pending.capacity() > (256u << 10))
        std::string().swap(m_pending);

    while (size > 0) {
        const auto total = frameSize(data, size);
        if (total && *total > kMaxFrame)
            return fail("frame too large");
        if (!total || size < *total) {
            m_pending.assign(data, size);
            return;
        }
        const auto length = static_cast<std::size_t>(*total);
        handleFrame(data, length, receivedNs);
        if (!connected())
            return;
        data += length;
        size -= length;
    }
}

void WsConnection::handleFrame(const char *frame, std::size_t size, std::uint64_t receivedNs)
{
    const auto *p = reinterpret_cast<const unsigned char *>(frame);
    const bool fin = p[0] & 0x80;
    const std::uint8_t opcode = p[0] & 0x0F;
    if (p[0] & 0x70)
        return fail("reserved bits set (no extension was negotiated)");
    if (p[1] & 0x80)
        return fail("masked frame from server");
    const std::size_t length7 = p[1] & 0x7F;
    const std::size_t header = length7 < 126 ? 2 : (length7 == 126 ? 4 : 10);
    const std::string_view payload(frame + header, size - header);

    switch (opcode) {
    case kText:
    case kBinary:
        if (m_assembling)
            return fail("new message inside a fragmented one");
        if (fin) {
            m_handler->onMessage(payload, opcode == kBinary, receivedNs);
        } else {
            m_assembling = true;
            m_fragments.assign(payload);
            m_fragmentsBinary = opcode == kBinary;
        }
        return;
    case kContinuation:
        if (!m_assembling)
            return fail("continuation without a first fragment");
        m_fragments.append(payload);
        if (fin) {
            m_assembling = false;
            const std::string message = std::move(m_fragments);
            m_fragments.clear();
            m_handler->onMessage(message, m_fragmentsBinary, receivedNs);
        }
        return;
    case kPing:
        if (m_state == State::Closing)
            return;
        appendControl(kPong, payload);
        flush();
        return;
    case kPong:
        return;
    case kClose: {
        if (m_state == State::Closing) {
            // The server answered our close frame; it closes the TCP connection next (RFC 6455
            // section 7.1.1), so the TIME_WAIT stays on its side. Read on until end of stream.
            m_closeAnswered = true;
            return;
        }
        std::string why = "close frame";
        if (payload.size() >= 2) {
            const unsigned code = (static_cast<unsigned char>(payload[0]) << 8) | static_cast<unsigned char>(payload[1]);
            why += " " + std::to_string(code);
            if (payload.size() > 2)
                why.append(" ").append(payload.substr(2));
        }
        return fail(why);
    }
    default:
        return fail("unknown opcode " + std::to_string(opcode));
    }
}

void WsConnection::appendFrame(std::string_view data, bool binary)
{
    if (m_state == State::Closing)
        return; // nothing may follow our close frame (RFC 6455 section 5.5.1)
    appendRaw(binary ? kBinary : kText, data);
}

void WsConnection::appendControl(std::uint8_t opcode, std::string_view data)
{
    appendRaw(opcode, data.substr(0, 125));
}

void WsConnection::appendRaw(std::uint8_t opcode, std::string_view data)
{
    unsigned char header[kMaxHeader];
    std::size_t h = 0;
    header[h++] = static_cast<unsigned char>(0x80 | opcode);
    const std::uint64_t n = data.size();
    if (n < 126) {
        header[h++] = static_cast<unsigned char>(0x80 | n);
    } else if (n <= 0xFFFF) {
        header[h++] = 0x80 | 126;
        header[h++] = static_cast<unsigned char>(n >> 8);
        header[h++] = static_cast<unsigned char>(n);
    } else {
        header[h++] = 0x80 | 127;
        for (int shift = 56; shift >= 0; shift -= 8)
            header[h++] = static_cast<unsigned char>(n >> shift);
    }
    const std::uint32_t key = static_cast<std::uint32_t>(m_random());
    unsigned char mask[4];
    std::memcpy(mask, &key, 4);
    std::memcpy(header + h, mask, 4);
    h += 4;

    const std::size_t start = m_outbox.size();
    m_outbox.resize(start + h + data.size());
    char *out = m_outbox.data() + start;
    std::memcpy(out, header, h);
    out += h;
    for (std::size_t i = 0; i < data.size(); ++i)
        out[i] = static_cast<char>(data[i] ^ mask[i & 3]);
}

void WsConnection::flush()
{
    if (m_writeInFlight || m_outbox.empty() || !connected())
        return;
    m_writeInFlight = true;
    m_writing.swap(m_outbox);
    asio::async_write(m_socket, asio::buffer(m_writing), [this](boost::system::error_code ec, std::size_t) {
        m_writeInFlight = false;
        m_writing.clear();
        if (ec) {
            if (connected())
                fail("write: " + ec.message());
            return;
        }
        flush();
    });
}

void WsConnection::fail(std::string_view why)
{
    if (m_state == State::Closed)
        return;
    m_state = State::Closed;
    boost::system::error_code ignored;
    m_socket.close(ignored);
    if (m_handler)
        m_handler->onClosed(why);
}

void WsConnection::close(std::uint16_t code)
{
    if (m_state != State::Open)
        return;
    const char payload[2] = {static_cast<char>(code >> 8), static_cast<char>(code & 0xFF)};
    appendControl(kClose, std::string_view(payload, 2));
    flush();
    m_state = State::Closing;
}

void WsConnection::abort()
{
    if (m_state == State::Closed)
        return;
    m_state = State::Closed;
    boost::system::error_code ignored;
    m_socket.set_option(asio::socket_base::linger(true, 0), ignored);
    m_socket.close(ignored);
}

} // namespace switchboard::bench
