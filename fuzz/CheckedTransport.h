#pragma once
// CheckedTransport: the transport stub of the protocol fuzz targets (server_protocol,
// pusher_protocol). It checks what every transport relies on: nothing is sent after the transport
// reported the connection closed, and close() comes at most once, with a code in the documented
// ranges. What a frame must hold is the target's check().

#include "FuzzSupport.h"

#include <switchboard/Hub.h>
#include <switchboard/Session.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

namespace fuzzsupport {

class CheckedTransport : public switchboard::Session {
public:
    switchboard::SendOutcome send(const switchboard::SharedFrame &frame) final
    {
        FUZZ_CHECK(frame != nullptr);
        FUZZ_CHECK(!transportClosed);
        check(*frame);
        ++frames;
        return switchboard::SendResult::Ok;
    }
    void close(switchboard::DisconnectCode code, std::string_view) final
    {
        const auto value = static_cast<unsigned>(code);
        FUZZ_CHECK((value >= 1000 && value < 1016) || (value >= 3000 && value < 5000));
        ++closeCalls;
        FUZZ_CHECK(closeCalls == 1);
    }

    std::size_t frames = 0;
    int closeCalls = 0;
    bool transportClosed = false; ///< set by the target when it reports the end to the protocol

protected:
    /// Aborts (FUZZ_CHECK) when `frame` is not what the protocol may send.
    virtual void check(const switchboard::Frame &frame) = 0;
};

/// One connection of a script: the protocol's handle and the transport stub.
template <typename Transport>
struct ScriptedConnection {
    std::uint64_t handle = 0;
    std::shared_ptr<Transport> session;
};

/// Small bounds, so that a short script reaches the limits.
inline switchboard::HubOptions smallHubOptions()
{
    switchboard::HubOptions options;
    options.outbox = switchboard::OutboxLimits{64, 64 * 1024};
    options.maxChannelsPerSession = 8;
    return options;
}

} // namespace fuzzsupport
