#pragma once
// CoreHost: the core objects (Hub, ServerProtocol, timer) and the one mutex that serializes every
// call into them. Sessions on any io thread call in through locked(); nothing in here writes to
// a socket (Session::send only queues), so the lock is never held across I/O.

#include "AsioTimer.h"

#include "switchboard/asio/GatewayConfig.h"
#include "switchboard/asio/TokenVerifier.h"

#include <switchboard/Hub.h>
#include <switchboard/MemoryBroker.h>
#include <switchboard/MemoryPresenceStore.h>
#include <switchboard/ServerProtocol.h>

#include <memory>
#include <mutex>

namespace switchboard::asio {

class CoreHost {
public:
    /// Installs the connect authenticator (tokens) and the authorizer (token channel patterns).
    CoreHost(boost::asio::io_context &ioc, const GatewayConfig &config, const TokenVerifier &tokens);
    ~CoreHost();

    /// Runs `f` with the core mutex held. `f` may call Hub / ServerProtocol; it must not block.
    template <class F>
    decltype(auto) locked(F &&f)
    {
        std::lock_guard lock(m_mutex);
        return f();
    }

    /// Only inside locked().
    Hub &hub() { return *m_hub; }
    ServerProtocol &protocol() { return *m_protocol; }
    Timer &timer() { return m_timer; }
    MemoryBroker &broker() { return m_broker; }

private:
    std::mutex m_mutex;
    AsioTimer m_timer;
    MemoryBroker m_broker;           ///< the in-memory engine; outlives the Hub
    MemoryPresenceStore m_presence;
    std::unique_ptr<Hub> m_hub;
    std::unique_ptr<ServerProtocol> m_protocol;
};

} // namespace switchboard::asio
