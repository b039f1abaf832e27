#include "switchboard/LoopbackTransport.h"

#include "switchboard/Session.h"

#include <deque>
#include <utility>
#include <vector>

namespace switchboard {

namespace {
constexpr std::uint16_t kCloseAbnormal = 1006; // RFC 6455: the connection ended without a close frame
}

/// The server's view of one open(): a Session with an Outbox. It may outlive the transport (the
/// Hub or a posted task may still hold it): `owner()` is null then and everything is a no-op.
class LoopbackTransport::Connection final : public Session {
public:
    enum class Phase { Opening, Open, Closing, Ended };

    Connection(std::shared_ptr<LoopbackTransport *> transport, OutboxLimits limits)
        : anchor(std::move(transport)), outbox(limits)
    {
    }

    LoopbackTransport *owner() const { return *anchor; }

    SendOutcome send(const SharedFrame &frame) override
    {
        if (phase != Phase::Open || serverClosing || !owner())
            return SendResult::Closed; // the connection is going away: discarded, as by a socket
        const SendOutcome result = outbox.push(frame);
        if (result != SendResult::Dropped)
            owner()->scheduleFlush(self());
        return result;
    }

    void close(DisconnectCode code, std::string_view reason) override
    {
        if (phase != Phase::Open || serverClosing || !owner())
            return;
        serverClosing = true;
        closeCode = static_cast<std::uint16_t>(code);
        closeReason = std::string(reason);
        if (owner()->m_stalled) {
            // A stalled consumer cannot take the queued frames: it is cut off.
            phase = Phase::Closing;
            std::vector<SharedFrame> lost;
            outbox.takeAll(lost);
            auto me = self();
            owner()->m_executor.post([me] {
                if (me->owner())
                    me->owner()->finish(me, me->closeCode, me->closeReason);
            });
            return;
        }
        owner()->scheduleFlush(self());
    }

    std::shared_ptr<Connection> self() { return std::static_pointer_cast<Connection>(weakSelf.lock()); }

    std::shared_ptr<LoopbackTransport *> anchor; ///< the transport, or null once it is destroyed
    std::weak_ptr<Session> weakSelf;
    Phase phase = Phase::Opening;
    ServerProtocol::ConnectionHandle handle = 0;
    bool serverOpened = false;
    WireEncoding encoding = WireEncoding::Json;
    Outbox outbox;
    bool flushScheduled = false;
    /// Client frames (bytes, binary) waiting while the server is stalled.
    std::deque<std::pair<std::string, bool>> heldForServer;
    bool serverClosing = false;
    std::uint16_t closeCode = 0;
    std::string closeReason;
};

LoopbackTransport::LoopbackTransport(ServerProtocol &server, Executor &executor, OutboxLimits outbox)
    : m_server(server), m_executor(executor), m_outboxLimits(outbox)
{
}

LoopbackTransport::~LoopbackTransport()
{
    if (!m_current) {
        *m_anchor = nullptr;
        return;
    }
    *m_anchor = nullptr; // tasks still queued for this transport now do nothing
    std::shared_ptr<Connection> connection = std::move(m_current);
    const bool notifyServer = connection->serverOpened && connection->phase != Connection::Phase::Ended;
    connection->phase = Connection::Phase::Ended;
    if (notifyServer)
        m_server.closed(connection->handle, 1000, "client closed");
}

void LoopbackTransport::setListener(ClientTransportListener *listener) { m_listener = listener; }

void LoopbackTransport::open(const std::string &)
{
    if (m_current && m_current->phase != Connection::Phase::Ended)
        return; // one connection at a time, including one still closing
    auto connection = std::make_shared<Connection>(m_anchor, m_outboxLimits);
    connection->weakSelf = connection;
    m_current = connection;
    m_executor.post([connection] {
        if (connection->owner())
            connection->owner()->runOpen(connection);
    });
}

void LoopbackTransport::runOpen(const std::shared_ptr<Connection> &connection)
{
    if (connection->phase != Connection::Phase::Opening)
        return; // closed before it opened: finish() reports it
    if (m_refused) {
        connection->phase = Connection::Phase::Ended;
        if (m_listener && m_current == connection)
            m_listener->onTransportClosed(kCloseAbnormal, "connection refused");
        return;
    }
    connection->phase = Connection::Phase::Open;
    ConnectionInfo info;
    info.transport = "loopback";
    info.encoding = connection->encoding = negotiateWireEncoding(m_subprotocol);
    connection->handle = m_server.open(connection, std::move(info));
    connection->serverOpened = true;
    if (m_listener && m_current == connection)
        m_listener->onTransportOpen();
}

void LoopbackTransport::setSubprotocol(std::string_view subprotocol) { m_subprotocol = subprotocol; }

std::string LoopbackTransport::negotiatedSubprotocol() const
{
    if (!m_current || m_current->phase != Connection::Phase::Open || m_current->encoding != WireEncoding::Binary)
        return {};
    return std::string(kBinarySubprotocol);
}

void LoopbackTransport::sendText(std::string_view text) { send(text, false); }

void LoopbackTransport::sendBinary(std::string_view bytes) { send(bytes, true); }

void LoopbackTransport::send(std::string_view bytes, bool binary)
{
    const std::shared_ptr<Connection> &connection = m_current;
    if (!connection || connection->phase != Connection::Phase::Open || connection->serverClosing)
        return;
    if (m_stalled)
        connection->heldForServer.emplace_back(std::string(bytes), binary);
    else
        postToServer(connection, std::string(bytes), binary);
}

void LoopbackTransport::postToServer(const std::shared_ptr<Connection> &connection, std::string bytes, bool binary)
{
    m_executor.post([connection, bytes = std::move(bytes), binary] {
        LoopbackTransport *self = connection->owner();
        if (!self || connection->phase != Connection::Phase::Open)
            return;
        ++self->m_framesToServer;
        self->m_server.receive(connection->handle, bytes, binary);
    });
}

void LoopbackTransport::scheduleFlush(const std::shared_ptr<Connection> &connection)
{
    if (connection->flushScheduled || m_stalled)
        return;
    connection->flushScheduled = true;
    m_executor.post([connection] {
        connection->flushScheduled = false;
        if (connection->owner())
            connection->owner()->flush(connection);
    });
}

void LoopbackTransport::flush(const std::shared_ptr<Connection> &connection)
{
    if (connection->phase != Connection::Phase::Open || m_stalled)
        return;
    std::vector<SharedFrame> frames;
    connection->outbox.takeAll(frames);
    for (const SharedFrame &frame : frames) {
        // The listener may close or drop the connection from inside its callback.
        if (connection->phase != Connection::Phase::Open || m_current != connection)
            return;
        ++m_framesToClient;
        if (m_listener)
            m_listener->onTransportMessage(frame->bytes, frame->kind == Frame::Kind::Binary);
    }
    if (connection->serverClosing && connection->phase == Connection::Phase::Open) {
        connection->phase = Connection::Phase::Closing;
        finish(connection, connection->closeCode, connection->closeReason);
    }
}

void LoopbackTransport::finish(const std::shared_ptr<Connection> &connection, std::uint16_t code, std::string reason)
{
    if (connection->phase == Connection::Phase::Ended)
        return;
    connection->phase = Connection::Phase::Ended;
    std::vector<SharedFrame> lost;
    connection->outbox.takeAll(lost);
    connection->heldForServer.clear();
    if (connection->serverOpened)
        m_server.closed(connection->handle, code, reason);
    if (m_listener && m_current == connection)
        m_listener->onTransportClosed(code, reason);
}

void LoopbackTransport::end(std::uint16_t code, std::string_view reason)
{
    std::shared_ptr<Connection> connection = m_current;
    if (!connection || (connection->phase != Connection::Phase::Opening && connection->phase != Connection::Phase::Open))
        return;
    connection->phase = Connection::Phase::Closing;
    m_executor.post([connection, code, reason = std::string(reason)] {
        if (connection->owner())
            connection->owner()->finish(connection, code, reason);
    });
}

void LoopbackTransport::close(std::uint16_t code, std::string_view reason) { end(code, reason); }

void LoopbackTransport::drop() { end(kCloseAbnormal, "connection lost"); }

void LoopbackTransport::refuse(bool refused) { m_refused = refused; }

void LoopbackTransport::stallServer(bool stalled)
{
    if (m_stalled == stalled)
        return;
    m_stalled = stalled;
    if (stalled || !m_current || m_current->phase != Connection::Phase::Open)
        return;
    std::shared_ptr<Connection> connection = m_current;
    while (!connection->heldForServer.empty()) {
        auto &[bytes, binary] = connection->heldForServer.front();
        postToServer(connection, std::move(bytes), binary);
        connection->heldForServer.pop_front();
    }
    if (!connection->outbox.empty() || connection->serverClosing)
        scheduleFlush(connection);
}

bool LoopbackTransport::isOpen() const { return m_current && m_current->phase == Connection::Phase::Open; }

std::string LoopbackTransport::serverSessionId() const
{
    if (!m_current || !m_current->serverOpened || m_current->phase == Connection::Phase::Ended)
        return {};
    return m_server.sessionId(m_current->handle);
}

} // namespace switchboard
