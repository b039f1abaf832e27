#pragma once
// WebSocketTransport: ClientTransport over the browser's WebSocket (Emscripten's websocket API).

#include "switchboard/ClientTransport.h"
#include "switchboard/Executor.h"

#include <emscripten/websocket.h>

#include <cstdint>
#include <memory>
#include <string>

namespace switchboard::web {

/// One browser WebSocket at a time. Events arrive from the browser event loop, never from inside
/// open()/sendText()/close(); a socket that cannot be created is reported closed (1006) through
/// the executor. Thread safety: main browser thread only.
///
/// Browser limits handled here: WebSocket.close() accepts only 1000 and 3000-4999 (other codes
/// are sent as 1000) and a reason of at most 123 bytes (longer reasons are cut on a UTF-8
/// character boundary).
class WebSocketTransport final : public ClientTransport {
public:
    explicit WebSocketTransport(Executor &executor);
    ~WebSocketTransport() override;
    WebSocketTransport(const WebSocketTransport &) = delete;
    WebSocketTransport &operator=(const WebSocketTransport &) = delete;

    void setListener(ClientTransportListener *listener) override;
    void open(const std::string &url) override;
    void setSubprotocol(std::string_view subprotocol) override;
    std::string negotiatedSubprotocol() const override;
    void sendText(std::string_view text) override;
    void sendBinary(std::string_view bytes) override;
    void close(std::uint16_t code, std::string_view reason) override;

    std::uint64_t bytesSent() const { return m_bytesSent; }
    std::uint64_t bytesReceived() const { return m_bytesReceived; }

private:
    static EM_BOOL onOpen(int, const EmscriptenWebSocketOpenEvent *event, void *self);
    static EM_BOOL onMessage(int, const EmscriptenWebSocketMessageEvent *event, void *self);
    static EM_BOOL onClose(int, const EmscriptenWebSocketCloseEvent *event, void *self);
    void release();

    Executor &m_executor;
    ClientTransportListener *m_listener = nullptr;
    EMSCRIPTEN_WEBSOCKET_T m_socket = 0;
    bool m_open = false;
    std::string m_subprotocol; // offered at open(); empty: none
    std::string m_sendBuffer; // NUL-terminated copy for emscripten_websocket_send_utf8_text
    std::uint64_t m_bytesSent = 0;
    std::uint64_t m_bytesReceived = 0;
    std::shared_ptr<bool> m_alive = std::make_shared<bool>(true); // guards posted reports
};

/// `reason` cut to at most `maxBytes` bytes without splitting a UTF-8 sequence.
std::string_view truncateUtf8(std::string_view reason, std::size_t maxBytes);
/// A close code the browser accepts for WebSocket.close().
std::uint16_t browserCloseCode(std::uint16_t code);

} // namespace switchboard::web
