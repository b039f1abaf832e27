#pragma once
// QtWebSocketGateway: the in-app WebSocket transport for a core Hub, on QtWebSockets.

#include <switchboard/Error.h>

#include <QHostAddress>
#include <QObject>
#include <QSslConfiguration>
#include <QStringList>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>

namespace switchboard {
class Hub;
class ServerProtocol;
}

namespace switchboard::qtws {

struct QtGatewayOptions {
    QHostAddress address = QHostAddress(QHostAddress::LocalHost);
    quint16 port = 0;                        ///< 0: chosen by the OS (see serverPort())
    std::optional<QSslConfiguration> tls;    ///< set: wss:// (TLS handshake before the upgrade)
    QStringList allowedOrigins;              ///< empty: any Origin; else exact matches only
    int maxConnections = 10'000;             ///< more: the handshake completes, then close 3003
    int listenBacklog = 1024;                ///< kernel accept queue (QTcpServer's default is 50)
    qint64 maxFrameBytes = 64 * 1024;        ///< larger incoming messages: close 1009 before buffering
    std::chrono::milliseconds pingInterval{25'000}; ///< WebSocket ping after this much silence
    std::chrono::milliseconds idleTimeout{60'000};  ///< no frame or pong for this long: close 3002
    std::chrono::milliseconds handshakeTimeout{10'000};
    std::chrono::milliseconds closeTimeout{5'000};  ///< closing handshake not finished: abort
    int socketSendBufferSize = 0;            ///< SO_SNDBUF for accepted sockets; 0: OS default
    /// Write frames straight into the socket's buffer (see docs/qt.md, "How bytes move"); off:
    /// go through QWebSocket::sendTextMessage / sendBinaryMessage (one UTF-16 round trip per
    /// text frame and recipient). Both keep the shared frame alive until its bytes are copied.
    bool directFrameWrites = true;
};

struct QtGatewayCounters {
    std::uint64_t accepted = 0;         ///< WebSocket upgrades completed
    std::uint64_t rejectedFull = 0;     ///< closed 3003 because maxConnections was reached
    std::uint64_t rejectedOrigin = 0;   ///< handshakes refused for their Origin
    std::uint64_t idleTimeouts = 0;     ///< closed 3002
    std::uint64_t closeTimeouts = 0;    ///< aborted because the closing handshake hung
    std::uint64_t framesWritten = 0;    ///< frames handed to sockets
    std::uint64_t bytesWritten = 0;     ///< payload bytes handed to sockets
    std::uint64_t flushes = 0;          ///< per-socket flushes (one per dirty socket per loop turn)
    std::uint64_t sslErrors = 0;
};

/// Accepts WebSocket connections and maps each to a core Session driven by a ServerProtocol.
/// It only moves bytes: every frame is interpreted by the ServerProtocol, so this gateway behaves
/// like every other Switchboard transport.
///
/// Outgoing frames go to a bounded per-connection Outbox (limits from the Hub's options; the
/// socket's bytesToWrite() counts against the byte limit) and are written once per event-loop
/// turn for every socket that has something queued. A broadcast frame is never copied per
/// recipient before that write.
///
/// Ownership: `hub` and `protocol` must outlive the gateway. Thread safety: none; create, use and
/// destroy on the thread that drives the Hub (its event loop runs the sockets).
class QtWebSocketGateway : public QObject
{
    Q_OBJECT

public:
    QtWebSocketGateway(Hub &hub, ServerProtocol &protocol, QtGatewayOptions options = {},
                       QObject *parent = nullptr);
    ~QtWebSocketGateway() override;

    /// Starts listening on options().address / port. False with errorString() on failure.
    bool listen();
    /// Stops listening, sends `disconnect` and closes every connection with `code`. The
    /// connections end asynchronously (connectionCount() reaches 0 later).
    void close(DisconnectCode code = DisconnectCode::Shutdown, const QString &reason = QStringLiteral("shutdown"));
    bool isListening() const;
    quint16 serverPort() const;
    QHostAddress serverAddress() const;
    QString errorString() const;

    int connectionCount() const;
    QtGatewayCounters counters() const;
    const QtGatewayOptions &options() const;
    /// Applies to the next listen() (and to connections accepted after it).
    void setOptions(const QtGatewayOptions &options);

Q_SIGNALS:
    void connectionCountChanged(int count);
    void listeningChanged(bool listening);
    void acceptError(const QString &message);

private:
    struct Private;
    std::unique_ptr<Private> d;
};

} // namespace switchboard::qtws
