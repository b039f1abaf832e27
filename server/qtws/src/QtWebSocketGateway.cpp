#include "switchboard/qtws/QtWebSocketGateway.h"

#include "QtSocketSession.h"

#include <switchboard/Hub.h>
#include <switchboard/ServerProtocol.h>

#include <QElapsedTimer>
#include <QHash>
#include <QPointer>
#include <QSslServer>
#include <QTcpServer>
#include <QTimer>
#include <QWebSocketCorsAuthenticator>
#include <QWebSocketServer>

#include <algorithm>
#include <unordered_map>

namespace switchboard::qtws {

struct QtWebSocketGateway::Private final : SessionHost {
    QtWebSocketGateway *q;
    Hub &hub;
    ServerProtocol &protocol;
    QtGatewayOptions options;
    QtGatewayCounters counters;

    std::unique_ptr<QTcpServer> tcp;       // plain QTcpServer or QSslServer
    std::unique_ptr<QWebSocketServer> ws;  // handshakes only: sockets come from `tcp`
    QTimer heartbeat;
    QElapsedTimer clock;
    QString error;

    std::unordered_map<QWebSocket *, std::shared_ptr<QtSocketSession>> sessions;
    // Sockets in the WebSocket handshake, by peer "address:port" (QWebSocket does not expose the
    // socket it upgrades, and the peer endpoint identifies the TCP connection).
    QHash<QString, QPointer<QTcpSocket>> handshaking;
    std::vector<std::shared_ptr<QtSocketSession>> dirty;
    bool flushScheduled = false;
    std::string scratch;

    Private(QtWebSocketGateway *owner, Hub &h, ServerProtocol &p, QtGatewayOptions o)
        : q(owner), hub(h), protocol(p), options(std::move(o))
    {
        clock.start();
    }

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
        counters.framesWritten += frames;
        counters.bytesWritten += bytes;
        ++counters.flushes;
    }

    void flush()
    {
        flushScheduled = false;
        // Sessions may be scheduled again while flushing (a write error closing a socket does
        // not send, but be safe): work on a snapshot.
        std::vector<std::shared_ptr<QtSocketSession>> batch;
        batch.swap(dirty);
        for (const auto &session : batch)
            session->flush(scratch);
        if (scratch.capacity() > (1u << 20))
            std::string().swap(scratch); // do not keep a burst's buffer forever
    }

    void onTcpConnection()
    {
        while (QTcpSocket *socket = tcp->nextPendingConnection()) {
            socket->setSocketOption(QAbstractSocket::LowDelayOption, 1);
            if (options.socketSendBufferSize > 0)
                socket->setSocketOption(QAbstractSocket::SendBufferSizeSocketOption, options.socketSendBufferSize);
            const QString key = peerKey(socket->peerAddress(), socket->peerPort());
            handshaking.insert(key, socket);
            QObject::connect(socket, &QObject::destroyed, q, [this, key] { handshaking.remove(key); });
            // Gone before the upgrade (refused handshake, handshake timeout, peer left): free it
            // now rather than with the listener. After the upgrade its QWebSocket owns it.
            QObject::connect(socket, &QAbstractSocket::disconnected, q, [this, key, socket] {
                if (handshaking.value(key) == socket) {
                    handshaking.remove(key);
                    socket->deleteLater();
                }
            });
            ws->handleConnection(socket);
        }
    }

    static QString peerKey(const QHostAddress &address, quint16 port)
    {
        return address.toString() + QLatin1Char('|') + QString::number(port);
    }

    void onOrigin(QWebSocketCorsAuthenticator *authenticator)
    {
        if (options.allowedOrigins.isEmpty())
            return;
        const bool allowed = options.allowedOrigins.contains(authenticator->origin());
        authenticator->setAllowed(allowed);
        if (!allowed)
            ++counters.rejectedOrigin;
    }

    void onWebSocket()
    {
        while (QWebSocket *socket = ws->nextPendingConnection()) {
            socket->setParent(q);
            ++counters.accepted;
            // The TCP socket the handshake came in on: it becomes the QWebSocket's child (so
            // stopping the listener does not delete it, and it goes with the QWebSocket).
            QTcpSocket *raw = handshaking.take(peerKey(socket->peerAddress(), socket->peerPort())).data();
            if (raw)
                raw->setParent(socket);
            if (static_cast<int>(sessions.size()) >= options.maxConnections) {
                ++counters.rejectedFull;
                QObject::connect(socket, &QWebSocket::disconnected, socket, &QObject::deleteLater,
                                 Qt::QueuedConnection);
                socket->close(static_cast<QWebSocketProtocol::CloseCode>(DisconnectCode::ServerFull),
                              QStringLiteral("server full"));
                armCloseTimeout(socket);
                continue;
            }
            adopt(socket, raw);
        }
    }

    void armCloseTimeout(QWebSocket *socket)
    {
        QTimer::singleShot(options.closeTimeout, socket, [this, socket] {
            ++counters.closeTimeouts;
            socket->abort();
        });
    }

    void adopt(QWebSocket *socket, QTcpSocket *raw)
    {
        socket->setMaxAllowedIncomingMessageSize(static_cast<quint64>(options.maxFrameBytes));
        socket->setMaxAllowedIncomingFrameSize(static_cast<quint64>(options.maxFrameBytes));
        // With directFrameWrites, frames are written to the TCP socket directly (unmasked server
        // frames, see QtSocketSession::flush).
        if (!options.directFrameWrites)
            raw = nullptr;
        auto session = std::make_shared<QtSocketSession>(*this, socket, raw, hub.options().outbox);
        session->lastActivityMs = clock.elapsed();
        sessions.emplace(socket, session);

        QObject::connect(socket, &QWebSocket::textMessageReceived, q, [this, socket](const QString &text) {
            const QByteArray utf8 = text.toUtf8();
            received(socket, std::string_view(utf8.constData(), static_cast<std::size_t>(utf8.size())), false);
        });
        QObject::connect(socket, &QWebSocket::binaryMessageReceived, q, [this, socket](const QByteArray &bytes) {
            received(socket, std::string_view(bytes.constData(), static_cast<std::size_t>(bytes.size())), true);
        });
        QObject::connect(socket, &QWebSocket::pong, q, [this, socket](quint64, const QByteArray &) {
            if (const auto it = sessions.find(socket); it != sessions.end()) {
                it->second->lastActivityMs = clock.elapsed();
                it->second->pingOutstanding = false;
            }
        });
        // Queued: the end of a connection is never reported from inside Session::close().
        QObject::connect(socket, &QWebSocket::disconnected, q, [this, socket] { ended(socket); },
                         Qt::QueuedConnection);
        QObject::connect(socket, &QWebSocket::aboutToClose, q, [this, socket] {
            // Closing started by either side: bound how long the handshake may take.
            if (const auto it = sessions.find(socket); it != sessions.end() && !it->second->closeTimerArmed) {
                it->second->closeTimerArmed = true;
                armCloseTimeout(socket);
            }
        });

        session->handle = protocol.open(session);
        Q_EMIT q->connectionCountChanged(static_cast<int>(sessions.size()));
    }

    void received(QWebSocket *socket, std::string_view bytes, bool binary)
    {
        const auto it = sessions.find(socket);
        if (it == sessions.end())
            return;
        std::shared_ptr<QtSocketSession> session = it->second; // receive() may close it
        session->lastActivityMs = clock.elapsed();
        protocol.receive(session->handle, bytes, binary);
    }

    void ended(QWebSocket *socket)
    {
        const auto it = sessions.find(socket);
        if (it == sessions.end())
            return;
        std::shared_ptr<QtSocketSession> session = std::move(it->second);
        sessions.erase(it);
        session->detach();
        protocol.closed(session->handle);
        socket->deleteLater();
        Q_EMIT q->connectionCountChanged(static_cast<int>(sessions.size()));
    }

    void onHeartbeat()
    {
        const qint64 now = clock.elapsed();
        const qint64 idleLimit = options.idleTimeout.count();
        const qint64 pingAfter = options.pingInterval.count();
        std::vector<std::shared_ptr<QtSocketSession>> idle;
        for (const auto &[socket, session] : sessions) {
            if (session->closing())
                continue;
            const qint64 silent = now - session->lastActivityMs;
            if (idleLimit > 0 && silent >= idleLimit) {
                idle.push_back(session);
            } else if (pingAfter > 0 && silent >= pingAfter && !session->pingOutstanding) {
                session->pingOutstanding = true;
                socket->ping();
            }
        }
        for (const auto &session : idle) {
            ++counters.idleTimeouts;
            session->close(DisconnectCode::IdleTimeout, "idle timeout"); // aboutToClose arms the abort
        }
    }

    void connectTcp()
    {
        tcp->setListenBacklogSize(options.listenBacklog);
        tcp->setMaxPendingConnections(std::max(options.listenBacklog, 30));
        // pendingConnectionAvailable: for QSslServer, only once the TLS handshake is done.
        QObject::connect(tcp.get(), &QTcpServer::pendingConnectionAvailable, q, [this] { onTcpConnection(); });
        QObject::connect(tcp.get(), &QTcpServer::acceptError, q, [this](QAbstractSocket::SocketError) {
            Q_EMIT q->acceptError(tcp->errorString());
        });
    }

    void startHeartbeat()
    {
        const auto shortest = std::min(options.pingInterval.count() > 0 ? options.pingInterval.count() : 60'000,
                                       options.idleTimeout.count() > 0 ? options.idleTimeout.count() : 60'000);
        heartbeat.start(std::max<qint64>(shortest / 4, 10));
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
        d->protocol.closed(session->handle);
        delete socket;
    }
    d->dirty.clear();
    d->ws.reset();
    d->tcp.reset(); // deletes sockets still in their handshake while `d` is whole
}

bool QtWebSocketGateway::listen()
{
    if (isListening())
        return true;
    d->error.clear();
    const bool wantTls = d->options.tls.has_value();
    if (d->tcp && (qobject_cast<QSslServer *>(d->tcp.get()) != nullptr) == wantTls) {
        d->tcp->setListenBacklogSize(d->options.listenBacklog);
        if (wantTls)
            static_cast<QSslServer *>(d->tcp.get())->setSslConfiguration(*d->options.tls);
    } else if (wantTls) {
        auto *server = new QSslServer();
        server->setSslConfiguration(*d->options.tls);
        server->setHandshakeTimeout(static_cast<int>(d->options.handshakeTimeout.count()));
        connect(server, &QSslServer::sslErrors, this, [this](QSslSocket *, const QList<QSslError> &) {
            ++d->counters.sslErrors;
        });
        connect(server, &QSslServer::errorOccurred, this, [this](QSslSocket *, QAbstractSocket::SocketError) {
            ++d->counters.sslErrors;
        });
        d->tcp.reset(server);
        d->connectTcp();
    } else {
        d->tcp = std::make_unique<QTcpServer>();
        d->connectTcp();
    }

    if (!d->ws) {
        d->ws = std::make_unique<QWebSocketServer>(QStringLiteral("Switchboard"), QWebSocketServer::NonSecureMode);
        connect(d->ws.get(), &QWebSocketServer::newConnection, this, [this] { d->onWebSocket(); });
        connect(d->ws.get(), &QWebSocketServer::originAuthenticationRequired, this,
                [this](QWebSocketCorsAuthenticator *authenticator) { d->onOrigin(authenticator); });
    }
    d->ws->setHandshakeTimeout(static_cast<int>(d->options.handshakeTimeout.count()));
    d->ws->setMaxPendingConnections(std::max(d->options.listenBacklog, 30));

    if (!d->tcp->listen(d->options.address, d->options.port)) {
        d->error = d->tcp->errorString();
        return false;
    }
    d->startHeartbeat();
    Q_EMIT listeningChanged(true);
    return true;
}

void QtWebSocketGateway::close(DisconnectCode code, const QString &reason)
{
    const bool wasListening = isListening();
    if (d->tcp)
        d->tcp->close(); // kept: sockets still in their handshake are its children
    const QByteArray utf8 = reason.toUtf8();
    d->protocol.closeAll(code, std::string_view(utf8.constData(), static_cast<std::size_t>(utf8.size())));
    // Connections that never sent `connect` are not known to the Hub yet: close them too.
    std::vector<std::shared_ptr<QtSocketSession>> open;
    for (const auto &entry : d->sessions)
        open.push_back(entry.second);
    for (const auto &session : open)
        session->close(code, std::string_view(utf8.constData(), static_cast<std::size_t>(utf8.size())));
    if (wasListening)
        Q_EMIT listeningChanged(false);
}

bool QtWebSocketGateway::isListening() const
{
    return d->tcp && d->tcp->isListening();
}

quint16 QtWebSocketGateway::serverPort() const
{
    return d->tcp ? d->tcp->serverPort() : 0;
}

QHostAddress QtWebSocketGateway::serverAddress() const
{
    return d->tcp ? d->tcp->serverAddress() : QHostAddress();
}

QString QtWebSocketGateway::errorString() const
{
    return d->error;
}

int QtWebSocketGateway::connectionCount() const
{
    return static_cast<int>(d->sessions.size());
}

QtGatewayCounters QtWebSocketGateway::counters() const
{
    return d->counters;
}

const QtGatewayOptions &QtWebSocketGateway::options() const
{
    return d->options;
}

void QtWebSocketGateway::setOptions(const QtGatewayOptions &options)
{
    d->options = options;
}

} // namespace switchboard::qtws
