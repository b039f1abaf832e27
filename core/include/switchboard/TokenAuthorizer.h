#pragma once
// TokenAuthorizer: the one channel check both gateways use for private and presence joins,
// driven by the Principal a verified connect token established (docs/security.md).
//
//   - A join is allowed when one of the principal's channel patterns (TopicFilter strings such
//     as "private-team/*" or "presence-**") matches the channel.
//   - A presence member is the principal's user (id and info) and nobody else: a principal
//     without a user id may not join presence channels, and the client's `channelData` is never
//     read, so a client cannot choose who it appears to be.
//
// Transports install authorizeByToken() as the Hub's Authorizer (or call it from their own
// authorizer before adding rules); they never re-implement the pattern check.

#include "switchboard/Authorizer.h"

#include <string_view>

namespace switchboard {

/// True when one of `principal.channelPatterns` matches `channel`. Invalid patterns match
/// nothing. Pure function: thread-safe.
bool principalAllows(const Principal &principal, std::string_view channel);

/// The decision described above. Pure function: thread-safe, never throws for any input.
AuthDecision authorizeByToken(const AuthRequest &request);

} // namespace switchboard
