#include "UpgradeRequest.h"

#include <switchboard/websocket/Codec.h>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

#include <sstream>

namespace switchboard::qtws {

namespace http = boost::beast::http;

namespace {

/// Sec-WebSocket-Key must be 16 bytes in base64: 22 alphabet characters and "==" (RFC 6455 4.1).
bool isValidKey(std::string_view key)
{
    if (key.size() != 24 || key.substr(22) != "==")
        return false;
    for (const char c : key.substr(0, 22)) {
        const bool alphabet = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
        if (!alphabet)
            return false;
    }
    return true;
}

} // namespace

struct UpgradeRequestReader::Parser {
    http::request_parser<http::empty_body> parser;
};

UpgradeRequestReader::UpgradeRequestReader(std::size_t maxHeaderBytes)
    : m_parser(std::make_unique<Parser>()), m_maxHeaderBytes(maxHeaderBytes)
{
    m_parser->parser.header_limit(static_cast<std::uint32_t>(maxHeaderBytes));
}

UpgradeRequestReader::~UpgradeRequestReader() = default;

UpgradeRequestReader::Status UpgradeRequestReader::refuse(int status, std::string reason)
{
    m_status = status;
    m_reason = std::move(reason);
    m_buffer.clear();
    return Status::Refused;
}

UpgradeRequestReader::Status UpgradeRequestReader::feed(const char *data, std::size_t size)
{
    m_buffer.append(data, size);
    // Beast may consume the request line before the rest of the header has come (it returns how
    // much it used, with need_more): the next call starts after what it used.
    boost::beast::error_code ec;
    auto &parser = m_parser->parser;
    const std::size_t used = parser.put(boost::asio::buffer(m_buffer), ec);
    m_buffer.erase(0, used);
    m_headerBytesUsed += used;
    if (ec == http::error::need_more) {
        if (m_headerBytesUsed + m_buffer.size() > m_maxHeaderBytes)
            return refuse(431, "request header too large");
        return Status::NeedMore;
    }
    // Beast applies its limit to what it has not used yet: the whole header is held to it here.
    if (ec == http::error::header_limit || m_headerBytesUsed > m_maxHeaderBytes)
        return refuse(431, "request header too large");
    if (ec)
        return refuse(400, "malformed HTTP request: " + ec.message());
    if (!parser.is_done())
        return refuse(400, "an upgrade request has no body");

    const auto &req = parser.get();
    if (!boost::beast::websocket::is_upgrade(req))
        return refuse(426, "WebSocket upgrade required");
    if (req.find(http::field::host) == req.end())
        return refuse(400, "Host header missing");
    const auto version = req.find(http::field::sec_websocket_version);
    if (version == req.end() || version->value() != "13")
        return refuse(426, "WebSocket version 13 required");
    const auto key = req.find(http::field::sec_websocket_key);
    if (key == req.end() || !isValidKey(key->value()))
        return refuse(400, "Sec-WebSocket-Key missing or not 16 bytes of base64");
    m_request.key = std::string(key->value());
    m_request.target = std::string(req.target());
    if (const auto origin = req.find(http::field::origin); origin != req.end()) {
        m_request.origin = std::string(origin->value());
        m_request.hasOrigin = true;
    }
    for (auto range = req.equal_range(http::field::sec_websocket_extensions); range.first != range.second; ++range.first) {
        if (!m_request.extensions.empty())
            m_request.extensions += ", ";
        m_request.extensions.append(range.first->value());
    }
    for (auto range = req.equal_range(http::field::sec_websocket_protocol); range.first != range.second; ++range.first) {
        if (!m_request.subprotocols.empty())
            m_request.subprotocols += ',';
        m_request.subprotocols.append(range.first->value());
    }
    return Status::Complete;
}

std::string UpgradeRequestReader::takeLeftover()
{
    std::string leftover;
    leftover.swap(m_buffer);
    return leftover;
}

std::string switchingProtocolsResponse(std::string_view key, std::string_view extensions, std::string_view subprotocol)
{
    http::response<http::empty_body> res(http::status::switching_protocols, 11);
    res.set(http::field::server, "Switchboard");
    res.set(http::field::upgrade, "websocket");
    res.set(http::field::connection, "Upgrade");
    res.set(http::field::sec_websocket_accept, websocket::acceptKey(key));
    if (!extensions.empty())
        res.set(http::field::sec_websocket_extensions, extensions);
    if (!subprotocol.empty())
        res.set(http::field::sec_websocket_protocol, subprotocol);
    std::ostringstream out;
    out << res.base();
    return std::move(out).str();
}

std::string refusalResponse(int status, std::string_view reason)
{
    http::response<http::string_body> res(static_cast<http::status>(status), 11);
    res.set(http::field::server, "Switchboard");
    res.set(http::field::content_type, "text/plain; charset=utf-8");
    res.set(http::field::connection, "close");
    if (status == 426) {
        res.set(http::field::upgrade, "websocket");
        res.set(http::field::sec_websocket_version, "13");
    }
    res.body().assign(reason);
    res.body().push_back('\n');
    res.prepare_payload();
    std::ostringstream out;
    out << res;
    return std::move(out).str();
}

} // namespace switchboard::qtws
