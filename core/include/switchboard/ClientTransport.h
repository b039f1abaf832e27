#pragma once
// ClientTransport: what a client-side WebSocket implementation provides to ClientSession.
// Qt (QWebSocket), the browser (Emscripten websocket API) and tests (in-memory) implement it.

#include <cstdint>
#include <string>
#include <string_view>

namespace switchboard {

class ClientTransportListener {
public:
    virtual ~ClientTransportListener() = default;
    virtual void onTransportOpen() = 0;
    virtual void onTransportMessage(std::string_view bytes, bool binary) = 0;
    /// The connection is gone (failed to open, closed by either side). Called once per open().
    virtual void onTransportClosed(std::uint16_t code, std::string_view reason) = 0;
};

/// Contract: open() starts connecting and returns at once; listener callbacks come later, on the
/// thread that owns the ClientSession, never from inside open()/send()/close(). After close() the
/// transport still reports onTransportClosed once. Only one connection at a time.
class ClientTransport {
public:
    virtual ~ClientTransport() = default;
    virtual void setListener(ClientTransportListener *listener) = 0;
    virtual void open(const std::string &url) = 0;
    /// Offers `subprotocol` (Sec-WebSocket-Protocol) at the following open()s; empty: none. A
    /// transport that cannot offer one keeps the default, which leaves the session on JSON.
    virtual void setSubprotocol(std::string_view subprotocol) { (void)subprotocol; }
    /// The subprotocol the server chose: valid from onTransportOpen until the connection ends;
    /// empty when it chose none.
    virtual std::string negotiatedSubprotocol() const { return {}; }
    virtual void sendText(std::string_view text) = 0;
    /// One binary message. The session sends them only on a connection that negotiated the
    /// binary encoding.
    virtual void sendBinary(std::string_view bytes) = 0;
    virtual void close(std::uint16_t code, std::string_view reason) = 0;
};

} // namespace switchboard
