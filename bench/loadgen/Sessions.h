#pragma once
// Factories of the protocol sessions (one file each); see ProtocolSession.h.

#include "ProtocolSession.h"

namespace switchboard::bench {

std::unique_ptr<ProtocolSession> makeSwitchboardSession(const SessionSettings &settings, WsConnection &connection,
                                                        RunSink &sink, ProtocolSession::Role role);
std::unique_ptr<ProtocolSession> makeBroadcastSession(const SessionSettings &settings, WsConnection &connection,
                                                      RunSink &sink, ProtocolSession::Role role);
std::unique_ptr<ProtocolSession> makeNatsSession(const SessionSettings &settings, WsConnection &connection,
                                                 RunSink &sink, ProtocolSession::Role role);

} // namespace switchboard::bench
