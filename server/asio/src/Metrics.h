#pragma once
// Metrics: the gateway's own counters (transport level) plus a Prometheus text rendering that
// also reports the core Hub / ServerProtocol counters. Every member is atomic: safe from any thread.

#include <switchboard/Hub.h>
#include <switchboard/ServerProtocol.h>
#include <switchboard/PusherProtocol.h>

#include "ThreadWriteCounters.h"

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

namespace switchboard::asio {

/// Cumulative histogram with fixed buckets (seconds or counts), lock-free.
class Histogram {
public:
    explicit Histogram(std::array<double, 12> bounds) : m_bounds(bounds) {}
    void observe(double value) noexcept;
    void render(std::string &out, std::string_view name, std::string_view help) const;
    /// The same, with observations counted elsewhere added: `extraCounts` per bucket (the last
    /// one above every bound) and `extraSum` the sum of their values.
    void render(std::string &out, std::string_view name, std::string_view help,
                const std::array<std::uint64_t, 13> &extraCounts, double extraSum) const;

private:
    std::array<double, 12> m_bounds;
    std::array<std::atomic<std::uint64_t>, 13> m_counts{};
    std::atomic<std::uint64_t> m_sumMicros{0}; ///< sum scaled by 1e6 to stay integral
    std::atomic<std::uint64_t> m_count{0};
};

/// What one backend client of the gateway counts (BackendClient.h): the RPC, connect and
/// subscribe proxies each have one, rendered under their own metric prefix.
struct BackendMetrics {
    using Counter = std::atomic<std::uint64_t>;
    Counter requests{0};          ///< handed to the proxy (busy refusals included)
    Counter failedUnreachable{0}; ///< backend refused the connection / unresolvable / TLS failed
    Counter failedInvalid{0};     ///< answer not HTTP, too large, or a 2xx the proxy cannot use
    Counter failedStatus{0};      ///< another status than the proxy understands
    Counter timeouts{0};          ///< no whole answer within the proxy's timeout
    Counter busy{0};              ///< refused over the proxy's concurrency limit
    std::atomic<std::int64_t> inFlight{0}; ///< requests waiting for the backend
    /// Round trip to the backend (answered, failed or timed out; busy refusals excluded).
    Histogram seconds{{1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1, 0.25, 0.5, 1, 2.5, 5}};
};

struct Metrics {
    using Counter = std::atomic<std::uint64_t>;
    Counter connectionsAccepted{0};
    std::atomic<std::int64_t> wsSessions{0};
    std::atomic<std::int64_t> sseSessions{0};
    std::atomic<std::int64_t> tcpConnections{0}; ///< accepted TCP connections open (TcpConnections)
    Counter wsHandshakes{0};
    Counter wsFramesIn{0};
    Counter wsBytesIn{0};
    // Written to sockets by SSE sessions; WebSocket sessions count theirs per io thread
    // (ThreadWriteCounters), and render() adds both.
    Counter framesOut{0};            ///< SSE events written to sockets
    Counter bytesOut{0};             ///< bytes written to sockets by SSE sessions
    Counter writeBatches{0};         ///< socket writes carrying those frames
    Counter flushRounds{0};          ///< FlushRounds run (one io thread): each writes one or more sessions
    Counter httpRequests{0};
    Counter httpMalformed{0};        ///< unparseable HTTP requests (400)
    Counter httpTooLarge{0};         ///< bodies over the limit (413)
    Counter apiAuthFailures{0};      ///< HTTP API calls without a valid API key (401)
    Counter apiPublications{0};
    Counter apiNumbersOutOfRange{0}; ///< HTTP API bodies refused for a number JSON cannot carry (422)
    Counter apiSubscriptionChanges{0};  ///< /api/subscribe and /api/unsubscribe calls answered 200
    Counter apiSubscriptionRefusals{0}; ///< of those, refused (400, 404, 409, 422, 503)
    Counter rejectedFull{0};         ///< connections refused by max connections
    Counter rejectedShutdown{0};     ///< WebSocket upgrades refused with 3000 during the shutdown drain
    Counter rejectedOrigin{0};
    Counter tlsHandshakeFailures{0};
    Counter wsProtocolViolations{0}; ///< WebSocket framing errors (close 1002)
    Counter wsOversize{0};           ///< messages over the frame limit (close 1009)
    Counter wsInvalidUtf8{0};        ///< text messages with invalid UTF-8 (close 1007)
    Counter wsDeflateSessions{0};    ///< WebSocket upgrades that negotiated permessage-deflate
    Counter wsBinaryEncodingSessions{0}; ///< WebSocket upgrades that negotiated switchboard.v1.binary
    Counter wsDeflateCompressions{0};///< publications compressed (once each, shared by recipients)
    Counter wsDeflateFramesOut{0};   ///< compressed frames written
    Counter wsDeflateBytesSaved{0};  ///< payload bytes those frames saved over sending them plain
    Counter wsDeflateMessagesIn{0};  ///< compressed client messages decompressed
    Counter wsInflateRefused{0};     ///< compressed client messages inflating past the frame limit (close 1009)
    Counter wsPongsCoalesced{0};     ///< pongs replaced by a later ping's before they were written
    Counter wsPongsDropped{0};       ///< pongs not queued: the outbox byte limit was reached
    Counter wsPingsSent{0};          ///< pings the server sent to silent connections
    Counter wsIdleTimeouts{0};       ///< connections closed 3002: nothing received within the idle timeout
    Counter wsHandshakeRefused{0};   ///< upgrades refused: bad Sec-WebSocket-Key (400) or version (426)
    Counter wsWriteTimeouts{0};      ///< connections aborted: no write progress within the write timeout
    Counter sseEvents{0};
    Counter sseInvalidFilters{0};    ///< SSE streams refused for an invalid filter (400)
    Counter sseTokenExpirations{0};  ///< SSE streams ended 3004 at their token's expiry
    Counter httpHeaderTimeouts{0};   ///< connections closed without a complete request in time
    Counter httpIdleTimeouts{0};     ///< keep-alive connections closed idle between requests
    Counter rejectedTcpLimit{0};     ///< connections refused by the TCP connection limit (503, closed)
    Counter httpIdleEvictions{0};    ///< idle connections closed near the TCP limit to make room
    Counter acceptErrors{0};         ///< failed accepts (EMFILE, ENFILE, ...): the listener backs off
    Counter httpWriteTimeouts{0};     ///< HTTP responses dropped: no write progress for the write timeout
    Counter sseWriteTimeouts{0};      ///< SSE streams dropped: no write progress for the write timeout
    Counter staticRefused{0};        ///< static paths refused: dot names, outside the root (404)
    Counter staticPrecompressed{0};  ///< static files sent as a precompressed variant (.br, .gz)
    Counter staticNotModified{0};    ///< static requests answered 304 (If-None-Match matched)
    Counter webhookSent{0};          ///< webhook events delivered (2xx)
    Counter webhookRequests{0};      ///< webhook batches delivered (2xx)
    Counter webhookFailed{0};        ///< webhook events given up: 4xx, or retries exhausted
    Counter webhookRetried{0};       ///< webhook requests retried (connection error, timeout, bad answer, 5xx)
    Counter webhookDropped{0};       ///< webhook events dropped from a full queue (the oldest)
    std::atomic<std::int64_t> webhookQueued{0}; ///< webhook events waiting to be sent
    Counter systemdWatchdogMissed{0}; ///< systemd watchdog rounds without WATCHDOG=1: an io thread did not answer
    BackendMetrics rpc;             ///< RPC proxy (--rpc-proxy): 502 / 504 / 503 error replies
    BackendMetrics connectProxy;    ///< connect proxy (--connect-proxy): failures close 3008
    BackendMetrics subscribeProxy;  ///< subscribe proxy (--subscribe-proxy): 502 / 504 / 503 refusals
    Counter connectProxyAccepted{0};          ///< connect proxy: accepted as a user or anonymous
    Counter connectProxyRefused{0};           ///< connect proxy: 401/403 or {"allow": false} (close 3501)
    Counter subscribeProxyAllowed{0};           ///< subscribe proxy: backend allowed the join
    Counter subscribeProxyDenied{0};            ///< subscribe proxy: backend refused ({"allow":false}, 401, 403)
    Counter subscribeProxyAbandoned{0};         ///< subscribe proxy: answers that came after the session had left
    Counter pusherApiRequests{0};      ///< Pusher HTTP API requests (/apps/ID/...) answered
    Counter pusherApiEvents{0};        ///< events published through it (one per channel)
    Counter pusherApiAuthFailures{0};  ///< refused 401: signature, key, timestamp, version or body_md5
    Counter pusherApiUnknownApps{0};   ///< refused 404: no such app id
    Counter pusherApiTooLarge{0};      ///< refused 413: an event's data over --pusher-max-event-bytes
    Counter pusherApiBadRequests{0};   ///< refused 400: malformed body, bad names, a batch over 10
    /// Time spent in the core per HTTP publish: encoding once plus queueing to every subscriber.
    Histogram fanoutSeconds{{1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 5e-2, 0.25}};
    /// Round trip of every Redis command (engine redis): publish scripts, history reads, pings.
    Histogram engineRoundTripSeconds{{1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1, 0.5, 2}};
    /// Frames per socket write (the batching factor) of SSE sessions; WebSocket sessions count
    /// theirs per io thread (ThreadWriteCounters, the same bounds).
    Histogram batchFrames{ThreadWriteCounters::kBatchBounds};

    /// Prometheus text exposition format 0.0.4. `wsWrites`: the io threads' WebSocket writes
    /// (ThreadWriteCounters::addTo over every io thread).
    std::string render(const HubCounters &hub, const ProtocolCounters &protocol,
                       const ThreadWriteCounters::Totals &wsWrites) const;
    /// Prometheus lines of the Pusher protocol endpoint (switchboard_pusher_*).
    static void renderPusherMetrics(std::string &out, const PusherCounters &pusher, std::size_t connections);
    /// Prometheus lines of the Pusher HTTP API (switchboard_pusher_api_*).
    void renderPusherApiMetrics(std::string &out) const;
};

} // namespace switchboard::asio
