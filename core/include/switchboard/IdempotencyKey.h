#pragma once
// IdempotencyKey: the `idempotencyKey` of a publish (docs/protocol.md "Idempotent publish"):
// what a valid one is, and the namespace a Broker deduplicates it in.

#include <cstddef>
#include <string>
#include <string_view>

namespace switchboard {

/// Longest accepted key, in bytes.
inline constexpr std::size_t kMaxIdempotencyKeyLength = 64;

/// True for 1 to kMaxIdempotencyKeyLength bytes of printable ASCII without space (0x21..0x7e).
/// A publish with another key is refused 400 (ProtocolCounters::invalidIdempotencyKeys).
bool isValidIdempotencyKey(std::string_view key);

/// The key a Broker deduplicates a client's publish on (Publication::idempotencyKey): `key` in
/// the namespace of the publishing connection's user (empty: anonymous). Scoping by user keeps
/// one user from suppressing another's publication by replaying its key, and still lets a
/// client retry on a new connection (a new session id, the same user) or another node.
/// Anonymous connections share one namespace: their keys must be unguessable (the client's
/// automatic keys are 128 random bits).
std::string userIdempotencyKey(std::string_view userId, std::string_view key);

/// The key a Broker deduplicates a server-side publish on (the gateway's HTTP API): a namespace
/// no client connection shares.
std::string serverIdempotencyKey(std::string_view key);

} // namespace switchboard
