#include "ProtocolSession.h"

#include "Sessions.h"

namespace switchboard::bench {

std::unique_ptr<ProtocolSession> makeSession(const SessionSettings &settings, WsConnection &connection,
                                             RunSink &sink, ProtocolSession::Role role)
{
    switch (settings.protocol) {
    case Protocol::Switchboard:
        return makeSwitchboardSession(settings, connection, sink, role);
    case Protocol::WsBroadcast:
        return makeBroadcastSession(settings, connection, sink, role);
    case Protocol::Nats:
        return makeNatsSession(settings, connection, sink, role);
    }
    return nullptr;
}

std::string_view defaultPath(Protocol protocol)
{
    return protocol == Protocol::Switchboard ? "/ws" : "/";
}

} // namespace switchboard::bench
