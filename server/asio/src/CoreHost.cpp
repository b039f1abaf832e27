#include "CoreHost.h"

#include "Log.h"

#include <switchboard/TokenAuthorizer.h>

#include <chrono>

namespace switchboard::asio {

namespace {

HubOptions hubOptions(const GatewayConfig &c)
{
    HubOptions o;
    o.outbox.maxFrames = c.outboxFrames;
    o.outbox.maxBytes = c.outboxBytes;
    o.slowConsumer = c.disconnectSlowClients ? SlowConsumerPolicy::DisconnectClient : SlowConsumerPolicy::DropMessage;
    o.maxChannelsPerSession = c.maxChannelsPerSession;
    return o;
}

ServerProtocolOptions protocolOptions(const GatewayConfig &c)
{
    ServerProtocolOptions o;
    o.limits.maxFrameBytes = c.maxFrameBytes;
    o.limits.opsPerSecond = c.messagesPerSecond;
    o.limits.opsBurst = c.messagesBurst;
    o.limits.pingInterval = c.wsPingInterval; // the client's heartbeat matches the server's pings
    return o;
}

MemoryBrokerOptions brokerOptions(const GatewayConfig &c)
{
    MemoryBrokerOptions o;
    o.history.rules = c.history;
    o.log = [](std::string_view message) { log::warn("broker: ", message); };
    return o;
}

} // namespace

CoreHost::CoreHost(boost::asio::io_context &ioc, const GatewayConfig &config, const TokenVerifier &tokens)
    : m_timer(ioc, m_mutex)
    , m_broker(m_timer, brokerOptions(config))
    , m_hub(std::make_unique<Hub>(m_timer, hubOptions(config), m_broker, m_presence))
    , m_protocol(std::make_unique<ServerProtocol>(*m_hub, m_timer, protocolOptions(config)))
{
    m_protocol->setConnectAuthenticator([&tokens](std::string_view token) {
        ConnectDecision decision;
        if (token.empty())
            return decision; // anonymous: public channels only
        const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                             std::chrono::system_clock::now().time_since_epoch()).count();
        TokenCheck check = tokens.verify(token, now);
        decision.accepted = check.valid;
        decision.reason = std::move(check.reason);
        decision.principal = std::move(check.principal);
        decision.expiresAtMs = check.expiresAtMs;
        decision.expired = check.expired; // close 3004: fetch a fresh token, not 3501
        return decision;
    });
    // Private and presence joins: the core's one token check (patterns; presence member = `sub`).
    m_hub->setAuthorizer(authorizeByToken);
}

CoreHost::~CoreHost() = default;

} // namespace switchboard::asio
