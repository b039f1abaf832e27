#pragma once
// Factories of the protocol sessions (one file each); see ProtocolSession.h.

#include "ProtocolSession.h"

namespace switchboard::bench {

/// `channel`: the channel to subscribe and publish on (a Pusher run's publisher passes the
/// native name of the Pusher channel).
std::unique_ptr<ProtocolSession> makeSwitchboardSession(const SessionSettings &settings, std::string channel,
                                                        WsConnection &connection, RunSink &sink,
                                                        ProtocolSession::Role role);
std::unique_ptr<ProtocolSession> makeBroadcastSession(const SessionSettings &settings, WsConnection &connection,
                                                      RunSink &sink, ProtocolSession::Role role);
/// Subscribers speak Pusher protocol 7; the publisher is a native Switchboard session on
/// pusher/APP_ID/CHANNEL.
std::unique_ptr<ProtocolSession> makePusherSession(const SessionSettings &settings, WsConnection &connection,
                                                   RunSink &sink, ProtocolSession::Role role);
std::unique_ptr<ProtocolSession> makeNatsSession(const SessionSettings &settings, WsConnection &connection,
                                                 RunSink &sink, ProtocolSession::Role role);

} // namespace switchboard::bench
