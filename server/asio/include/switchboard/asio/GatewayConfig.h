#pragma once
// GatewayConfig: every setting of switchboard-gateway, from flags and an optional JSON file.

#include <switchboard/ChannelPolicy.h>
#include <switchboard/HistoryOptions.h>
#include <switchboard/PusherProtocol.h>

#include <chrono>
#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace switchboard::asio {

enum class LogLevel { Trace, Debug, Info, Warn, Error, Off };

/// Plain settings; defaults are the embedded development configuration (docs/gateway.md).
struct GatewayConfig {
    std::string listen = "127.0.0.1";
    std::uint16_t port = 8080;             ///< 0: the OS picks a free port
    std::string tlsCertificate;            ///< PEM chain; with tlsKey: every connection is TLS
    std::string tlsKey;                    ///< PEM private key
    std::string apiKey;                    ///< HTTP API key; empty: a random one is made and printed
    std::string tokenSecret;               ///< HS256 secret of connection tokens; empty: random
    std::size_t maxConnections = 10'000;   ///< WebSocket + SSE connections
    /// Every accepted TCP connection (HTTP, pre-upgrade, SSE, WebSocket). 0: maxConnections plus
    /// max(64, maxConnections / 10), capped to fit the process's file descriptor limit.
    std::size_t maxTcpConnections = 0;
    std::size_t maxFrameBytes = 64 * 1024; ///< larger WebSocket messages: close 1009
    /// permessage-deflate (RFC 7692) offered by clients is accepted; publications marked
    /// `compress` go out compressed to them. Client messages inflating past maxFrameBytes: 1009.
    bool permessageDeflate = true;
    int deflateWindowBits = 15;            ///< window of the shared compressor, 9-15
    std::size_t maxBodyBytes = 1 << 20;    ///< larger HTTP bodies: 413
    std::size_t maxChannelsPerSession = 128;
    double messagesPerSecond = 100;        ///< per connection, token bucket rate
    double messagesBurst = 200;            ///< token bucket size
    std::size_t outboxFrames = 4096;
    std::size_t outboxBytes = 4u << 20;
    bool disconnectSlowClients = false;    ///< outbox policy: false drop message, true close 3001
    /// Slow-consumer policy per channel-name prefix, longest prefix wins (`--channel-policy
    /// PREFIX=POLICY`, JSON `channelPolicies`); channels matching none follow the outbox policy.
    std::vector<ChannelPolicyRule> channelPolicies;
    /// SO_SNDBUF of accepted connections; 0: the OS default (Linux tunes it, up to several MiB
    /// per connection on loopback). What the kernel holds is out of reach of the channel
    /// policies: a smaller buffer lets latest-only conflate sooner for a slow reader.
    std::size_t socketSendBuffer = 0;
    /// WebSocket liveness. A connection silent this long gets a ping from the server; the same
    /// interval is advertised in `welcome` as the client's heartbeat. 0: no server pings.
    std::chrono::milliseconds wsPingInterval{25'000};
    /// Nothing received (no frame, no pong) this long: close 3002. 0: never. Must exceed the
    /// ping interval.
    std::chrono::milliseconds wsIdleTimeout{60'000};
    /// Bytes pending and no write progress this long: the connection is aborted (TCP closed).
    /// WebSocket, HTTP responses and SSE streams alike (a client that stopped reading). 0: never.
    std::chrono::milliseconds writeTimeout{30'000};
    /// History per channel-name prefix, longest prefix wins (core HistoryOptions defaults:
    /// every channel keeps 100 publications for 5 minutes).
    std::vector<HistoryRule> history = HistoryOptions{}.rules;
    std::vector<std::string> allowedOrigins; ///< empty: any Origin
    unsigned ioThreads = 0;                ///< 0: std::thread::hardware_concurrency()
    LogLevel logLevel = LogLevel::Info;
    std::string staticDir;                 ///< empty: <exe dir>/web or <exe dir>/../share/switchboard/web
    std::chrono::milliseconds drainTimeout{5000}; ///< shutdown: wait this long for outboxes
    /// Under systemd (NOTIFY_SOCKET set): the STATUS= line is refreshed this often.
    std::chrono::milliseconds systemdStatusInterval{5000};
    std::chrono::seconds sseHeartbeat{15};
    /// A request (headers and body) must arrive within this time of the gateway starting to
    /// wait for it; a keep-alive connection idle this long between requests is closed too.
    std::chrono::milliseconds headerTimeout{10'000};
    /// History snapshot file: loaded at start when it exists, written (atomically) on graceful
    /// shutdown after draining. Empty: history lives only as long as the process.
    std::string historySnapshot;
    /// "memory" (one process) or redis[s]://[[user]:password@]HOST[:PORT][/DB]: every gateway on the
    /// same Redis and prefix behaves as one service (docs/scaling.md).
    std::string engine = "memory";
    std::string enginePrefix = "switchboard:"; ///< Redis key and pub/sub prefix
    std::chrono::seconds nodeTtl{15};          ///< node lease for cluster presence
    /// Idempotent publish: a repeated `idempotencyKey` within this window gets the original ack
    /// and is not delivered again (docs/protocol.md); 0: keys are ignored. In memory, at most
    /// idempotencyMaxKeys keys are held (the oldest forgotten first); Redis expires its own.
    std::chrono::seconds idempotencyWindow{300};
    std::size_t idempotencyMaxKeys = 100'000;
    /// Longest wait between Redis reconnect attempts (they start at 100 ms and double).
    std::chrono::milliseconds engineReconnectMax{5000};
    /// Webhooks: lifecycle events (connect, disconnect, channel occupied/vacated, member
    /// added/removed) POSTed in batches to every URL (http[s]://). See docs/gateway.md.
    std::vector<std::string> webhooks;
    std::string webhookSecret;                  ///< HMAC-SHA256 key of X-Switchboard-Signature; empty: unsigned
    std::size_t webhookQueue = 10'000;          ///< events waiting per URL; when full the oldest is dropped
    std::size_t webhookBatch = 100;             ///< events per request at most
    std::chrono::milliseconds webhookFlushInterval{100}; ///< a partial batch waits at most this long
    std::chrono::milliseconds webhookTimeout{5000};      ///< per request: connect, send, answer
    unsigned webhookRetries = 8;                ///< retries of a batch (connection errors, 5xx) before it is dropped
    std::chrono::milliseconds webhookBackoffMax{10'000}; ///< retry waits start at 100 ms and double up to this
    /// rediss:// only: PEM CA file that signs the Redis certificate (empty: the system store), and
    /// the client certificate and key for Redis with tls-auth-clients (both or none).
    std::string engineTlsCa;
    std::string engineTlsCert;
    std::string engineTlsKey;
    /// RPC proxy: requests on topics without a handler are POSTed to this URL (http[s]://);
    /// empty: they are answered 404. See docs/gateway.md.
    std::string rpcProxy;
    std::chrono::milliseconds rpcTimeout{5000}; ///< per request: connect, send, answer; else 504
    std::size_t rpcConcurrency = 64;            ///< in flight at most; more are answered 503 at once
    /// Connect proxy: connects without a token the gateway accepts are POSTed to this URL
    /// (http[s]://), which authenticates them; empty: tokens only. See docs/gateway.md.
    std::string connectProxy;
    std::chrono::milliseconds connectProxyTimeout{5000}; ///< per connect: connect, send, answer; else close 3008
    std::size_t connectProxyConcurrency = 64;            ///< in flight at most; more are closed 3008 at once
    /// Every outbound HTTP client (webhooks, proxies) to https:// URLs: a PEM CA file trusted in
    /// addition to the system store, and a client certificate and key (both or none).
    std::string backendCa;
    std::string backendCert;
    std::string backendKey;
    /// Not empty: proxy requests carry X-Switchboard-Timestamp and X-Switchboard-Signature
    /// (HMAC-SHA256 over timestamp "." body). See docs/security.md.
    std::string proxySecret;
    /// Subscribe proxy: private and presence joins are authorized by POSTing them to this URL
    /// (http:// only) instead of by the token's channel patterns; empty: tokens decide. See
    /// docs/gateway.md.
    std::string subscribeProxy;
    std::chrono::milliseconds subscribeProxyTimeout{5000}; ///< per join: connect, send, answer; else 504
    std::size_t subscribeProxyConcurrency = 64;            ///< in flight at most; more are refused 503 at once
    /// A private/presence join whose authorization (subscribe proxy) has not answered within
    /// this is refused 504 (HubOptions::authorizationTimeout); 0: no deadline.
    std::chrono::milliseconds authorizationTimeout{10'000};
    /// A WebSocket session whose token expires is told so (`expiring`) this long before, so its
    /// client refreshes the token in place (ProtocolLimits::tokenRefreshHint); 0: no hint.
    std::chrono::milliseconds tokenRefreshHint{30'000};
    /// Pusher Channels protocol 7 apps served on /app/{key} (docs/pusher.md); empty: none.
    std::vector<PusherApp> pusherApps;
    std::chrono::seconds pusherActivityTimeout{120}; ///< advertised; silent this long: pusher:ping
    double pusherClientEventsPerSecond = 10;         ///< client-* events per connection (burst the same)
    std::size_t pusherMaxEventBytes = 10240;         ///< Pusher HTTP API: an event's `data` larger than this is 413
    /// Pusher webhooks (docs/pusher.md): (app id, URL) pairs; each URL receives that app's events
    /// in Pusher's format, signed with the app's secret. Queue, batch, retries: the webhook* fields.
    std::vector<std::pair<std::string, std::string>> pusherWebhooks;

    bool tlsEnabled() const { return !tlsCertificate.empty() && !tlsKey.empty(); }
};

/// Result of parsing a command line.
struct ConfigParse {
    std::optional<GatewayConfig> config; ///< empty: exit with `exitCode` (help printed or error)
    int exitCode = 0;
};

/// Parses flags (Boost.ProgramOptions) and the JSON file named by --config (Boost.JSON). Flags
/// override the file, the file overrides the defaults. --help prints to `out`, errors to `err`.
ConfigParse parseCommandLine(int argc, const char *const argv[], std::ostream &out, std::ostream &err);

/// Applies a JSON configuration document over `config`. Throws std::runtime_error with a message
/// naming the offending key.
void applyJsonConfig(GatewayConfig &config, std::string_view jsonText);

/// "ID:KEY:SECRET" (the secret may contain ':') -> PusherApp; throws std::invalid_argument when
/// a part is empty or the id or key has characters a channel name or URL path cannot carry.
PusherApp parsePusherApp(std::string_view text);

/// "debug" -> LogLevel::Debug; throws std::invalid_argument.
LogLevel parseLogLevel(std::string_view name);

} // namespace switchboard::asio
