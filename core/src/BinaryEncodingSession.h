#pragma once
// BinaryEncodingSession: what the Hub sees of a connection that negotiated the binary encoding
// (internal to core). Frames go to the transport in their binary form, translated once per
// shared frame (binaryFormOf); everything else passes through.

#include "switchboard/BinaryEncoding.h"
#include "switchboard/Session.h"

#include <memory>

namespace switchboard::detail {

class BinaryEncodingSession final : public Session {
public:
    explicit BinaryEncodingSession(std::shared_ptr<Session> transport) : m_transport(std::move(transport)) {}

    SendOutcome send(const SharedFrame &frame) override { return m_transport->send(binaryFormOf(frame)); }
    void close(DisconnectCode code, std::string_view reason) override { m_transport->close(code, reason); }
    void attached(std::string_view sessionId, std::string_view userId) override
    {
        m_transport->attached(sessionId, userId);
    }
    void refused(Error code, std::string_view reason) override { m_transport->refused(code, reason); }

private:
    std::shared_ptr<Session> m_transport;
};

} // namespace switchboard::detail
