#pragma once
// RequestSigner: the HMAC-SHA256 signatures on what the gateway POSTs to application backends, so
// a backend can check that a request comes from this gateway (it knows the shared secret) and,
// for proxy requests, that it was made recently (the signed timestamp bounds replays).

#include <chrono>
#include <string>
#include <string_view>

namespace switchboard::asio {

/// HMAC-SHA256(key, data), the 32 raw bytes (OpenSSL; core's HmacSha256 for Pusher signatures).
std::string hmacSha256(std::string_view key, std::string_view data);
/// Lowercase hex of HMAC-SHA256(key, data) (OpenSSL).
std::string hmacSha256Hex(std::string_view key, std::string_view data);

/// The two headers of a signed proxy request:
///   X-Switchboard-Timestamp: <unix time in seconds when the request was made>
///   X-Switchboard-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>
/// A backend recomputes the HMAC over the timestamp header, a dot and the raw body, compares in
/// constant time, and refuses a timestamp further than its replay window (docs: 300 s) from its
/// clock. Webhooks keep their own scheme (body only, WebhookSender::signature).
struct RequestSignature {
    std::string timestamp;
    std::string signature;

    static constexpr const char *timestampHeader = "X-Switchboard-Timestamp";
    static constexpr const char *signatureHeader = "X-Switchboard-Signature";
};

/// Signs `body` as made at `now`. Thread safety: a pure function.
RequestSignature signRequest(std::string_view secret, std::string_view body,
                             std::chrono::system_clock::time_point now = std::chrono::system_clock::now());

} // namespace switchboard::asio
