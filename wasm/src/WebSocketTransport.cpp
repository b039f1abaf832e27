#include "WebSocketTransport.h"

#include <cstring>

namespace switchboard::web {

namespace {
constexpr std::uint16_t kAbnormalClosure = 1006;
constexpr std::size_t kMaxCloseReasonBytes = 123;
} // namespace

std::string_view truncateUtf8(std::string_view reason, std::size_t maxBytes)
{
    if (reason.size() <= maxBytes)
        return reason;
    std::size_t end = maxBytes;
    while (end > 0 && (static_cast<unsigned char>(reason[end]) & 0xC0) == 0x80)
        --end; // reason[end] is a continuation byte: cut before its lead byte
    return reason.substr(0, end);
}

std::uint16_t browserCloseCode(std::uint16_t code)
{
    return (code == 1000 || (code >= 3000 && code <= 4999)) ? code : 1000;
}

WebSocketTransport::WebSocketTransport(Executor &executor) : m_executor(executor) {}

WebSocketTransport::~WebSocketTransport()
{
    *m_alive = false;
    if (m_socket > 0) {
        if (m_open)
            emscripten_websocket_close(m_socket, 1000, "");
        release();
    }
}

void WebSocketTransport::setListener(ClientTransportListener *listener)
{
    m_listener = listener;
}

void WebSocketTransport::release()
{
    // Detaches every handler of the browser socket; its events no longer reach us.
    emscripten_websocket_delete(m_socket);
    m_socket = 0;
    m_open = false;
}

void WebSocketTransport::open(const std::string &url)
{
    if (m_socket > 0) { // the caller did not wait for the previous close: drop that socket
        emscripten_websocket_close(m_socket, 1000, "");
        release();
    }
    EmscriptenWebSocketCreateAttributes attributes;
    emscripten_websocket_init_create_attributes(&attributes);
    attributes.url = url.c_str();
    // A comma-separated list for the browser's WebSocket(url, protocols); none when empty.
    attributes.protocols = m_subprotocol.empty() ? nullptr : m_subprotocol.c_str();
    attributes.createOnMainThread = EM_TRUE;
    const EMSCRIPTEN_WEBSOCKET_T socket = emscripten_websocket_new(&attributes);
    if (socket <= 0) {
        m_executor.post([this, alive = m_alive] {
            if (*alive && m_listener)
                m_listener->onTransportClosed(kAbnormalClosure, "cannot create a WebSocket");
        });
        return;
    }
    m_socket = socket;
    emscripten_websocket_set_onopen_callback(socket, this, &WebSocketTransport::onOpen);
    emscripten_websocket_set_onmessage_callback(socket, this, &WebSocketTransport::onMessage);
    emscripten_websocket_set_onclose_callback(socket, this, &WebSocketTransport::onClose);
    // Errors are always followed by a close event, which carries the code: no onerror handler.
}

void WebSocketTransport::sendText(std::string_view text)
{
    if (m_socket <= 0 || !m_open)
        return;
    m_sendBuffer.assign(text);
    if (emscripten_websocket_send_utf8_text(m_socket, m_sendBuffer.c_str()) == EMSCRIPTEN_RESULT_SUCCESS)
        m_bytesSent += text.size();
}

void WebSocketTransport::setSubprotocol(std::string_view subprotocol) { m_subprotocol = subprotocol; }

std::string WebSocketTransport::negotiatedSubprotocol() const
{
    if (m_socket <= 0 || !m_open)
        return {};
    int length = 0;
    if (emscripten_websocket_get_protocol_length(m_socket, &length) != EMSCRIPTEN_RESULT_SUCCESS || length <= 0)
        return {};
    std::string protocol(static_cast<std::size_t>(length), '\0'); // length counts the terminator
    if (emscripten_websocket_get_protocol(m_socket, protocol.data(), length) != EMSCRIPTEN_RESULT_SUCCESS)
        return {};
    protocol.resize(strnlen(protocol.c_str(), protocol.size()));
    return protocol;
}

void WebSocketTransport::sendBinary(std::string_view bytes)
{
    if (m_socket <= 0 || !m_open)
        return;
    if (emscripten_websocket_send_binary(m_socket, const_cast<char *>(bytes.data()), static_cast<std::uint32_t>(bytes.size()))
        == EMSCRIPTEN_RESULT_SUCCESS)
        m_bytesSent += bytes.size();
}

void WebSocketTransport::close(std::uint16_t code, std::string_view reason)
{
    if (m_socket <= 0)
        return;
    const std::string shortReason(truncateUtf8(reason, kMaxCloseReasonBytes));
    emscripten_websocket_close(m_socket, browserCloseCode(code), shortReason.c_str());
    m_open = false; // the close event reports the end
}

EM_BOOL WebSocketTransport::onOpen(int, const EmscriptenWebSocketOpenEvent *event, void *opaque)
{
    auto *self = static_cast<WebSocketTransport *>(opaque);
    if (event->socket != self->m_socket)
        return EM_TRUE;
    self->m_open = true;
    if (self->m_listener)
        self->m_listener->onTransportOpen();
    return EM_TRUE;
}

EM_BOOL WebSocketTransport::onMessage(int, const EmscriptenWebSocketMessageEvent *event, void *opaque)
{
    auto *self = static_cast<WebSocketTransport *>(opaque);
    if (event->socket != self->m_socket || !self->m_open)
        return EM_TRUE;
    std::size_t size = event->numBytes;
    if (event->isText && size > 0)
        --size; // text arrives NUL-terminated; numBytes counts the terminator
    self->m_bytesReceived += size;
    if (self->m_listener)
        self->m_listener->onTransportMessage(
            std::string_view(reinterpret_cast<const char *>(event->data), size), !event->isText);
    return EM_TRUE;
}

EM_BOOL WebSocketTransport::onClose(int, const EmscriptenWebSocketCloseEvent *event, void *opaque)
{
    auto *self = static_cast<WebSocketTransport *>(opaque);
    if (event->socket != self->m_socket)
        return EM_TRUE;
    const std::uint16_t code = event->code;
    const std::string reason(event->reason, strnlen(event->reason, sizeof(event->reason)));
    self->release();
    if (self->m_listener)
        self->m_listener->onTransportClosed(code, reason);
    return EM_TRUE;
}

} // namespace switchboard::web
