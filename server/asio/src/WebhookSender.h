#pragma once
// WebhookSender: delivers events (JSON objects) to HTTP endpoints in signed batches, from a
// bounded queue per endpoint, with retries and exponential backoff. Runs on its own thread and
// io_context, so a slow, down or misbehaving endpoint never holds up the gateway's io threads
// or the core.

#include "BackendTls.h"
#include "Metrics.h"

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace switchboard::asio {

struct WebhookOptions {
    std::vector<std::string> urls;   ///< http[s]://HOST[:PORT]/PATH; each gets every event
    std::string secret;              ///< HMAC-SHA256 key; empty: no signature header
    std::size_t queueLimit = 10'000; ///< events waiting per endpoint; when full the oldest is dropped
    std::size_t batchEvents = 100;   ///< events per request at most
    std::chrono::milliseconds flushInterval{100}; ///< a partial batch waits at most this long
    std::chrono::milliseconds timeout{5000};      ///< per request: connect, write, read the answer
    unsigned retries = 8;                         ///< after the first attempt
    std::chrono::milliseconds backoffInitial{100};
    std::chrono::milliseconds backoffMax{10'000};
    BackendTlsOptions tls; ///< https://: extra CA, client certificate
    /// Set: Pusher's headers instead of the signature header below (Pusher webhooks,
    /// docs/pusher.md): X-Pusher-Key: <pusherKey> and X-Pusher-Signature: <hex HMAC-SHA256(secret, body)>.
    std::string pusherKey;
};

/// Request body: {"time_ms": <send time>, "events": [<event>, ...]} with the events in the order
/// they were enqueued. Headers: Content-Type: application/json, X-Switchboard-Delivery (a random
/// id per batch, the same on every retry of it) and, with a secret,
/// X-Switchboard-Signature: sha256=<hex HMAC-SHA256(secret, body)>.
///
/// Outcomes per batch: a 2xx answer delivers it (metrics webhookSent, events); a 4xx or other
/// non-5xx answer drops it (webhookFailed); a connection error (a failed TLS handshake included),
/// a timeout, an unparseable answer or a 5xx is retried after 100 ms, 200 ms, ... up to
/// backoffMax, `retries` times, then dropped (webhookFailed). One request per endpoint at a time: a batch waits for the one before it, so
/// events arrive in order. Overflow (webhookDropped) drops the oldest waiting event: the newest
/// state of the system is what a receiver most needs.
///
/// Thread safety: enqueue() from any thread (a short mutex per endpoint; never blocks on I/O).
/// Construction and stop() from one thread.
class WebhookSender {
public:
    /// Throws std::invalid_argument for a URL it cannot use (not http:// or https://, no host),
    /// std::runtime_error for TLS files it cannot load (BackendTls.h).
    WebhookSender(WebhookOptions options, Metrics &metrics);
    ~WebhookSender();
    WebhookSender(const WebhookSender &) = delete;
    WebhookSender &operator=(const WebhookSender &) = delete;

    /// Queues one event (a serialized JSON object) for every endpoint.
    void enqueue(std::string eventJson);
    /// Sends what is queued without waiting for the flush interval, for at most `deadline`, then
    /// stops the sender's thread. Events still queued after that are lost (logged).
    void stop(std::chrono::milliseconds deadline);

    /// "sha256=" + lowercase hex of HMAC-SHA256(secret, body).
    static std::string signature(std::string_view secret, std::string_view body);

private:
    struct Endpoint;
    struct Impl;
    std::unique_ptr<Impl> d;
};

} // namespace switchboard::asio
