// The plain broadcast peer (bench/peers/node-ws): no protocol. A client is a subscriber as soon
// as the upgrade completes, and whatever the publisher sends reaches every other client as is.

#include "Sessions.h"

namespace switchboard::bench {

namespace {

class BroadcastSession final : public ProtocolSession
{
public:
    using ProtocolSession::ProtocolSession;

    void start() override { becomeReady(); }
    void appendPublish(std::string_view payload) override { m_connection.appendFrame(payload); }
    void onMessage(std::string_view data, bool, std::uint64_t receivedNs) override { deliver(data, receivedNs); }
};

} // namespace

std::unique_ptr<ProtocolSession> makeBroadcastSession(const SessionSettings &, WsConnection &connection,
                                                      RunSink &sink, ProtocolSession::Role role)
{
    return std::make_unique<BroadcastSession>(connection, sink, role);
}

} // namespace switchboard::bench
