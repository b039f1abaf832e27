#pragma once
// QtClientTransport: core's ClientTransport over QWebSocket.

#include <switchboard/ClientTransport.h>

#include <QObject>
#include <QPointer>
#include <QWebSocket>

#include <memory>

namespace switchboard::qt {

/// One QWebSocket per open() (the previous one is discarded). The listener hears about the end of
/// each connection exactly once, from a queued invocation, never from inside open/send/close.
/// Connections that end without a close frame (refused, reset) report 1006.
///
/// Thread safety: the creating thread only.
class QtClientTransport final : public QObject, public ClientTransport
{
    Q_OBJECT

public:
    explicit QtClientTransport(QObject *parent = nullptr);
    ~QtClientTransport() override;

    void setListener(ClientTransportListener *listener) override;
    void open(const std::string &url) override;
    void setSubprotocol(std::string_view subprotocol) override;
    std::string negotiatedSubprotocol() const override;
    void sendText(std::string_view text) override;
    void sendBinary(std::string_view bytes) override;
    void close(std::uint16_t code, std::string_view reason) override;

    /// The current socket (null before the first open()). For diagnostics and tests.
    QWebSocket *socket() const { return m_socket.get(); }

private:
    void reportClosed(quint64 generation, std::uint16_t code, const QString &reason);

    ClientTransportListener *m_listener = nullptr;
    std::unique_ptr<QWebSocket, void (*)(QWebSocket *)> m_socket{nullptr, nullptr};
    QString m_subprotocol; ///< offered at open(); empty: none
    quint64 m_generation = 0;
    quint64 m_reportedGeneration = 0;
    bool m_opened = false;
    bool m_closeRequested = false;
};

} // namespace switchboard::qt
