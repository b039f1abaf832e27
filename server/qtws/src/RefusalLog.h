#pragma once
// RefusalLog: the Qt gateway's info line for every refused or dropped peer, rate-limited per kind
// of refusal so a flood cannot flood the log (the same budget as switchboard-gateway's
// log::refusal: 10 lines per second per kind; the next line written says how many were
// suppressed). Category `switchboard.qtws`.

#include <QLoggingCategory>

#include <string_view>

class QAbstractSocket;

namespace switchboard::qtws {

Q_DECLARE_LOGGING_CATEGORY(lcQtGateway)

/// Logs `refused <what>: peer <address:port>[, user <user>][, session <id>]: <reason>` at info
/// level. `what` is one of a few fixed strings ("tcp limit", "handshake timeout", ...): the key
/// of the budget. `socket` may be null; `user` is empty before `connect` or for anonymous
/// sessions. Thread-safe.
void logRefusal(std::string_view what, const QAbstractSocket *socket, std::string_view session, std::string_view reason,
                std::string_view user = {});

} // namespace switchboard::qtws
