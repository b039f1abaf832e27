#include "switchboard/qtws/QtWebSocketGateway.h"

#include "QtSocketSession.h"
#include "RefusalLog.h"
#include "SocketRead.h"
#include "SocketWrite.h"
#include "TcpListener.h"
#include "UpgradeRequest.h"

#include <switchboard/Hub.h>
#include <switchboard/PusherProtocol.h>
#include <switchboard/ServerProtocol.h>
#include <switchboard/websocket/Codec.h>
#include <switchboard/websocket/PerMessageDeflate.h>

#include <QElapsedTimer>
#include <QPointer>
#include <QSslSocket>
#include <QTimer>
#include <QUrlQuery>

#include <algorithm>
#include <unordered_map>

namespace switchboard::qtws {

namespace {
/// Qt's read buffer limit per socket: it never reads further ahead of us.
constexpr std::size_t kReadChunk = 64 * 1024;

/// The Pusher endpoint's parts of a request-target "/app/KEY?protocol=7&client=js&version=8.4.0".
struct PusherTarget {
    std::string appKey;
    std::optional<std::string> protocol; ///< the `protocol` query parameter; absent: nullopt
};

std::optional<PusherTarget> pusherTarget(const std::string &target)
{
    constexpr std::string_view prefix = "/app/";
    if (target.rfind(prefix, 0) != 0)
        return std::nullopt;
    const std::size_t queryAt = target.find('?');
    PusherTarget parsed;
    parsed.appKey = target.substr(prefix.size(), queryAt == std::string::npos ? std::string::npos : queryAt - prefix.size());
    if (queryAt != std::string::npos) {
        const QUrlQuery query(QString::fromStdString(target.substr(queryAt + 1)));
        if (query.hasQueryItem(QStringLiteral("protocol")))
            parsed.protocol = query.queryItemValue(QStringLiteral("protocol"), QUrl::FullyDecoded).toStdString();
    }
    return parsed;
}
} // namespace

struct QtWebSocketGateway::Private final : SessionHost {
    /// A connection before its upgrade, or one refused and on its way out.
    struct Handshake {
        explicit Handshake(std::size_t maxHeaderBytes) : reader(maxHeaderBytes) {}
        UpgradeRequestReader reader;
        qint64 deadlineMs = -1; ///< -1: none
        bool refused = false;   ///< answered (or server full): waiting for the socket to close
    };

    QtWebSocketGateway *q;
    Hub &hub;
    ServerProtocol &serverProtocol;
    PusherProtocol *pusher = nullptr; ///< set: `/app/{key}` is the Pusher endpoint
    int pusherSessions = 0;
    QtGatewayOptions options;
    QtGatewayCounters stats;

    std::unique_ptr<TcpListener> listener;
    QTimer heartbeat;
    QElapsedTimer clock;
    QString error;

    // Every accepted socket is in exactly one of these until it is deleted.
    std::unordered_map<QTcpSocket *, std::unique_ptr<Handshake>> handshakes;
    std::unordered_map<QTcpSocket *, std::shared_ptr<QtSocketSession>> sessions;
    int openSockets = 0; ///< accepted and not yet deleted (counted against the TCP limit)

    std::vector<std::shared_ptr<QtSocketSession>> dirty;
    bool flushScheduled = false;
    std::vector<SharedFrame> frames; ///< every session's flush drains its outbox here
    std::string scratch;

    Private(QtWebSocketGateway *owner, Hub &h, ServerProtocol &p, QtGatewayOptions o)
        : q(owner), hub(h), serverProtocol(p), options(std::move(o))
    {
        clock.start();
    }

    // ---- SessionHost ----------------------------------------------------------------------------

    void scheduleFlush(std::shared_ptr<QtSocketSession> session) override
    {
        dirty.push_back(std::move(session));
        if (!flushScheduled) {
            flushScheduled = true;
            QMetaObject::invokeMethod(q, [this] { flush(); }, Qt::QueuedConnection);
        }
    }

    void countWrite(std::size_t frames, std::size_t bytes) override
    {
        stats.framesWritten += frames;
        stats.bytesWritten += bytes;
        ++stats.flushes;
    }

    ServerProtocol &protocol() override { return serverProtocol; }
    QtGatewayCounters &counters() override { return stats; }
    qint64 nowMs() const override { return clock.elapsed(); }

    void flush()
    {
        flushScheduled = false;
        // Sessions may be scheduled again while flushing: work on a snapshot.
        std::vector<std::shared_ptr<QtSocketSession>> batch;
        batch.swap(dirty);
        for (const auto &session : batch)
            session->flush(frames, scratch);
        if (scratch.capacity() > (1u << 20))
            std::string().swap(scratch); // do not keep a burst's buffer forever
        if (frames.capacity() > Outbox::kRetainedCapacity)
            std::vector<SharedFrame>().swap(frames);
    }

    // ---- accepting --------------------------------------------------------------------------------

    int tcpLimit() const
    {
        return options.maxTcpConnections > 0 ? options.maxTcpConnections : options.maxConnections + 1024;
    }

    void accept(qintptr descriptor)
    {
        if (openSockets >= tcpLimit()) {
            ++stats.rejectedTcpLimit;
            QTcpSocket refused;
            if (refused.setSocketDescriptor(descriptor)) {
                logRefusal("tcp limit", &refused, {}, "too many TCP connections");
                refused.abort();
            }
            return;
        }
        QTcpSocket *socket = options.tls ? new QSslSocket(q) : new QTcpSocket(q);
        if (!socket->setSocketDescriptor(descriptor)) {
            delete socket;
            return;
        }
        ++openSockets;
        ++stats.tcpAccepted;
        QObject::connect(socket, &QObject::destroyed, q, [this] { --openSockets; });
        socket->setSocketOption(QAbstractSocket::LowDelayOption, 1);
        if (options.socketSendBufferSize > 0)
            socket->setSocketOption(QAbstractSocket::SendBufferSizeSocketOption, options.socketSendBufferSize);
        socket->setReadBufferSize(static_cast<qint64>(kReadChunk)); // Qt never reads ahead of us unbounded

        auto handshake = std::make_unique<Handshake>(static_cast<std::size_t>(std::max(options.maxRequestHeaderBytes, 1024)));
        if (options.handshakeTimeout.count() > 0)
            handshake->deadlineMs = nowMs() + options.handshakeTimeout.count();
        handshakes.emplace(socket, std::move(handshake));

        QObject::connect(socket, &QIODevice::readyRead, q, [this, socket] { onReadyRead(socket); });
        QObject::connect(socket, &QIODevice::bytesWritten, q, [this, socket] {
            if (const auto it = sessions.find(socket); it != sessions.end())
                it->second->onBytesWritten();
        });
        // Queued: the end of a connection is never reported from inside a write or close. The
        // guard drops a stale call for a socket already gone.
        QObject::connect(socket, &QAbstractSocket::disconnected, q,
                         [this, guard = QPointer<QTcpSocket>(socket)] {
                             if (guard)
                                 ended(guard.data());
                         },
                         Qt::QueuedConnection);

        if (auto *tls = qobject_cast<QSslSocket *>(socket)) {
            QObject::connect(tls, &QSslSocket::sslErrors, q, [this](const QList<QSslError> &) { ++stats.sslErrors; });
            QObject::connect(tls, &QAbstractSocket::errorOccurred, q, [this, tls](QAbstractSocket::SocketError e) {
                if (e == QAbstractSocket::SslHandshakeFailedError) {
                    ++stats.sslErrors;
                    logRefusal("tls handshake", tls, {}, tls->errorString().toStdString());
                }
            });
            tls->setSslConfiguration(*options.tls);
            tls->startServerEncryption();
        }
    }

    void onReadyRead(QTcpSocket *socket)
    {
        if (const auto it = sessions.find(socket); it != sessions.end()) {
            const std::shared_ptr<QtSocketSession> session = it->second; // reading may close it
            session->readAvailable();
            return;
        }
        const auto it = handshakes.find(socket);
        if (it == handshakes.end())
            return;
        Handshake &handshake = *it->second;
        for (;;) {
            const QByteArray block = takeBufferedBytes(*socket);
            if (block.isEmpty())
                return;
            if (handshake.refused)
                continue; // answered already: the rest is discarded
            switch (handshake.reader.feed(block.constData(), static_cast<std::size_t>(block.size()))) {
            case UpgradeRequestReader::Status::NeedMore:
                continue;
            case UpgradeRequestReader::Status::Refused:
                refuse(socket, handshake, handshake.reader.refusalStatus(), handshake.reader.refusalReason());
                continue;
            case UpgradeRequestReader::Status::Complete:
                upgrade(socket, handshake); // `handshake` may be gone now
                return;
            }
        }
    }

    /// Answers with an HTTP error status and closes once it is written.
    void refuse(QTcpSocket *socket, Handshake &handshake, int status, const std::string &reason)
    {
        switch (status) {
        case 403: ++stats.rejectedOrigin; break;
        case 426: ++stats.rejectedVersion; break;
        default: ++stats.rejectedBadRequest; break;
        }
        logRefusal(status == 403 ? "origin" : "upgrade request", socket, {}, reason);
        const std::string response = refusalResponse(status, reason);
        writeToSocket(*socket, directWriteDescriptor(*socket, options.directFrameWrites), response.data(), response.size());
        closeRefused(socket, handshake);
    }

    void closeRefused(QTcpSocket *socket, Handshake &handshake)
    {
        handshake.refused = true;
        // A peer that does not read its answer does not keep the socket.
        handshake.deadlineMs = nowMs() + std::max<qint64>(options.closeTimeout.count(), 1);
        socket->disconnectFromHost(); // after the answer is written
    }

    void upgrade(QTcpSocket *socket, Handshake &handshake)
    {
        const UpgradeRequest &request = handshake.reader.request();
        if (!options.allowedOrigins.isEmpty() && request.hasOrigin
            && !options.allowedOrigins.contains(QString::fromStdString(request.origin))) {
            refuse(socket, handshake, 403, "origin not allowed");
            return;
        }
        const std::optional<PusherTarget> pusherEndpoint = pusher ? pusherTarget(request.target) : std::nullopt;
        ++stats.accepted;
        if (pusherEndpoint)
            ++stats.pusherAccepted;
        const int fd = directWriteDescriptor(*socket, options.directFrameWrites);
        const auto deflate = request.extensions.empty()
            ? std::nullopt
            : websocket::negotiateDeflate(request.extensions,
                                          websocket::DeflateOptions{options.permessageDeflate, options.deflateWindowBits});
        // The binary encoding (docs/protocol.md) when offered; Pusher clients speak their own JSON.
        const WireEncoding encoding = pusherEndpoint ? WireEncoding::Json : negotiateWireEncoding(request.subprotocols);
        const std::string response =
            switchingProtocolsResponse(request.key, deflate ? deflate->response : std::string(),
                                       encoding == WireEncoding::Binary ? kBinarySubprotocol : std::string_view());
        writeToSocket(*socket, fd, response.data(), response.size());
        if (static_cast<int>(sessions.size()) >= options.maxConnections) {
            // Over the connection limit: the client learns why through the close code (3003
            // server full, reconnect later), then the connection is dropped.
            ++stats.rejectedFull;
            logRefusal("connection limit", socket, {}, "server full");
            std::string frame;
            websocket::appendCloseFrame(frame, static_cast<std::uint16_t>(DisconnectCode::ServerFull), "server full");
            writeToSocket(*socket, fd, frame.data(), frame.size());
            closeRefused(socket, handshake);
            return;
        }
        std::string leftover = handshake.reader.takeLeftover();
        handshakes.erase(socket); // `handshake` is gone from here

        auto session = std::make_shared<QtSocketSession>(*this, socket, hub.options().outbox,
                                                         static_cast<std::size_t>(std::max<qint64>(options.maxFrameBytes, 0)),
                                                         options.directFrameWrites, deflate ? deflate->serverWindowBits : 0);
        sessions.emplace(socket, session);
        if (pusherEndpoint) {
            // An unknown key or protocol: pusher:error and a close 4001/4007/4008 are queued, handle 0.
            session->pusher = pusher;
            ++pusherSessions;
            session->handle = pusher->open(session, pusherEndpoint->appKey,
                                           pusherEndpoint->protocol ? std::optional<std::string_view>(*pusherEndpoint->protocol)
                                                                    : std::nullopt);
        } else {
            ConnectionInfo info;
            info.transport = "websocket";
            info.encoding = encoding;
            session->handle = serverProtocol.open(session, std::move(info));
        }
        Q_EMIT q->connectionCountChanged(static_cast<int>(sessions.size()));
        session->start(std::move(leftover));
    }

    // ---- ending -----------------------------------------------------------------------------------

    /// The socket disconnected (either side, or aborted by us).
    void ended(QTcpSocket *socket)
    {
        if (const auto it = handshakes.find(socket); it != handshakes.end()) {
            handshakes.erase(it);
            socket->deleteLater();
            return;
        }
        const auto it = sessions.find(socket);
        if (it == sessions.end())
            return;
        std::shared_ptr<QtSocketSession> session = std::move(it->second);
        sessions.erase(it);
        session->detach();
        protocolClosed(*session, session->endCode(), session->endReason());
        socket->deleteLater();
        Q_EMIT q->connectionCountChanged(static_cast<int>(sessions.size()));
    }

    /// Tells the connection's protocol (native or Pusher) that it ended.
    void protocolClosed(QtSocketSession &session, std::uint16_t code, std::string_view reason)
    {
        if (session.pusher) {
            --pusherSessions;
            session.pusher->closed(session.handle, code, reason);
        } else {
            serverProtocol.closed(session.handle, code, reason);
        }
    }

    void abortSocket(QTcpSocket *socket)
    {
        socket->abort();
        // abort() reports disconnected() only from a connected socket: end it here too.
        QMetaObject::invokeMethod(q, [this, guard = QPointer<QTcpSocket>(socket)] {
            if (guard)
                ended(guard.data());
        }, Qt::QueuedConnection);
    }

    // ---- deadlines and liveness -------------------------------------------------------------------

    void onHeartbeat()
    {
        const qint64 now = nowMs();
        std::vector<QTcpSocket *> expired;
        for (const auto &[socket, handshake] : handshakes) {
            if (handshake->deadlineMs >= 0 && now >= handshake->deadlineMs)
                expired.push_back(socket);
        }
        for (QTcpSocket *socket : expired) {
            Handshake &handshake = *handshakes.at(socket);
            if (!handshake.refused) {
                ++stats.handshakeTimeouts;
                logRefusal("handshake timeout", socket, {}, "no complete upgrade request within the handshake deadline");
            }
            handshake.deadlineMs = -1;
            abortSocket(socket);
        }

        const qint64 idleLimit = options.idleTimeout.count();
        const qint64 pingAfter = options.pingInterval.count();
        const qint64 closeLimit = options.closeTimeout.count();
        const qint64 writeLimit = options.writeTimeout.count();
        std::vector<std::shared_ptr<QtSocketSession>> aborted;
        std::vector<std::shared_ptr<QtSocketSession>> idle;
        for (const auto &[socket, session] : sessions) {
            if (session->closing()) {
                if (closeLimit > 0 && now - session->closingSinceMs() >= closeLimit) {
                    ++stats.closeTimeouts;
                    aborted.push_back(session);
                }
                continue;
            }
            if (writeLimit > 0 && session->pendingSocketBytes() > 0 && now - session->writeWaitSinceMs() >= writeLimit) {
                ++stats.writeTimeouts;
                logRefusal("write timeout", socket, session->sessionId(),
                           "pending bytes made no progress within the write deadline");
                aborted.push_back(session);
                continue;
            }
            const qint64 silent = now - session->lastActivityMs();
            if (idleLimit > 0 && silent >= idleLimit)
                idle.push_back(session);
            else if (pingAfter > 0 && silent >= pingAfter && !session->pingOutstanding())
                session->ping();
        }
        for (const auto &session : idle) {
            ++stats.idleTimeouts;
            session->close(DisconnectCode::IdleTimeout, "idle timeout");
        }
        for (const auto &session : aborted) {
            if (QTcpSocket *socket = session->socket())
                abortSocket(socket);
        }
    }

    void startHeartbeat()
    {
        qint64 shortest = 0;
        for (const qint64 interval : {options.pingInterval.count(), options.idleTimeout.count(),
                                      options.handshakeTimeout.count(), options.closeTimeout.count(),
                                      options.writeTimeout.count()}) {
            if (interval > 0 && (shortest == 0 || interval < shortest))
                shortest = interval;
        }
        // Deadlines are met within an eighth of the shortest one (at most a second late).
        heartbeat.start(static_cast<int>(std::clamp<qint64>(shortest / 8, 10, 1000)));
    }
};

QtWebSocketGateway::QtWebSocketGateway(Hub &hub, ServerProtocol &protocol, QtGatewayOptions options, QObject *parent)
    : QObject(parent), d(std::make_unique<Private>(this, hub, protocol, std::move(options)))
{
    connect(&d->heartbeat, &QTimer::timeout, this, [this] { d->onHeartbeat(); });
}

QtWebSocketGateway::~QtWebSocketGateway()
{
    d->heartbeat.stop();
    // Synchronous teardown: the protocol hears about every connection before we go.
    auto sessions = std::move(d->sessions);
    d->sessions.clear();
    for (auto &[socket, session] : sessions) {
        QObject::disconnect(socket, nullptr, this, nullptr);
        session->detach();
        socket->abort();
        d->protocolClosed(*session, static_cast<std::uint16_t>(DisconnectCode::GoingAway), "gateway stopped");
        delete socket;
    }
    auto handshakes = std::move(d->handshakes);
    d->handshakes.clear();
    for (auto &[socket, handshake] : handshakes) {
        QObject::disconnect(socket, nullptr, this, nullptr);
        delete socket;
    }
    d->dirty.clear();
    d->listener.reset();
}

bool QtWebSocketGateway::listen()
{
    if (isListening())
        return true;
    d->error.clear();
    d->hub.reopen(); // closed by close() (ServerProtocol::closeAll): serve newcomers again
    if (!d->listener) {
        d->listener = std::make_unique<TcpListener>([this](qintptr descriptor) { d->accept(descriptor); });
        connect(d->listener.get(), &QTcpServer::acceptError, this, [this](QAbstractSocket::SocketError) {
            Q_EMIT acceptError(d->listener->errorString());
        });
    }
    d->listener->setListenBacklogSize(d->options.listenBacklog);
    if (!d->listener->listen(d->options.address, d->options.port)) {
        d->error = d->listener->errorString();
        return false;
    }
    d->startHeartbeat();
    Q_EMIT listeningChanged(true);
    return true;
}

void QtWebSocketGateway::close(DisconnectCode code, const QString &reason)
{
    const bool wasListening = isListening();
    if (d->listener)
        d->listener->close();
    const QByteArray utf8 = reason.toUtf8();
    const std::string_view text(utf8.constData(), static_cast<std::size_t>(utf8.size()));
    if (d->pusher)
        d->pusher->closeAll(text); // pusher:error and close 4100: pusher-js reconnects with backoff
    d->protocol().closeAll(code, text);
    // Connections that never sent `connect` are not known to the Hub yet: close them too.
    std::vector<std::shared_ptr<QtSocketSession>> open;
    for (const auto &entry : d->sessions) {
        if (!entry.second->pusher)
            open.push_back(entry.second);
    }
    for (const auto &session : open)
        session->close(code, text);
    // Connections still in their handshake will not be served.
    std::vector<QTcpSocket *> handshaking;
    for (const auto &entry : d->handshakes)
        handshaking.push_back(entry.first);
    for (QTcpSocket *socket : handshaking)
        d->abortSocket(socket);
    if (wasListening)
        Q_EMIT listeningChanged(false);
}

bool QtWebSocketGateway::isListening() const
{
    return d->listener && d->listener->isListening();
}

quint16 QtWebSocketGateway::serverPort() const
{
    return d->listener ? d->listener->serverPort() : 0;
}

QHostAddress QtWebSocketGateway::serverAddress() const
{
    return d->listener ? d->listener->serverAddress() : QHostAddress();
}

QString QtWebSocketGateway::errorString() const
{
    return d->error;
}

int QtWebSocketGateway::connectionCount() const
{
    return static_cast<int>(d->sessions.size());
}

int QtWebSocketGateway::tcpConnectionCount() const
{
    return d->openSockets;
}

qint64 QtWebSocketGateway::bufferedBytes() const
{
    qint64 bytes = 0;
    for (const auto &entry : d->sessions)
        bytes += entry.second->bufferedBytes();
    for (const auto &[socket, handshake] : d->handshakes)
        bytes += static_cast<qint64>(handshake->reader.bufferedBytes()) + socket->bytesToWrite() + socket->bytesAvailable();
    return bytes;
}

void QtWebSocketGateway::setPusherProtocol(PusherProtocol *pusher)
{
    d->pusher = pusher;
}

PusherProtocol *QtWebSocketGateway::pusherProtocol() const
{
    return d->pusher;
}

int QtWebSocketGateway::pusherConnectionCount() const
{
    return d->pusherSessions;
}

QtGatewayCounters QtWebSocketGateway::counters() const
{
    return d->stats;
}

const QtGatewayOptions &QtWebSocketGateway::options() const
{
    return d->options;
}

void QtWebSocketGateway::setOptions(const QtGatewayOptions &options)
{
    d->options = options;
    if (isListening())
        d->startHeartbeat();
}

} // namespace switchboard::qtws
