#include "switchboard/qt/QtClientTransport.h"

#include "JsonVariant.h"

#include <QUrl>
#include <QWebSocketHandshakeOptions>

namespace switchboard::qt {

namespace {
constexpr std::uint16_t kAbnormalClosure = 1006; // RFC 6455: no close frame was received

void deleteSocketLater(QWebSocket *socket)
{
    if (socket) {
        QObject::disconnect(socket, nullptr, nullptr, nullptr);
        socket->abort();
        socket->deleteLater();
    }
}
} // namespace

QtClientTransport::QtClientTransport(QObject *parent) : QObject(parent) {}

QtClientTransport::~QtClientTransport() = default;

void QtClientTransport::setListener(ClientTransportListener *listener)
{
    m_listener = listener;
}

void QtClientTransport::open(const std::string &url)
{
    const quint64 generation = ++m_generation;
    m_opened = false;
    m_closeRequested = false;
    m_socket = std::unique_ptr<QWebSocket, void (*)(QWebSocket *)>(new QWebSocket(), &deleteSocketLater);
    QWebSocket *socket = m_socket.get();
    // No socket read limit: QWebSocket (6.4) needs a whole frame in the socket buffer, so a
    // bounded buffer would stall on frames larger than the bound.
    connect(socket, &QWebSocket::connected, this, [this, generation] {
        if (generation != m_generation)
            return;
        m_opened = true;
        if (m_listener)
            m_listener->onTransportOpen();
    });
    connect(socket, &QWebSocket::textMessageReceived, this, [this, generation](const QString &text) {
        if (generation != m_generation || !m_listener)
            return;
        const QByteArray utf8 = text.toUtf8();
        m_listener->onTransportMessage(std::string_view(utf8.constData(), static_cast<std::size_t>(utf8.size())), false);
    });
    connect(socket, &QWebSocket::binaryMessageReceived, this, [this, generation](const QByteArray &bytes) {
        if (generation != m_generation || !m_listener)
            return;
        m_listener->onTransportMessage(std::string_view(bytes.constData(), static_cast<std::size_t>(bytes.size())), true);
    });
    connect(socket, &QWebSocket::stateChanged, this, [this, generation, socket](QAbstractSocket::SocketState state) {
        if (state != QAbstractSocket::UnconnectedState || generation != m_generation)
            return;
        std::uint16_t code = static_cast<std::uint16_t>(socket->closeCode());
        QString reason = socket->closeReason();
        // QWebSocket reports 1000 when no close frame came (refused, reset, timeout).
        if (!m_opened || (code == 1000 && reason.isEmpty() && !m_closeRequested
                          && socket->error() != QAbstractSocket::UnknownSocketError))
            code = kAbnormalClosure;
        QMetaObject::invokeMethod(this, [this, generation, code, reason] { reportClosed(generation, code, reason); },
                                  Qt::QueuedConnection);
    });
    QWebSocketHandshakeOptions handshake;
    if (!m_subprotocol.isEmpty())
        handshake.setSubprotocols({m_subprotocol});
    socket->open(QUrl(detail::toQString(url)), handshake);
}

void QtClientTransport::setSubprotocol(std::string_view subprotocol)
{
    m_subprotocol = detail::toQString(subprotocol);
}

std::string QtClientTransport::negotiatedSubprotocol() const
{
    if (!m_socket || m_socket->state() != QAbstractSocket::ConnectedState)
        return {};
    return m_socket->subprotocol().toStdString();
}

void QtClientTransport::reportClosed(quint64 generation, std::uint16_t code, const QString &reason)
{
    if (generation <= m_reportedGeneration)
        return;
    m_reportedGeneration = generation;
    const QByteArray utf8 = reason.toUtf8();
    if (m_listener)
        m_listener->onTransportClosed(code, std::string_view(utf8.constData(), static_cast<std::size_t>(utf8.size())));
}

void QtClientTransport::sendText(std::string_view text)
{
    if (m_socket && m_socket->state() == QAbstractSocket::ConnectedState)
        m_socket->sendTextMessage(detail::toQString(text));
}

void QtClientTransport::sendBinary(std::string_view bytes)
{
    if (m_socket && m_socket->state() == QAbstractSocket::ConnectedState)
        m_socket->sendBinaryMessage(QByteArray(bytes.data(), static_cast<qsizetype>(bytes.size())));
}

void QtClientTransport::close(std::uint16_t code, std::string_view reason)
{
    if (!m_socket)
        return;
    m_closeRequested = true;
    const quint64 generation = m_generation;
    if (m_socket->state() == QAbstractSocket::UnconnectedState) {
        QMetaObject::invokeMethod(this, [this, generation, code] { reportClosed(generation, code, {}); },
                                  Qt::QueuedConnection);
        return;
    }
    if (m_socket->state() != QAbstractSocket::ConnectedState) {
        m_socket->abort(); // still connecting: no close handshake possible
        return;
    }
    m_socket->close(static_cast<QWebSocketProtocol::CloseCode>(code), detail::toQString(reason));
}

} // namespace switchboard::qt
