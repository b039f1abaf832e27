#pragma once
// CuttingProxy: a TCP proxy on 127.0.0.1 (OS-chosen port) in front of a server, that a test can
// make lose the server's answers and then cut every connection: a network failure between a
// client's frame reaching the server and the server's answer reaching the client.

#include <QHostAddress>
#include <QObject>
#include <QPointer>
#include <QTcpServer>
#include <QTcpSocket>

#include <vector>

namespace testsupport {

class CuttingProxy : public QObject {
public:
    /// Listens on 127.0.0.1 and forwards each connection to 127.0.0.1:`targetPort`.
    bool listen(quint16 targetPort)
    {
        m_target = targetPort;
        connect(&m_server, &QTcpServer::newConnection, this, [this] {
            while (QTcpSocket *client = m_server.nextPendingConnection())
                bridge(client);
        });
        return m_server.listen(QHostAddress::LocalHost, 0);
    }
    quint16 port() const { return m_server.serverPort(); }
    /// Connections accepted so far.
    int accepted() const { return m_accepted; }

    /// While set, bytes from the server to the clients are discarded (client to server still
    /// flows): the server's answers are lost. cutAll() clears it.
    void setDropReplies(bool drop) { m_dropReplies = drop; }
    /// Closes every open connection at once, both sides (abort: no close handshake), as a
    /// network failure would; later connections are forwarded normally.
    void cutAll()
    {
        m_dropReplies = false;
        for (Pair &pair : m_pairs) {
            if (pair.client)
                pair.client->abort();
            if (pair.server)
                pair.server->abort();
        }
        m_pairs.clear();
    }

private:
    struct Pair {
        QPointer<QTcpSocket> client;
        QPointer<QTcpSocket> server;
    };

    void bridge(QTcpSocket *client)
    {
        ++m_accepted;
        client->setParent(this);
        auto *server = new QTcpSocket(this);
        m_pairs.push_back({client, server});
        connect(client, &QTcpSocket::readyRead, server, [client, server] {
            if (server->state() == QAbstractSocket::ConnectedState)
                server->write(client->readAll());
        });
        connect(server, &QTcpSocket::connected, server, [client, server] { server->write(client->readAll()); });
        connect(server, &QTcpSocket::readyRead, client, [this, client, server] {
            const QByteArray bytes = server->readAll();
            if (!m_dropReplies)
                client->write(bytes);
        });
        connect(client, &QTcpSocket::disconnected, server, [server] { server->disconnectFromHost(); });
        connect(server, &QTcpSocket::disconnected, client, [client] { client->disconnectFromHost(); });
        connect(client, &QTcpSocket::disconnected, client, &QObject::deleteLater);
        connect(server, &QTcpSocket::disconnected, server, &QObject::deleteLater);
        server->connectToHost(QHostAddress::LocalHost, m_target);
    }

    QTcpServer m_server;
    quint16 m_target = 0;
    bool m_dropReplies = false;
    int m_accepted = 0;
    std::vector<Pair> m_pairs;
};

} // namespace testsupport
