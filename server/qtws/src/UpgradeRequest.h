#pragma once
// UpgradeRequest: reads the HTTP request that opens a WebSocket (RFC 6455 4.2.1) from the bytes a
// socket delivers, with Boost.Beast's HTTP parser, and builds the server's answer: 101 with the
// accept key, or the refusal status a client can act on (400, 426, 431; 403 from the gateway's
// Origin check). No Qt and no sockets: the Qt gateway feeds it and writes what it returns.

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace switchboard::qtws {

/// The fields of a valid upgrade request the gateway needs.
struct UpgradeRequest {
    std::string key;        ///< Sec-WebSocket-Key (checked: base64 of 16 bytes)
    std::string origin;     ///< Origin, empty when absent
    bool hasOrigin = false;
    std::string extensions; ///< every Sec-WebSocket-Extensions header, joined with ", "
    std::string subprotocols; ///< every Sec-WebSocket-Protocol header, joined with ","
    std::string target;     ///< the request-target as sent (path and query: "/ws", "/app/KEY?protocol=7")
};

/// One per connection, until the request is complete or refused. Not thread-safe.
///
/// Memory: holds the bytes of the request until its header is complete, at most
/// `maxHeaderBytes` (more is refused with 431), plus whatever came in the same reads after it.
class UpgradeRequestReader {
public:
    enum class Status {
        NeedMore,  ///< the header is not complete yet
        Complete,  ///< request() is a valid upgrade; takeLeftover() has the bytes after it
        Refused,   ///< refusalStatus() / refusalReason(): answer with refusalResponse()
    };

    explicit UpgradeRequestReader(std::size_t maxHeaderBytes);
    ~UpgradeRequestReader();
    UpgradeRequestReader(const UpgradeRequestReader &) = delete;
    UpgradeRequestReader &operator=(const UpgradeRequestReader &) = delete;

    /// Appends bytes read from the socket. Call only while the status is NeedMore.
    Status feed(const char *data, std::size_t size);

    const UpgradeRequest &request() const { return m_request; }
    /// The bytes that followed the request in the reads so far (the client's first frames).
    std::string takeLeftover();
    int refusalStatus() const { return m_status; }
    const std::string &refusalReason() const { return m_reason; }
    std::size_t bufferedBytes() const { return m_buffer.size(); }

private:
    Status refuse(int status, std::string reason);

    struct Parser;
    std::unique_ptr<Parser> m_parser;
    std::string m_buffer;             ///< bytes read and not yet used by the parser
    std::size_t m_headerBytesUsed = 0; ///< header bytes the parser has used (the request line...)
    std::size_t m_maxHeaderBytes;
    UpgradeRequest m_request;
    int m_status = 0;
    std::string m_reason;
};

/// "HTTP/1.1 101 Switching Protocols" with Sec-WebSocket-Accept for `key`,
/// Sec-WebSocket-Extensions when `extensions` is not empty (the agreed permessage-deflate) and
/// Sec-WebSocket-Protocol when `subprotocol` is not empty (the chosen one).
std::string switchingProtocolsResponse(std::string_view key, std::string_view extensions = {},
                                       std::string_view subprotocol = {});
/// A refusal with a short text body and `Connection: close`. 426 also names what the server
/// speaks (`Upgrade: websocket`, `Sec-WebSocket-Version: 13`).
std::string refusalResponse(int status, std::string_view reason);

} // namespace switchboard::qtws
