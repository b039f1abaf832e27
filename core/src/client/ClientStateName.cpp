// clientStateName(): the names of ClientState, for logs and the bindings (docs/client.md).
#include "switchboard/ClientSession.h"

namespace switchboard {

std::string_view clientStateName(ClientState state) noexcept
{
    switch (state) {
    case ClientState::Disconnected: return "disconnected";
    case ClientState::Connecting: return "connecting";
    case ClientState::Connected: return "connected";
    case ClientState::Reconnecting: return "reconnecting";
    case ClientState::Closed: return "closed";
    }
    return "unknown";
}

} // namespace switchboard
