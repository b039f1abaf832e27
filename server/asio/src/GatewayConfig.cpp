// Flags via Boost.ProgramOptions, the file via Boost.JSON. See docs/gateway.md for every key.
#include "switchboard/asio/GatewayConfig.h"

#include <boost/asio/ip/address.hpp>
#include <boost/json.hpp>
#include <boost/program_options.hpp>

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <ostream>
#include <sstream>
#include <stdexcept>
#include <string_view>

namespace po = boost::program_options;
namespace json = boost::json;

namespace switchboard::asio {

LogLevel parseLogLevel(std::string_view name)
{
    static constexpr std::pair<std::string_view, LogLevel> names[] = {
        {"trace", LogLevel::Trace}, {"debug", LogLevel::Debug}, {"info", LogLevel::Info},
        {"warn", LogLevel::Warn}, {"error", LogLevel::Error}, {"off", LogLevel::Off}};
    for (const auto &[text, level] : names) {
        if (text == name)
            return level;
    }
    throw std::invalid_argument("unknown log level '" + std::string(name) + "' (trace, debug, info, warn, error, off)");
}

PusherApp parsePusherApp(std::string_view text)
{
    const auto first = text.find(':');
    const auto second = first == std::string_view::npos ? first : text.find(':', first + 1);
    if (second == std::string_view::npos)
        throw std::invalid_argument("--pusher-app must be ID:KEY:SECRET, got '" + std::string(text) + "'");
    PusherApp app{std::string(text.substr(0, first)), std::string(text.substr(first + 1, second - first - 1)),
                  std::string(text.substr(second + 1))};
    // The id is a channel-name segment, the key a URL path segment: keep both to a safe alphabet.
    auto safe = [](std::string_view part) {
        return !part.empty() && part.size() <= 64 && part.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.") == std::string_view::npos;
    };
    if (!safe(app.id) || !safe(app.key) || app.secret.empty())
        throw std::invalid_argument("--pusher-app ID:KEY:SECRET: ID and KEY are 1-64 of A-Z a-z 0-9 _ - . and SECRET is not empty");
    return app;
}

namespace {

bool parsePolicy(std::string_view policy)
{
    if (policy == "drop")
        return false;
    if (policy == "disconnect")
        return true;
    throw std::invalid_argument("outbox policy must be 'drop' or 'disconnect', not '" + std::string(policy) + "'");
}

/// PREFIX=SIZE[:TTL_SECONDS], e.g. `chat/=100:300`, `=50` (default rule).
HistoryRule parseHistoryFlag(const std::string &text)
{
    const auto eq = text.rfind('=');
    if (eq == std::string::npos)
        throw std::invalid_argument("--history wants PREFIX=SIZE[:TTL], got '" + text + "'");
    HistoryRule rule;
    rule.prefix = text.substr(0, eq);
    const std::string rest = text.substr(eq + 1);
    const auto colon = rest.find(':');
    try {
        std::size_t used = 0;
        rule.size = std::stoul(rest.substr(0, colon), &used);
        if (colon != std::string::npos)
            rule.ttl = std::chrono::seconds(std::stoul(rest.substr(colon + 1)));
        (void)used;
    } catch (const std::logic_error &) {
        throw std::invalid_argument("--history wants PREFIX=SIZE[:TTL], got '" + text + "'");
    }
    return rule;
}

template <class T>
T number(const json::value &v, const char *key)
{
    try {
        return json::value_to<T>(v);
    } catch (const std::exception &) {
        throw std::runtime_error(std::string("config key '") + key + "' must be a number");
    }
}

std::string text(const json::value &v, const char *key)
{
    if (!v.is_string())
        throw std::runtime_error(std::string("config key '") + key + "' must be a string");
    return std::string(v.get_string());
}

} // namespace

void applyJsonConfig(GatewayConfig &c, std::string_view jsonText)
{
    boost::system::error_code ec;
    json::value doc = json::parse(jsonText, ec);
    if (ec)
        throw std::runtime_error("config file is not valid JSON: " + ec.message());
    if (!doc.is_object())
        throw std::runtime_error("config file must hold a JSON object");
    for (const auto &[keyView, v] : doc.get_object()) {
        const std::string key(keyView);
        const char *k = key.c_str();
        if (key == "listen") c.listen = text(v, k);
        else if (key == "port") c.port = number<std::uint16_t>(v, k);
        else if (key == "tls") {
            if (!v.is_object())
                throw std::runtime_error("config key 'tls' must be an object {cert, key}");
            if (auto *p = v.get_object().if_contains("cert")) c.tlsCertificate = text(*p, "tls.cert");
            if (auto *p = v.get_object().if_contains("key")) c.tlsKey = text(*p, "tls.key");
        }
        else if (key == "apiKey") c.apiKey = text(v, k);
        else if (key == "tokenSecret") c.tokenSecret = text(v, k);
        else if (key == "maxConnections") c.maxConnections = number<std::size_t>(v, k);
        else if (key == "maxTcpConnections") c.maxTcpConnections = number<std::size_t>(v, k);
        else if (key == "socketSendBufferBytes") c.socketSendBuffer = number<std::size_t>(v, k);
        else if (key == "maxFrameSize") c.maxFrameBytes = number<std::size_t>(v, k);
        else if (key == "permessageDeflate") {
            if (!v.is_bool())
                throw std::runtime_error("config key 'permessageDeflate' must be true or false");
            c.permessageDeflate = v.get_bool();
        }
        else if (key == "deflateWindowBits") c.deflateWindowBits = number<int>(v, k);
        else if (key == "maxBodySize") c.maxBodyBytes = number<std::size_t>(v, k);
        else if (key == "channelsPerSession") c.maxChannelsPerSession = number<std::size_t>(v, k);
        else if (key == "messagesPerSecond") c.messagesPerSecond = number<double>(v, k);
        else if (key == "messagesBurst") c.messagesBurst = number<double>(v, k);
        else if (key == "wsPingIntervalMs") c.wsPingInterval = std::chrono::milliseconds(number<std::uint32_t>(v, k));
        else if (key == "wsIdleTimeoutMs") c.wsIdleTimeout = std::chrono::milliseconds(number<std::uint32_t>(v, k));
        else if (key == "writeTimeoutMs") c.writeTimeout = std::chrono::milliseconds(number<std::uint32_t>(v, k));
        else if (key == "outbox") {
            if (!v.is_object())
                throw std::runtime_error("config key 'outbox' must be an object {frames, bytes, policy}");
            const auto &o = v.get_object();
            if (auto *p = o.if_contains("frames")) c.outboxFrames = number<std::size_t>(*p, "outbox.frames");
            if (auto *p = o.if_contains("bytes")) c.outboxBytes = number<std::size_t>(*p, "outbox.bytes");
            if (auto *p = o.if_contains("policy")) c.disconnectSlowClients = parsePolicy(text(*p, "outbox.policy"));
        }
        else if (key == "history") {
            if (!v.is_array())
                throw std::runtime_error("config key 'history' must be an array of {prefix, size, ttl}");
            c.history.clear();
            for (const auto &item : v.get_array()) {
                if (!item.is_object())
                    throw std::runtime_error("config key 'history' must be an array of {prefix, size, ttl}");
                const auto &o = item.get_object();
                HistoryRule rule;
                if (auto *p = o.if_contains("prefix")) rule.prefix = text(*p, "history.prefix");
                if (auto *p = o.if_contains("size")) rule.size = number<std::size_t>(*p, "history.size");
                if (auto *p = o.if_contains("ttl")) rule.ttl = std::chrono::seconds(number<std::int64_t>(*p, "history.ttl"));
                c.history.push_back(std::move(rule));
            }
        }
        else if (key == "channelPolicies") {
            if (!v.is_array())
                throw std::runtime_error("config key 'channelPolicies' must be an array of {prefix, policy}");
            c.channelPolicies.clear();
            for (const auto &item : v.get_array()) {
                if (!item.is_object() || !item.get_object().contains("policy"))
                    throw std::runtime_error("config key 'channelPolicies' must be an array of {prefix, policy}");
                const auto &o = item.get_object();
                ChannelPolicyRule rule;
                if (auto *p = o.if_contains("prefix")) rule.prefix = text(*p, "channelPolicies.prefix");
                try {
                    parseChannelPolicy(text(o.at("policy"), "channelPolicies.policy"), rule);
                } catch (const std::invalid_argument &e) {
                    throw std::runtime_error(std::string("config key 'channelPolicies': ") + e.what());
                }
                c.channelPolicies.push_back(std::move(rule));
            }
        }
        else if (key == "allowedOrigins") {
            if (!v.is_array())
                throw std::runtime_error("config key 'allowedOrigins' must be an array of strings");
            c.allowedOrigins.clear();
            for (const auto &item : v.get_array())
                c.allowedOrigins.push_back(text(item, k));
        }
        else if (key == "ioThreads") c.ioThreads = number<unsigned>(v, k);
        else if (key == "logLevel") c.logLevel = parseLogLevel(text(v, k));
        else if (key == "static") c.staticDir = text(v, k);
        else if (key == "drainTimeoutMs") c.drainTimeout = std::chrono::milliseconds(number<std::int64_t>(v, k));
        else if (key == "systemdStatusIntervalMs") c.systemdStatusInterval = std::chrono::milliseconds(number<std::int64_t>(v, k));
        else if (key == "historySnapshot") c.historySnapshot = text(v, k);
        else if (key == "headerTimeoutMs") c.headerTimeout = std::chrono::milliseconds(number<std::int64_t>(v, k));
        else if (key == "engine") {
            // A string, or an array of Redis URLs (the shards, in order): joined as --engine takes them.
            if (v.is_array()) {
                c.engine.clear();
                for (const auto &item : v.get_array())
                    c.engine += (c.engine.empty() ? "" : ",") + text(item, k);
                if (c.engine.empty())
                    throw std::runtime_error("config key 'engine' must not be an empty array");
            } else {
                c.engine = text(v, k);
            }
        }
        else if (key == "enginePrefix") c.enginePrefix = text(v, k);
        else if (key == "nodeTtl") c.nodeTtl = std::chrono::seconds(number<std::int64_t>(v, k));
        else if (key == "idempotencyWindow") c.idempotencyWindow = std::chrono::seconds(number<std::uint32_t>(v, k));
        else if (key == "idempotencyMaxKeys") c.idempotencyMaxKeys = number<std::size_t>(v, k);
        else if (key == "engineReconnectMaxMs") c.engineReconnectMax = std::chrono::milliseconds(number<std::int64_t>(v, k));
        else if (key == "webhooks") {
            if (!v.is_array())
                throw std::runtime_error("config key 'webhooks' must be an array of URLs");
            c.webhooks.clear();
            for (const auto &item : v.get_array())
                c.webhooks.push_back(text(item, k));
        }
        else if (key == "webhookSecret") c.webhookSecret = text(v, k);
        else if (key == "pusherApps") {
            if (!v.is_array())
                throw std::runtime_error("config key 'pusherApps' must be an array of {id, key, secret}");
            c.pusherApps.clear();
            c.pusherWebhooks.clear();
            for (const auto &item : v.get_array()) {
                const auto *o = item.if_object();
                if (!o || !o->contains("id") || !o->contains("key") || !o->contains("secret"))
                    throw std::runtime_error("config key 'pusherApps' must be an array of {id, key, secret}");
                c.pusherApps.push_back(parsePusherApp(text(o->at("id"), "pusherApps.id") + ':' + text(o->at("key"), "pusherApps.key")
                                                      + ':' + text(o->at("secret"), "pusherApps.secret")));
                if (const auto *hooks = o->if_contains("webhooks")) {
                    if (!hooks->is_array())
                        throw std::runtime_error("config key 'pusherApps.webhooks' must be an array of URLs");
                    for (const auto &url : hooks->get_array())
                        c.pusherWebhooks.emplace_back(c.pusherApps.back().id, text(url, "pusherApps.webhooks"));
                }
            }
        }
        else if (key == "pusherActivityTimeout") c.pusherActivityTimeout = std::chrono::seconds(number<std::uint32_t>(v, k));
        else if (key == "pusherClientEventsPerSecond") c.pusherClientEventsPerSecond = number<double>(v, k);
        else if (key == "pusherMaxEventBytes") c.pusherMaxEventBytes = number<std::size_t>(v, k);
        else if (key == "rpcProxy") c.rpcProxy = text(v, k);
        else if (key == "backendCa") c.backendCa = text(v, k);
        else if (key == "backendCert") c.backendCert = text(v, k);
        else if (key == "backendKey") c.backendKey = text(v, k);
        else if (key == "proxySecret") c.proxySecret = text(v, k);
        else if (key == "rpcTimeoutMs") c.rpcTimeout = std::chrono::milliseconds(number<std::uint32_t>(v, k));
        else if (key == "rpcConcurrency") c.rpcConcurrency = number<std::size_t>(v, k);
        else if (key == "connectProxy") c.connectProxy = text(v, k);
        else if (key == "connectProxyTimeoutMs") c.connectProxyTimeout = std::chrono::milliseconds(number<std::uint32_t>(v, k));
        else if (key == "connectProxyConcurrency") c.connectProxyConcurrency = number<std::size_t>(v, k);
        else if (key == "subscribeProxy") c.subscribeProxy = text(v, k);
        else if (key == "subscribeProxyTimeoutMs") c.subscribeProxyTimeout = std::chrono::milliseconds(number<std::uint32_t>(v, k));
        else if (key == "subscribeProxyConcurrency") c.subscribeProxyConcurrency = number<std::size_t>(v, k);
        else if (key == "authorizationTimeoutMs") c.authorizationTimeout = std::chrono::milliseconds(number<std::uint32_t>(v, k));
        else if (key == "tokenRefreshHintMs") c.tokenRefreshHint = std::chrono::milliseconds(number<std::uint32_t>(v, k));
        else if (key == "webhookQueue") c.webhookQueue = number<std::size_t>(v, k);
        else if (key == "webhookBatch") c.webhookBatch = number<std::size_t>(v, k);
        else if (key == "webhookFlushIntervalMs") c.webhookFlushInterval = std::chrono::milliseconds(number<std::uint32_t>(v, k));
        else if (key == "webhookTimeoutMs") c.webhookTimeout = std::chrono::milliseconds(number<std::uint32_t>(v, k));
        else if (key == "webhookRetries") c.webhookRetries = number<unsigned>(v, k);
        else if (key == "webhookBackoffMaxMs") c.webhookBackoffMax = std::chrono::milliseconds(number<std::uint32_t>(v, k));
        else if (key == "engineTlsCa") c.engineTlsCa = text(v, k);
        else if (key == "engineTlsCert") c.engineTlsCert = text(v, k);
        else if (key == "engineTlsKey") c.engineTlsKey = text(v, k);
        else if (key == "sseHeartbeatSeconds") c.sseHeartbeat = std::chrono::seconds(number<std::int64_t>(v, k));
        else throw std::runtime_error("unknown config key '" + key + "'");
    }
}

ConfigParse parseCommandLine(int argc, const char *const argv[], std::ostream &out, std::ostream &err)
{
    const GatewayConfig d;
    po::options_description opts("switchboard-gateway: WebSocket (/ws), HTTP API (/api), SSE (/sse), /metrics and static files on one port.\n\nOptions");
    // clang-format off
    opts.add_options()
        ("help,h", "print this help and exit")
        ("version,V", "print the version and exit")
        ("config,c", po::value<std::string>()->value_name("FILE"), "JSON configuration file; flags override its keys (docs/gateway.md)")
        ("listen", po::value<std::string>()->value_name("ADDR"), "address to bind (default 127.0.0.1)")
        ("port,p", po::value<unsigned>()->value_name("N"), "port (default 8080; 0 picks a free port, printed as 'listening on ADDR:PORT')")
        ("tls-cert", po::value<std::string>()->value_name("PEM"), "TLS certificate chain; with --tls-key serves wss:// and https://")
        ("tls-key", po::value<std::string>()->value_name("PEM"), "TLS private key")
        ("api-key", po::value<std::string>()->value_name("KEY"), "HTTP API key (Authorization: Bearer KEY or X-API-Key); default: random, printed at start")
        ("token-secret", po::value<std::string>()->value_name("SECRET"), "HS256 secret of connection tokens; default: random, a development token is printed at start")
        ("max-connections", po::value<std::size_t>()->value_name("N"), "WebSocket + SSE connections (default 10000); above: close 3003 / HTTP 503")
        ("max-tcp-connections", po::value<std::size_t>()->value_name("N"), "every accepted TCP connection, before and after upgrades (default: max-connections + max(64, max-connections/10), capped by the open-file limit); above: HTTP 503 and close")
        ("max-frame-size", po::value<std::size_t>()->value_name("BYTES"), "largest WebSocket message (default 65536); above: close 1009")
        ("permessage-deflate", po::value<std::string>()->value_name("on|off"), "accept the permessage-deflate WebSocket extension (RFC 7692) and send publications marked compress compressed (default on)")
        ("deflate-window-bits", po::value<int>()->value_name("9-15"), "window of the shared permessage-deflate compressor (default 15)")
        ("max-body-size", po::value<std::size_t>()->value_name("BYTES"), "largest HTTP request body (default 1048576); above: 413")
        ("channels-per-session", po::value<std::size_t>()->value_name("N"), "channels one connection may join (default 128); above: error 431")
        ("rate", po::value<double>()->value_name("PER_SEC"), "messages per second per connection (default 100); above: error 429, repeated: close 3005")
        ("rate-burst", po::value<double>()->value_name("N"), "burst allowance of the rate limit (default 200)")
        ("ws-ping-interval", po::value<unsigned>()->value_name("MS"), "ping a WebSocket silent for MS; also the heartbeat advertised in welcome (default 25000; 0: off)")
        ("ws-idle-timeout", po::value<unsigned>()->value_name("MS"), "close a WebSocket that sent nothing (no frame, no pong) for MS with 3002 (default 60000; 0: off)")
        ("write-timeout", po::value<unsigned>()->value_name("MS"), "abort a WebSocket, HTTP response or SSE stream whose pending bytes made no write progress for MS (default 30000; 0: off)")
        ("outbox-frames", po::value<std::size_t>()->value_name("N"), "frames queued per connection (default 4096)")
        ("outbox-bytes", po::value<std::size_t>()->value_name("BYTES"), "bytes queued per connection (default 4194304)")
        ("outbox-policy", po::value<std::string>()->value_name("drop|disconnect"), "full outbox: drop the message (default) or close 3001")
        ("socket-send-buffer", po::value<std::size_t>()->value_name("BYTES"), "SO_SNDBUF of accepted connections (default 0: the OS default)")
        ("channel-policy", po::value<std::vector<std::string>>()->composing()->value_name("PREFIX=POLICY"), "slow-consumer policy per channel prefix, longest wins: drop-newest, drop-oldest, latest-only, latest-only:FIELD, disconnect; repeatable (default: the outbox policy)")
        ("history", po::value<std::vector<std::string>>()->composing()->value_name("PREFIX=SIZE[:TTL]"), "history per channel prefix, TTL in seconds; repeatable (default: =100:300)")
        ("allowed-origin", po::value<std::vector<std::string>>()->composing()->value_name("ORIGIN"), "accepted Origin header of WebSocket/SSE clients; repeatable (default: any)")
        ("io-threads", po::value<unsigned>()->value_name("N"), "I/O threads (default: hardware concurrency)")
        ("log-level", po::value<std::string>()->value_name("LEVEL"), "trace, debug, info (default), warn, error, off")
        ("static", po::value<std::string>()->value_name("DIR"), "static files served at / (default: web/ next to the binary, or ../share/switchboard/web)")
        ("drain-timeout", po::value<unsigned>()->value_name("MS"), "shutdown: time to flush outboxes before exit (default 5000)")
        ("systemd-status-interval", po::value<unsigned>()->value_name("MS"), "under systemd (NOTIFY_SOCKET set): refresh the STATUS= line with the connection counts every MS (default 5000)")
        ("history-snapshot", po::value<std::string>()->value_name("FILE"), "keep history across restarts: load FILE at start if it exists, write it on SIGTERM/SIGINT after draining (default: none)")
        ("header-timeout", po::value<unsigned>()->value_name("MS"), "an HTTP request (headers and body) must arrive within MS, and an idle keep-alive connection is closed after MS (default 10000)")
        ("engine", po::value<std::string>()->value_name("memory|URL[,URL...]"), "memory (default: one process) or redis[s]://[:PASSWORD@]HOST:PORT[/DB] (rediss: TLS, certificate verified): gateways sharing a Redis act as one; several URLs separated by commas shard the channels over them, same list and order on every node (docs/scaling.md)")
        ("engine-prefix", po::value<std::string>()->value_name("PREFIX"), "Redis key and pub/sub prefix (default switchboard:)")
        ("node-ttl", po::value<unsigned>()->value_name("S"), "node lease for cluster presence in seconds (default 15)")
        ("idempotency-window", po::value<unsigned>()->value_name("S"), "a publish repeating an idempotencyKey within S seconds gets the original ack and is not delivered again (default 300; 0: keys ignored)")
        ("idempotency-max-keys", po::value<std::size_t>()->value_name("N"), "memory engine: idempotency keys held at most, the oldest forgotten first and counted (default 100000)")
        ("engine-reconnect-max", po::value<unsigned>()->value_name("MS"), "longest wait between Redis reconnect attempts (default 5000)")
        ("webhook", po::value<std::vector<std::string>>()->composing()->value_name("URL"), "POST lifecycle events (connect, disconnect, channel occupied/vacated, member added/removed) in batches to URL (http:// or https://); repeatable")
        ("webhook-secret", po::value<std::string>()->value_name("SECRET"), "sign each webhook body: X-Switchboard-Signature: sha256=HEX(HMAC-SHA256(SECRET, body)) (default: unsigned)")
        ("webhook-queue", po::value<std::size_t>()->value_name("N"), "webhook events waiting per URL (default 10000); when full the oldest is dropped and counted")
        ("webhook-batch", po::value<std::size_t>()->value_name("N"), "webhook events per request at most (default 100)")
        ("webhook-flush-interval", po::value<unsigned>()->value_name("MS"), "a partial webhook batch is sent after MS (default 100)")
        ("webhook-timeout", po::value<unsigned>()->value_name("MS"), "per webhook request: connect, send and answer within MS (default 5000)")
        ("webhook-retries", po::value<unsigned>()->value_name("N"), "retries of a webhook batch after a connection error, timeout or 5xx before it is dropped (default 8)")
        ("webhook-backoff-max", po::value<unsigned>()->value_name("MS"), "webhook retry waits start at 100 ms and double up to MS (default 10000)")
        ("engine-tls-ca", po::value<std::string>()->value_name("FILE"), "rediss://: PEM CAs that may sign the Redis certificate (default: the system trust store)")
        ("engine-tls-cert", po::value<std::string>()->value_name("FILE"), "rediss://: client certificate chain (PEM) for Redis with tls-auth-clients")
        ("engine-tls-key", po::value<std::string>()->value_name("FILE"), "rediss://: the client certificate's private key (PEM)")
        ("rpc-proxy", po::value<std::string>()->value_name("URL"), "answer client requests on topics without a handler by POSTing {topic, payload, user, session, info, client, reply} to URL (http:// or https://); default: such requests get 404")
        ("backend-ca", po::value<std::string>()->value_name("FILE"), "https:// webhooks and proxies: PEM CAs trusted in addition to the system trust store")
        ("backend-cert", po::value<std::string>()->value_name("FILE"), "https:// webhooks and proxies: client certificate chain (PEM) for backends that require one")
        ("backend-key", po::value<std::string>()->value_name("FILE"), "https:// webhooks and proxies: the client certificate's private key (PEM)")
        ("proxy-secret", po::value<std::string>()->value_name("SECRET"), "sign proxy requests: X-Switchboard-Timestamp: T and X-Switchboard-Signature: sha256=HEX(HMAC-SHA256(SECRET, T + \".\" + body)) (default: unsigned)")
        ("rpc-timeout", po::value<unsigned>()->value_name("MS"), "per RPC proxy request: connect, send and answer within MS, else error 504 (default 5000)")
        ("rpc-concurrency", po::value<std::size_t>()->value_name("N"), "RPC proxy requests in flight at most; more are answered 503 at once (default 64)")
        ("connect-proxy", po::value<std::string>()->value_name("URL"), "authenticate WebSocket connects without a valid gateway token by POSTing {session, client, token, data, headers, transport, remote} to URL (http:// or https://); default: tokens only")
        ("connect-proxy-timeout", po::value<unsigned>()->value_name("MS"), "per connect proxy request: connect, send and answer within MS, else close 3008 (default 5000)")
        ("connect-proxy-concurrency", po::value<std::size_t>()->value_name("N"), "connect proxy requests in flight at most; more connects are closed 3008 at once (default 64)")
        ("subscribe-proxy", po::value<std::string>()->value_name("URL"), "authorize private- and presence- joins by POSTing {channel, user, info, session, client, auth, data} to URL (http:// only) instead of by token channel patterns; the answer {\"allow\":true,\"info\":...} sets the presence info")
        ("subscribe-proxy-timeout", po::value<unsigned>()->value_name("MS"), "per subscribe proxy request: connect, send and answer within MS, else error 504 (default 5000)")
        ("subscribe-proxy-concurrency", po::value<std::size_t>()->value_name("N"), "subscribe proxy requests in flight at most; more are refused 503 at once (default 64)")
        ("pusher-app", po::value<std::vector<std::string>>()->composing()->value_name("ID:KEY:SECRET"), "serve Pusher Channels protocol 7 clients (pusher-js) of this app on /app/KEY; repeatable (docs/pusher.md)")
        ("pusher-activity-timeout", po::value<unsigned>()->value_name("S"), "Pusher activity_timeout advertised; a connection silent S seconds gets pusher:ping and is closed 4201 without an answer in 30 s (default 120)")
        ("pusher-client-events-per-second", po::value<double>()->value_name("N"), "client-* events per Pusher connection (burst the same); more: pusher:error 4301 (default 10)")
        ("pusher-webhook", po::value<std::vector<std::string>>()->composing()->value_name("ID=URL"), "POST app ID's events in Pusher's webhook format (channel_occupied/vacated, member_added/removed, client_event), signed X-Pusher-Signature with its secret, to URL; repeatable (docs/pusher.md)")
        ("pusher-max-event-bytes", po::value<std::size_t>()->value_name("N"), "Pusher HTTP API (/apps/ID/events, batch_events): an event's data over N bytes is refused 413 (default 10240)")
        ("authorization-timeout", po::value<unsigned>()->value_name("MS"), "a private/presence join not authorized within MS is refused with error 504; 0: no deadline (default 10000)")
        ("token-refresh-hint", po::value<unsigned>()->value_name("MS"), "tell a WebSocket session MS before its token expires, so its client refreshes the token in place; 0: no hint (default 30000)");
    // clang-format on
    (void)d;
    ConfigParse result;
    po::variables_map vm;
    try {
        po::store(po::parse_command_line(argc, argv, opts), vm);
        po::notify(vm);
    } catch (const po::error &e) {
        err << "switchboard-gateway: " << e.what() << "\n(see --help)\n";
        result.exitCode = 2;
        return result;
    }
    if (vm.count("version")) {
        out << "switchboard-gateway " << SWITCHBOARD_VERSION << '\n';
        return result;
    }
    if (vm.count("help")) {
        out << opts << "\nSignals: SIGTERM/SIGINT stop accepting, close sessions with 3000, drain, write the history\n"
               "snapshot (with --history-snapshot), exit 0.\n";
        return result;
    }
    GatewayConfig c;
    try {
        if (vm.count("config")) {
            const std::string path = vm["config"].as<std::string>();
            std::ifstream file(path, std::ios::binary);
            if (!file)
                throw std::runtime_error("cannot read config file '" + path + "'");
            std::ostringstream content;
            content << file.rdbuf();
            applyJsonConfig(c, content.str());
        }
        auto str = [&](const char *name, std::string &field) {
            if (vm.count(name)) field = vm[name].as<std::string>();
        };
        auto sz = [&](const char *name, std::size_t &field) {
            if (vm.count(name)) field = vm[name].as<std::size_t>();
        };
        str("listen", c.listen);
        if (vm.count("port")) {
            const unsigned port = vm["port"].as<unsigned>();
            if (port > 65535)
                throw std::invalid_argument("--port must be 0..65535");
            c.port = static_cast<std::uint16_t>(port);
        }
        str("tls-cert", c.tlsCertificate);
        str("tls-key", c.tlsKey);
        str("api-key", c.apiKey);
        str("token-secret", c.tokenSecret);
        sz("max-connections", c.maxConnections);
        sz("max-tcp-connections", c.maxTcpConnections);
        sz("socket-send-buffer", c.socketSendBuffer);
        sz("max-frame-size", c.maxFrameBytes);
        sz("max-body-size", c.maxBodyBytes);
        if (vm.count("permessage-deflate")) {
            const std::string v = vm["permessage-deflate"].as<std::string>();
            if (v != "on" && v != "off")
                throw std::invalid_argument("--permessage-deflate must be on or off");
            c.permessageDeflate = v == "on";
        }
        if (vm.count("deflate-window-bits")) c.deflateWindowBits = vm["deflate-window-bits"].as<int>();
        sz("channels-per-session", c.maxChannelsPerSession);
        if (vm.count("rate")) c.messagesPerSecond = vm["rate"].as<double>();
        if (vm.count("rate-burst")) c.messagesBurst = vm["rate-burst"].as<double>();
        if (vm.count("ws-ping-interval")) c.wsPingInterval = std::chrono::milliseconds(vm["ws-ping-interval"].as<unsigned>());
        if (vm.count("ws-idle-timeout")) c.wsIdleTimeout = std::chrono::milliseconds(vm["ws-idle-timeout"].as<unsigned>());
        if (vm.count("write-timeout")) c.writeTimeout = std::chrono::milliseconds(vm["write-timeout"].as<unsigned>());
        sz("outbox-frames", c.outboxFrames);
        sz("outbox-bytes", c.outboxBytes);
        if (vm.count("outbox-policy")) c.disconnectSlowClients = parsePolicy(vm["outbox-policy"].as<std::string>());
        if (vm.count("channel-policy")) {
            c.channelPolicies.clear();
            for (const auto &rule : vm["channel-policy"].as<std::vector<std::string>>()) {
                try {
                    c.channelPolicies.push_back(parseChannelPolicyRule(rule));
                } catch (const std::invalid_argument &e) {
                    throw std::invalid_argument(std::string("--channel-policy: ") + e.what());
                }
            }
        }
        if (vm.count("history")) {
            c.history.clear();
            for (const auto &h : vm["history"].as<std::vector<std::string>>())
                c.history.push_back(parseHistoryFlag(h));
        }
        if (vm.count("allowed-origin")) c.allowedOrigins = vm["allowed-origin"].as<std::vector<std::string>>();
        if (vm.count("io-threads")) c.ioThreads = vm["io-threads"].as<unsigned>();
        if (vm.count("log-level")) c.logLevel = parseLogLevel(vm["log-level"].as<std::string>());
        str("static", c.staticDir);
        str("history-snapshot", c.historySnapshot);
        if (vm.count("drain-timeout")) c.drainTimeout = std::chrono::milliseconds(vm["drain-timeout"].as<unsigned>());
        if (vm.count("systemd-status-interval")) c.systemdStatusInterval = std::chrono::milliseconds(std::max(1u, vm["systemd-status-interval"].as<unsigned>()));
        str("engine", c.engine);
        str("engine-prefix", c.enginePrefix);
        if (vm.count("node-ttl")) c.nodeTtl = std::chrono::seconds(vm["node-ttl"].as<unsigned>());
        if (vm.count("idempotency-window")) c.idempotencyWindow = std::chrono::seconds(vm["idempotency-window"].as<unsigned>());
        if (vm.count("idempotency-max-keys")) c.idempotencyMaxKeys = vm["idempotency-max-keys"].as<std::size_t>();
        if (vm.count("engine-reconnect-max")) c.engineReconnectMax = std::chrono::milliseconds(vm["engine-reconnect-max"].as<unsigned>());
        if (c.engine != "memory") {
            // One redis:// URL, or several separated by commas (shards; RedisUrl::parseList checks each).
            std::string_view rest = c.engine;
            for (;;) {
                const std::string_view entry = rest.substr(0, rest.find(','));
                if (entry.rfind("redis://", 0) != 0 && entry.rfind("rediss://", 0) != 0)
                    throw std::invalid_argument("--engine must be memory or redis:// URLs separated by commas");
                if (entry.size() == rest.size())
                    break;
                rest.remove_prefix(entry.size() + 1);
            }
        }
        str("engine-tls-ca", c.engineTlsCa);
        str("engine-tls-cert", c.engineTlsCert);
        str("engine-tls-key", c.engineTlsKey);
        if (c.engineTlsCert.empty() != c.engineTlsKey.empty())
            throw std::invalid_argument("--engine-tls-cert and --engine-tls-key go together");
        if ((!c.engineTlsCa.empty() || !c.engineTlsCert.empty()) && c.engine.find("rediss://") == std::string::npos)
            throw std::invalid_argument("--engine-tls-ca/-cert/-key apply to a rediss:// engine only");
        if (c.engine != "memory" && !c.historySnapshot.empty())
            throw std::invalid_argument("--history-snapshot applies to the memory engine only (Redis keeps history)");
        if (c.nodeTtl.count() < 2 || c.engineReconnectMax.count() < 1)
            throw std::invalid_argument("--node-ttl must be at least 2 s and --engine-reconnect-max positive");
        if (vm.count("webhook")) c.webhooks = vm["webhook"].as<std::vector<std::string>>();
        str("webhook-secret", c.webhookSecret);
        sz("webhook-queue", c.webhookQueue);
        sz("webhook-batch", c.webhookBatch);
        if (vm.count("webhook-flush-interval")) c.webhookFlushInterval = std::chrono::milliseconds(vm["webhook-flush-interval"].as<unsigned>());
        if (vm.count("webhook-timeout")) c.webhookTimeout = std::chrono::milliseconds(vm["webhook-timeout"].as<unsigned>());
        if (vm.count("webhook-retries")) c.webhookRetries = vm["webhook-retries"].as<unsigned>();
        if (vm.count("webhook-backoff-max")) c.webhookBackoffMax = std::chrono::milliseconds(vm["webhook-backoff-max"].as<unsigned>());
        if (c.webhookQueue == 0 || c.webhookBatch == 0 || c.webhookTimeout.count() <= 0 || c.webhookBackoffMax.count() <= 0)
            throw std::invalid_argument("--webhook-queue, --webhook-batch, --webhook-timeout and --webhook-backoff-max must be positive");
        str("rpc-proxy", c.rpcProxy);
        str("backend-ca", c.backendCa);
        str("backend-cert", c.backendCert);
        str("backend-key", c.backendKey);
        str("proxy-secret", c.proxySecret);
        if (c.backendCert.empty() != c.backendKey.empty())
            throw std::invalid_argument("--backend-cert and --backend-key go together");
        if (vm.count("rpc-timeout")) c.rpcTimeout = std::chrono::milliseconds(vm["rpc-timeout"].as<unsigned>());
        sz("rpc-concurrency", c.rpcConcurrency);
        if (c.rpcTimeout.count() <= 0 || c.rpcConcurrency == 0)
            throw std::invalid_argument("--rpc-timeout and --rpc-concurrency must be positive");
        str("connect-proxy", c.connectProxy);
        if (vm.count("connect-proxy-timeout")) c.connectProxyTimeout = std::chrono::milliseconds(vm["connect-proxy-timeout"].as<unsigned>());
        sz("connect-proxy-concurrency", c.connectProxyConcurrency);
        if (c.connectProxyTimeout.count() <= 0 || c.connectProxyConcurrency == 0)
            throw std::invalid_argument("--connect-proxy-timeout and --connect-proxy-concurrency must be positive");
        str("subscribe-proxy", c.subscribeProxy);
        if (vm.count("subscribe-proxy-timeout")) c.subscribeProxyTimeout = std::chrono::milliseconds(vm["subscribe-proxy-timeout"].as<unsigned>());
        sz("subscribe-proxy-concurrency", c.subscribeProxyConcurrency);
        if (c.subscribeProxyTimeout.count() <= 0 || c.subscribeProxyConcurrency == 0)
            throw std::invalid_argument("--subscribe-proxy-timeout and --subscribe-proxy-concurrency must be positive");
        if (vm.count("authorization-timeout")) c.authorizationTimeout = std::chrono::milliseconds(vm["authorization-timeout"].as<unsigned>());
        if (vm.count("token-refresh-hint")) c.tokenRefreshHint = std::chrono::milliseconds(vm["token-refresh-hint"].as<unsigned>());
        if (vm.count("pusher-app")) {
            c.pusherApps.clear();
            for (const auto &a : vm["pusher-app"].as<std::vector<std::string>>())
                c.pusherApps.push_back(parsePusherApp(a));
        }
        if (vm.count("pusher-activity-timeout")) c.pusherActivityTimeout = std::chrono::seconds(vm["pusher-activity-timeout"].as<unsigned>());
        if (vm.count("pusher-client-events-per-second")) c.pusherClientEventsPerSecond = vm["pusher-client-events-per-second"].as<double>();
        if (vm.count("pusher-webhook")) {
            c.pusherWebhooks.clear();
            for (const auto &w : vm["pusher-webhook"].as<std::vector<std::string>>()) {
                const auto eq = w.find('=');
                if (eq == std::string::npos || eq == 0 || eq + 1 == w.size())
                    throw std::invalid_argument("--pusher-webhook must be ID=URL, got '" + w + "'");
                c.pusherWebhooks.emplace_back(w.substr(0, eq), w.substr(eq + 1));
            }
        }
        for (const auto &webhook : c.pusherWebhooks) {
            const std::string &app = webhook.first; // a plain reference: lambdas may capture it (clang 14)
            const std::string &url = webhook.second;
            if (std::none_of(c.pusherApps.begin(), c.pusherApps.end(), [&](const PusherApp &a) { return a.id == app; }))
                throw std::invalid_argument("--pusher-webhook " + app + "=...: no --pusher-app has that id");
            if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0)
                throw std::invalid_argument("--pusher-webhook " + app + "=" + url + ": only http:// and https:// URLs are supported");
        }
        if (vm.count("pusher-max-event-bytes")) c.pusherMaxEventBytes = vm["pusher-max-event-bytes"].as<std::size_t>();
        for (std::size_t i = 0; i < c.pusherApps.size(); ++i) {
            for (std::size_t j = 0; j < i; ++j) {
                if (c.pusherApps[i].id == c.pusherApps[j].id || c.pusherApps[i].key == c.pusherApps[j].key)
                    throw std::invalid_argument("--pusher-app: app ids and keys must be unique");
            }
        }
        if (c.pusherActivityTimeout.count() <= 0 || c.pusherClientEventsPerSecond <= 0)
            throw std::invalid_argument("--pusher-activity-timeout and --pusher-client-events-per-second must be positive");
        if (c.pusherMaxEventBytes == 0)
            throw std::invalid_argument("--pusher-max-event-bytes must be positive");
        if (vm.count("header-timeout")) c.headerTimeout = std::chrono::milliseconds(vm["header-timeout"].as<unsigned>());
        if (c.tlsCertificate.empty() != c.tlsKey.empty())
            throw std::invalid_argument("TLS needs both a certificate and a key");
        if (c.wsPingInterval.count() > 0 && c.wsIdleTimeout.count() > 0 && c.wsIdleTimeout <= c.wsPingInterval)
            throw std::invalid_argument("the WebSocket idle timeout must be longer than the ping interval");
        if (c.maxFrameBytes < 16 || c.outboxFrames == 0 || c.outboxBytes == 0 || c.messagesPerSecond <= 0)
            throw std::invalid_argument("max frame size, outbox limits and rate must be positive");
        if (c.headerTimeout.count() <= 0)
            throw std::invalid_argument("the header timeout must be positive");
        if (c.deflateWindowBits < 9 || c.deflateWindowBits > 15)
            throw std::invalid_argument("--deflate-window-bits must be 9..15");
        boost::system::error_code notAnAddress;
        boost::asio::ip::make_address(c.listen, notAnAddress);
        if (notAnAddress)
            throw std::invalid_argument("--listen '" + c.listen
                                        + "' is not an IP address (an interface's address, 127.0.0.1 or ::1 for this machine only, "
                                          "0.0.0.0 or :: for every interface)");
        if (!c.staticDir.empty()) {
            std::error_code ec;
            if (!std::filesystem::is_directory(c.staticDir, ec) || ::access(c.staticDir.c_str(), R_OK | X_OK) != 0)
                throw std::invalid_argument("--static '" + c.staticDir + "' is not a readable folder");
        }
    } catch (const std::exception &e) {
        err << "switchboard-gateway: " << e.what() << '\n';
        result.exitCode = 2;
        return result;
    }
    result.config = std::move(c);
    return result;
}

} // namespace switchboard::asio
