#pragma once
// TokenVerifier: connection tokens (JWT, HS256) -> Principal. Also issues tokens (development
// token printed at start, tools, tests).

#include <switchboard/Authorizer.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace switchboard::asio {

/// Claims of a connection token. JSON payload: {"sub": user id, "info": presence user info (any
/// JSON), "channels": [TopicFilter patterns such as "private-team/*" or "presence-**"],
/// "exp": expiry in seconds since the Unix epoch (optional)}.
struct TokenClaims {
    std::string subject;
    std::string infoJson;                 ///< JSON text; empty: none
    std::vector<std::string> channels;
    std::int64_t expiresAt = 0;           ///< seconds since epoch; 0: never
};

struct TokenCheck {
    bool valid = false;
    std::string reason;                   ///< why it is invalid ("bad signature", "expired", ...)
    bool expired = false;                 ///< invalid only because `exp` has passed (signature good)
    Principal principal;
    std::int64_t expiresAtMs = 0;         ///< 0: never
};

/// Immutable after construction, so thread-safe.
class TokenVerifier {
public:
    explicit TokenVerifier(std::string secret);

    /// Verifies header (alg HS256), signature (constant-time compare), expiry against `nowSeconds`
    /// and claim types. Invalid channel patterns make the token invalid.
    TokenCheck verify(std::string_view token, std::int64_t nowSeconds) const;
    /// A signed HS256 JWT for the claims. Throws std::invalid_argument when `infoJson` is not
    /// JSON that verify() would accept (core parseJson()).
    std::string issue(const TokenClaims &claims) const;

    /// True when `principal` holds a pattern matching `channel` (core principalAllows()).
    static bool allows(const Principal &principal, std::string_view channel);

private:
    std::string m_secret;
};

/// `bytes` random bytes from OpenSSL as lowercase hex (secrets and API keys made at start).
std::string randomHex(std::size_t bytes);

} // namespace switchboard::asio
