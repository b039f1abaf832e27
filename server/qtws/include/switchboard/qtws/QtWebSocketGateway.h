#pragma once
// QtWebSocketGateway: the in-app WebSocket transport for a core Hub. It speaks RFC 6455 itself over
// the QTcpSocket / QSslSocket it accepts (the HTTP upgrade parsed with Boost.Beast, frames read
// by the FrameReader switchboard-gateway shares), so both gateways behave the same on the wire.

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
class PusherProtocol;
class ServerProtocol;
}

namespace switchboard::qtws {

struct QtGatewayOptions {
    QHostAddress address = QHostAddress(QHostAddress::LocalHost);
    quint16 port = 0;                        ///< 0: chosen by the OS (see serverPort())
    std::optional<QSslConfiguration> tls;    ///< set: wss:// (TLS handshake before the upgrade)
    QStringList allowedOrigins;              ///< empty: any Origin; else exact matches only
    int maxConnections = 10'000;             ///< more: the handshake completes, then close 3003
    /// Every accepted TCP connection counts, in its handshake or upgraded; one more is closed at
    /// once, before anything is read (counted in rejectedTcpLimit). 0: maxConnections + 1024.
    int maxTcpConnections = 0;
    int listenBacklog = 1024;                ///< kernel accept queue (QTcpServer's default is 50)
    qint64 maxFrameBytes = 64 * 1024;        ///< larger incoming messages: close 1009 before buffering
    /// permessage-deflate (RFC 7692) offered by clients is accepted (always without context
    /// takeover: no zlib state per connection); publications marked `compress` go out
    /// compressed, built once and shared. Compressed client messages inflating past
    /// maxFrameBytes: close 1009 (inflateRefused).
    bool permessageDeflate = true;
    int deflateWindowBits = 15;              ///< window of the shared compressor, 9-15
    std::chrono::milliseconds pingInterval{25'000}; ///< WebSocket ping after this much silence
    std::chrono::milliseconds idleTimeout{60'000};  ///< no frame or pong for this long: close 3002
    /// From accept to a complete upgrade request (the TLS handshake included): a connection
    /// still short of it is closed (counted in handshakeTimeouts). 0: no deadline.
    std::chrono::milliseconds handshakeTimeout{10'000};
    std::chrono::milliseconds closeTimeout{5'000};  ///< closing handshake not finished: abort
    /// Bytes waiting in the socket's buffer that make no progress for this long (the peer stopped
    /// reading): the connection is aborted (counted in writeTimeouts). 0: no deadline.
    std::chrono::milliseconds writeTimeout{30'000};
    int maxRequestHeaderBytes = 16 * 1024;   ///< larger upgrade request headers: HTTP 431
    int socketSendBufferSize = 0;            ///< SO_SNDBUF for accepted sockets; 0: OS default
    /// Plain TCP: write a flush straight to the socket descriptor when Qt's buffer is empty (see
    /// docs/qt.md, "How bytes move"); off: every byte goes through QTcpSocket::write.
    bool directFrameWrites = true;
};

struct QtGatewayCounters {
    std::uint64_t accepted = 0;         ///< WebSocket upgrades completed
    std::uint64_t rejectedFull = 0;     ///< closed 3003 because maxConnections was reached
    std::uint64_t rejectedOrigin = 0;   ///< handshakes refused for their Origin (HTTP 403)
    std::uint64_t idleTimeouts = 0;     ///< closed 3002
    std::uint64_t closeTimeouts = 0;    ///< aborted because the closing handshake hung
    std::uint64_t framesWritten = 0;    ///< frames handed to sockets
    std::uint64_t bytesWritten = 0;     ///< payload bytes handed to sockets
    std::uint64_t flushes = 0;          ///< per-socket flushes (one per dirty socket per loop turn)
    std::uint64_t sslErrors = 0;
    std::uint64_t tcpAccepted = 0;      ///< TCP connections accepted (before any byte is read)
    std::uint64_t rejectedTcpLimit = 0; ///< closed at once: maxTcpConnections reached
    std::uint64_t handshakeTimeouts = 0; ///< closed: no complete upgrade within handshakeTimeout
    std::uint64_t rejectedBadRequest = 0; ///< HTTP 400 (malformed request, bad key) or 431 (header too large)
    std::uint64_t rejectedVersion = 0;  ///< HTTP 426: not an upgrade, or Sec-WebSocket-Version is not 13
    std::uint64_t writeTimeouts = 0;    ///< aborted: pending bytes made no progress within writeTimeout
    std::uint64_t protocolErrors = 0;   ///< closed 1002: invalid frame (unmasked, bad opcode, ...)
    std::uint64_t invalidUtf8 = 0;      ///< closed 1007: text message that is not UTF-8
    std::uint64_t oversizeMessages = 0; ///< closed 1009: message over maxFrameBytes
    std::uint64_t pingsSent = 0;        ///< server pings to silent connections
    std::uint64_t pingsReceived = 0;    ///< client pings (answered or not: see ProtocolCounters)
    std::uint64_t pongsCoalesced = 0;   ///< pings whose pong was replaced by a later ping's
    std::uint64_t controlOverflows = 0; ///< closed 3001: a pong did not fit under the outbox byte limit
    std::uint64_t deflateSessions = 0;  ///< upgrades that negotiated permessage-deflate
    std::uint64_t deflateCompressions = 0; ///< publications compressed (once each, shared)
    std::uint64_t deflateFramesOut = 0; ///< compressed (RSV1) frames written
    std::uint64_t deflateBytesSaved = 0; ///< payload bytes those frames saved
    std::uint64_t deflateMessagesIn = 0; ///< compressed client messages inflated
    std::uint64_t inflateRefused = 0;   ///< closed 1009: a compressed message inflated past maxFrameBytes
    /// Upgrades on the Pusher endpoint `/app/{key}` (also counted in `accepted`), whatever
    /// PusherProtocol then decided (an unknown key is closed 4001: see PusherProtocol::counters()).
    std::uint64_t pusherAccepted = 0;
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
/// Scale: Qt's event dispatcher polls every socket on each loop turn, so a turn costs more the
/// more connections there are. On one core this gateway completes 13-16 k connect + subscribe a
/// second at 1 000 connections and about 10 k at 10 000 (docs/benchmarks.md, "Measured 2026-12-06
/// (night)"); `QT_NO_GLIB=1` (Qt's own dispatcher) polls more cheaply. For tens of thousands of
/// connections, switchboard-gateway (epoll) is the better host.
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
    /// Reopens the Hub (Hub::reopen) that close() closed.
    bool listen();
    /// Stops listening, sends `disconnect` and closes every connection with `code`
    /// (ServerProtocol::closeAll, which closes the Hub to new sessions until listen()). The
    /// connections end asynchronously (connectionCount() reaches 0 later).
    void close(DisconnectCode code = DisconnectCode::Shutdown, const QString &reason = QStringLiteral("shutdown"));
    bool isListening() const;
    quint16 serverPort() const;
    QHostAddress serverAddress() const;
    QString errorString() const;

    int connectionCount() const;
    /// Accepted TCP connections: those in their handshake, upgraded and still closing.
    int tcpConnectionCount() const;
    /// Bytes held in user space for all connections: outboxes, socket write buffers, pending
    /// pongs and partly read frames. Bounded per connection by the Hub's outbox byte limit plus
    /// one message (maxFrameBytes) and one pong.
    qint64 bufferedBytes() const;
    QtGatewayCounters counters() const;
    const QtGatewayOptions &options() const;
    /// Applies to the next listen() (and to connections accepted after it).
    void setOptions(const QtGatewayOptions &options);

    /// Serves the Pusher Channels protocol 7 (docs/pusher.md) on `/app/{key}?protocol=7` through
    /// `pusher`: upgrades whose path starts with `/app/` become PusherProtocol connections (the
    /// key and protocol are checked by it, answered with pusher:error and close 4001/4007/4008),
    /// every other path stays the native endpoint. Null (the default): every path is native.
    /// Ownership: `pusher` must run on the same Hub and outlive the gateway. Set it before
    /// listen(); connections already open keep the protocol they were accepted with.
    void setPusherProtocol(PusherProtocol *pusher);
    PusherProtocol *pusherProtocol() const;
    /// Open connections on the Pusher endpoint (included in connectionCount()).
    int pusherConnectionCount() const;

Q_SIGNALS:
    void connectionCountChanged(int count);
    void listeningChanged(bool listening);
    void acceptError(const QString &message);

private:
    struct Private;
    std::unique_ptr<Private> d;
};

} // namespace switchboard::qtws
