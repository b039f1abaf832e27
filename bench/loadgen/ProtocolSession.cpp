#include "ProtocolSession.h"

#include "Sessions.h"

namespace switchboard::bench {

std::unique_ptr<ProtocolSession> makeSession(const SessionSettings &settings, WsConnection &connection,
                                             RunSink &sink, ProtocolSession::Role role)
{
    switch (settings.protocol) {
    case Protocol::Switchboard:
        return makeSwitchboardSession(settings, settings.channel, connection, sink, role);
    case Protocol::WsBroadcast:
        return makeBroadcastSession(settings, connection, sink, role);
    case Protocol::Nats:
        return makeNatsSession(settings, connection, sink, role);
    case Protocol::Pusher:
        return makePusherSession(settings, connection, sink, role);
    }
    return nullptr;
}

std::string defaultPath(const SessionSettings &settings)
{
    switch (settings.protocol) {
    case Protocol::Switchboard:
        return "/ws";
    case Protocol::Pusher:
        return "/app/" + settings.pusherKey + "?protocol=7&client=js&version=8.4.0";
    case Protocol::WsBroadcast:
    case Protocol::Nats:
        break;
    }
    return "/";
}

std::string defaultPublisherPath(const SessionSettings &settings)
{
    return settings.protocol == Protocol::Pusher ? "/ws" : defaultPath(settings);
}

} // namespace switchboard::bench
