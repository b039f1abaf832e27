#pragma once
// LoopbackTransport: a ClientTransport wired straight to a ServerProtocol in the same process.

#include "switchboard/ClientTransport.h"
#include "switchboard/Executor.h"
#include "switchboard/Outbox.h"
#include "switchboard/ServerProtocol.h"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace switchboard {

/// Connects a ClientSession to a ServerProtocol without sockets. Each open() gives the server a
/// new Session (with a bounded Outbox sized by `outbox`), and every frame, in either direction,
/// is delivered by a task posted on the Executor: never from inside the send() or close() that
/// produced it, in the order it was sent. Client and server therefore meet the same ordering
/// and re-entrancy rules as over a real WebSocket, and a test decides when the traffic moves
/// (QueueExecutor::runPending()).
///
/// Uses: tests of the client and of the server; applications that host a Hub in-process and
/// want a client of it (a local dashboard, a bot) with the same API as a remote client. The url
/// given to open() is ignored.
///
/// Controls, for tests: drop() (the connection dies: close code 1006 on both sides),
/// refuse() (the server is down: open() fails), stallServer() (the server is slow: nothing
/// moves until it is released).
///
/// Ownership and threads: the ServerProtocol and the Executor must outlive the transport. Not
/// thread-safe: the transport, its ClientSession, the ServerProtocol (and Hub) and the Executor
/// are driven from one thread. Destroying the transport ends its connection at once (the server
/// sees it closed; the listener is not called); tasks it left in the Executor then do nothing.
/// A listener callback must not destroy the transport.
class LoopbackTransport final : public ClientTransport {
public:
    LoopbackTransport(ServerProtocol &server, Executor &executor, OutboxLimits outbox = {});
    ~LoopbackTransport() override;
    LoopbackTransport(const LoopbackTransport &) = delete;
    LoopbackTransport &operator=(const LoopbackTransport &) = delete;

    void setListener(ClientTransportListener *listener) override;
    /// Ignored until the previous connection has ended (one connection at a time).
    void open(const std::string &url) override;
    /// The loopback "negotiates" like a gateway: kBinarySubprotocol gives the server a
    /// connection in the binary encoding.
    void setSubprotocol(std::string_view subprotocol) override;
    std::string negotiatedSubprotocol() const override;
    void sendText(std::string_view text) override;
    void sendBinary(std::string_view bytes) override;
    void close(std::uint16_t code, std::string_view reason) override;

    /// Kills the connection as a network failure would: frames in flight are lost, the server
    /// sees it closed and the client gets onTransportClosed(1006). No-op without a connection.
    void drop();
    /// While refused, open() fails with onTransportClosed(1006) as if no server listened.
    void refuse(bool refused);
    /// While stalled, the server side neither reads nor writes this connection: client frames
    /// wait before the ServerProtocol, server frames pile up in the Outbox (bounded: the Hub
    /// then sees Backpressure / Dropped and applies its slow-consumer policy). Releasing it
    /// delivers what waited, in order. A server close while stalled cuts the connection at once
    /// (queued frames are lost), as for a consumer that stopped reading.
    void stallServer(bool stalled);

    /// Open: onTransportOpen was reported and the connection has not ended.
    bool isOpen() const;
    /// Session id the server gave this connection (empty before its `connect` was accepted).
    std::string serverSessionId() const;
    /// Frames handed to the listener and to the ServerProtocol since construction.
    std::uint64_t framesToClient() const { return m_framesToClient; }
    std::uint64_t framesToServer() const { return m_framesToServer; }

private:
    class Connection;
    void runOpen(const std::shared_ptr<Connection> &connection);
    void flush(const std::shared_ptr<Connection> &connection);
    void scheduleFlush(const std::shared_ptr<Connection> &connection);
    void send(std::string_view bytes, bool binary);
    void postToServer(const std::shared_ptr<Connection> &connection, std::string bytes, bool binary);
    void finish(const std::shared_ptr<Connection> &connection, std::uint16_t code, std::string reason);
    void end(std::uint16_t code, std::string_view reason);

    std::shared_ptr<LoopbackTransport *> m_anchor = std::make_shared<LoopbackTransport *>(this);
    ServerProtocol &m_server;
    Executor &m_executor;
    OutboxLimits m_outboxLimits;
    ClientTransportListener *m_listener = nullptr;
    std::shared_ptr<Connection> m_current;
    bool m_refused = false;
    std::string m_subprotocol;
    bool m_stalled = false;
    std::uint64_t m_framesToClient = 0;
    std::uint64_t m_framesToServer = 0;
};

} // namespace switchboard
