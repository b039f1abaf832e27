#pragma once
// A protocol spoken over one load-generator connection: what a subscriber sends once the
// WebSocket is open, how it knows it is subscribed, where the payload stamps are in what it
// receives, and how a publisher frames a message. One implementation per peer:
//   switchboard  Switchboard protocol v1 (docs/protocol.md): connect, welcome, subscribe, publish op
//   ws           a plain broadcast server: every message a client sends goes to all other clients
//   nats         the NATS text protocol over WebSocket: CONNECT, SUB, PUB, MSG, PING/PONG
//   pusher       Pusher protocol 7 subscribers (docs/pusher.md) with a native Switchboard
//                publisher on the channel's native name, pusher/APP_ID/CHANNEL
//
// Thread safety: a session lives on its connection's io thread, like the connection it owns.

#include "Payload.h"
#include "WsConnection.h"

#include <memory>
#include <string>
#include <string_view>

namespace switchboard::bench {

class ProtocolSession;

/// What sessions report to. Implemented by the io thread that owns them; called on that thread.
class RunSink
{
public:
    virtual ~RunSink() = default;
    /// A subscriber is subscribed, or a publisher may publish.
    virtual void sessionReady(ProtocolSession &session) = 0;
    /// One delivery of a stamped payload, received at `receivedNs`.
    virtual void delivered(const Stamp &stamp, std::uint64_t receivedNs) = 0;
    /// A WebSocket message that carried deliveries: its size on the wire (header included).
    virtual void deliveryMessage(std::size_t wireBytes) = 0;
    /// The connection closed or the protocol failed; the session stays closed.
    virtual void sessionFailed(ProtocolSession &session, std::string_view why) = 0;
    /// An error answer from the server that does not close the connection.
    virtual void serverError(std::string_view what) = 0;
};

enum class Protocol { Switchboard, WsBroadcast, Nats, Pusher };

struct SessionSettings
{
    Protocol protocol = Protocol::Switchboard;
    std::string channel = "bench";
    std::string token;   // Switchboard connection token (empty: anonymous)
    std::string pusherKey = "bench-key"; // Pusher: the app key in the subscribers' URL
    std::string pusherAppId = "1";       // Pusher: the app id in the publisher's native channel name
    bool binaryEncoding = false;         // Switchboard: offer and speak switchboard.v1.binary
    bool subscribeAfterWelcome = false;  // Switchboard: subscribe once welcomed, not right behind connect
};

class ProtocolSession : public WsConnection::Handler
{
public:
    enum class Role { Subscriber, Publisher };

    ProtocolSession(WsConnection &connection, RunSink &sink, Role role)
        : m_connection(connection)
        , m_sink(sink)
        , m_role(role)
    {
        m_connection.setHandler(this);
    }

    Role role() const { return m_role; }
    WsConnection &connection() { return m_connection; }

    /// The WebSocket is open: send what the protocol needs to become ready.
    virtual void start() = 0;
    /// Publisher: queue one message carrying `payload` (caller flushes the connection).
    virtual void appendPublish(std::string_view payload) = 0;
    /// Publisher: the messages appended since the last call form one batch.
    virtual void endPublishBatch() {}

    void onClosed(std::string_view why) override { m_sink.sessionFailed(*this, why); }

protected:
    void becomeReady()
    {
        if (!m_ready) {
            m_ready = true;
            m_sink.sessionReady(*this);
        }
    }
    /// Reports every stamp in `text` (subscribers only: a publisher's echo is not a delivery).
    void deliver(std::string_view text, std::uint64_t receivedNs)
    {
        if (m_role != Role::Subscriber)
            return;
        bool any = false;
        Payload::scan(text, [&](const Stamp &s) {
            m_sink.delivered(s, receivedNs);
            any = true;
        });
        if (any) // server frames are unmasked: 2, 4 or 10 bytes of header
            m_sink.deliveryMessage(text.size() + (text.size() < 126 ? 2 : text.size() < 65536 ? 4 : 10));
    }

    WsConnection &m_connection;
    RunSink &m_sink;
    Role m_role;
    bool m_ready = false;
};

/// Creates the session for `settings.protocol` over `connection` (which must outlive it).
std::unique_ptr<ProtocolSession> makeSession(const SessionSettings &settings, WsConnection &connection,
                                             RunSink &sink, ProtocolSession::Role role);

/// The default WebSocket path of the subscribers: "/ws" for Switchboard,
/// "/app/KEY?protocol=7&client=js&version=8.4.0" for Pusher, "/" otherwise.
std::string defaultPath(const SessionSettings &settings);
/// The default WebSocket path of the publisher: "/ws" for Pusher (it publishes natively),
/// defaultPath() otherwise.
std::string defaultPublisherPath(const SessionSettings &settings);

} // namespace switchboard::bench
