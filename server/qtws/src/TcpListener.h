#pragma once
// TcpListener: a QTcpServer that hands every accepted descriptor to the gateway at once, so the
// gateway owns each connection from accept (counting it, running its handshake deadline over
// the TLS handshake too) instead of meeting it only after QTcpServer's / QSslServer's queue.

#include <QTcpServer>

#include <functional>
#include <utility>

namespace switchboard::qtws {

/// Thread safety: a QObject of the gateway's thread. The handler runs synchronously from the
/// accept notification, on that thread; it must take ownership of the descriptor (wrap it in a
/// socket or close it).
class TcpListener final : public QTcpServer {
public:
    using Handler = std::function<void(qintptr descriptor)>;
    explicit TcpListener(Handler handler) : m_handler(std::move(handler)) {}

protected:
    void incomingConnection(qintptr descriptor) override { m_handler(descriptor); }

private:
    Handler m_handler;
};

} // namespace switchboard::qtws
