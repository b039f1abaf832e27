#include "Metrics.h"

#include <cstdio>

namespace switchboard::asio {

void Histogram::observe(double value) noexcept
{
    std::size_t i = 0;
    while (i < m_bounds.size() && value > m_bounds[i])
        ++i;
    m_counts[i].fetch_add(1, std::memory_order_relaxed);
    m_sumMicros.fetch_add(static_cast<std::uint64_t>(value * 1e6), std::memory_order_relaxed);
    m_count.fetch_add(1, std::memory_order_relaxed);
}

namespace {

void line(std::string &out, std::string_view name, std::string_view labels, double value)
{
    char number[64];
    std::snprintf(number, sizeof number, "%.17g", value);
    out.append(name);
    if (!labels.empty()) {
        out.push_back('{');
        out.append(labels);
        out.push_back('}');
    }
    out.push_back(' ');
    out.append(number);
    out.push_back('\n');
}

void header(std::string &out, std::string_view name, std::string_view type, std::string_view help)
{
    out.append("# HELP ").append(name).append(" ").append(help).append("\n");
    out.append("# TYPE ").append(name).append(" ").append(type).append("\n");
}

void metric(std::string &out, std::string_view name, std::string_view type, std::string_view help, double value)
{
    header(out, name, type, help);
    line(out, name, {}, value);
}

} // namespace

void Histogram::render(std::string &out, std::string_view name, std::string_view help) const
{
    render(out, name, help, {}, 0);
}

void Histogram::render(std::string &out, std::string_view name, std::string_view help,
                       const std::array<std::uint64_t, 13> &extraCounts, double extraSum) const
{
    header(out, name, "histogram", help);
    const std::string bucket = std::string(name) + "_bucket";
    std::uint64_t cumulative = 0;
    char le[48];
    for (std::size_t i = 0; i < m_bounds.size(); ++i) {
        cumulative += m_counts[i].load(std::memory_order_relaxed) + extraCounts[i];
        std::snprintf(le, sizeof le, "le=\"%g\"", m_bounds[i]);
        line(out, bucket, le, static_cast<double>(cumulative));
    }
    cumulative += m_counts[m_bounds.size()].load(std::memory_order_relaxed) + extraCounts[m_bounds.size()];
    line(out, bucket, "le=\"+Inf\"", static_cast<double>(cumulative));
    std::uint64_t extraCount = 0;
    for (std::uint64_t n : extraCounts)
        extraCount += n;
    line(out, std::string(name) + "_sum", {}, static_cast<double>(m_sumMicros.load(std::memory_order_relaxed)) / 1e6 + extraSum);
    line(out, std::string(name) + "_count", {}, static_cast<double>(m_count.load(std::memory_order_relaxed) + extraCount));
}

namespace {

/// The HELP text of each metric renderBackend() writes: each proxy names its own flags and what a
/// failure does to the client.
struct BackendHelp {
    std::string_view requests, failed, timeouts, busy, inFlight, seconds;
};

/// The metrics every proxy has, named PREFIX_requests_total, PREFIX_failed_total{reason},
/// PREFIX_timeouts_total, PREFIX_busy_total, PREFIX_in_flight and PREFIX_seconds.
void renderBackend(std::string &out, std::string_view prefix, const BackendHelp &help, const BackendMetrics &m)
{
    const std::string p(prefix);
    auto v = [](const auto &atomic) { return static_cast<double>(atomic.load(std::memory_order_relaxed)); };
    metric(out, p + "_requests_total", "counter", help.requests, v(m.requests));
    header(out, p + "_failed_total", "counter", help.failed);
    line(out, p + "_failed_total", "reason=\"unreachable\"", v(m.failedUnreachable));
    line(out, p + "_failed_total", "reason=\"invalid_answer\"", v(m.failedInvalid));
    line(out, p + "_failed_total", "reason=\"status\"", v(m.failedStatus));
    metric(out, p + "_timeouts_total", "counter", help.timeouts, v(m.timeouts));
    metric(out, p + "_busy_total", "counter", help.busy, v(m.busy));
    metric(out, p + "_in_flight", "gauge", help.inFlight, v(m.inFlight));
    m.seconds.render(out, p + "_seconds", help.seconds);
}

} // namespace

std::string Metrics::render(const HubCounters &hub, const ProtocolCounters &protocol,
                            const ThreadWriteCounters::Totals &wsWrites) const
{
    auto v = [](const auto &atomic) { return static_cast<double>(atomic.load(std::memory_order_relaxed)); };
    std::string out;
    out.reserve(8192);
    metric(out, "switchboard_sessions", "gauge", "Sessions attached to the hub (WebSocket after connect, SSE).", double(hub.sessions));
    metric(out, "switchboard_websocket_connections", "gauge", "Open WebSocket connections.", v(wsSessions));
    metric(out, "switchboard_sse_connections", "gauge", "Open Server-Sent Events streams.", v(sseSessions));
    metric(out, "switchboard_tcp_connections", "gauge", "Accepted TCP connections open (HTTP, SSE, WebSocket).", v(tcpConnections));
    metric(out, "switchboard_channels", "gauge", "Channels with at least one subscriber.", double(hub.channels));
    metric(out, "switchboard_connections_accepted_total", "counter", "TCP connections accepted.", v(connectionsAccepted));
    metric(out, "switchboard_websocket_handshakes_total", "counter", "WebSocket upgrades completed.", v(wsHandshakes));
    metric(out, "switchboard_frames_in_total", "counter", "WebSocket messages received.", v(wsFramesIn));
    metric(out, "switchboard_bytes_in_total", "counter", "WebSocket message bytes received.", v(wsBytesIn));
    metric(out, "switchboard_frames_out_total", "counter", "Frames written to sockets (WebSocket messages, SSE events).", v(framesOut) + double(wsWrites.frames));
    metric(out, "switchboard_bytes_out_total", "counter", "Bytes written to sockets by WebSocket and SSE sessions.", v(bytesOut) + double(wsWrites.bytes));
    metric(out, "switchboard_socket_writes_total", "counter", "Socket writes (each carries a batch of frames).", v(writeBatches) + double(wsWrites.writes));
    metric(out, "switchboard_flush_rounds_total", "counter", "Handlers that wrote every WebSocket session given frames since the last one (one io thread).", v(flushRounds));
    metric(out, "switchboard_hub_frames_out_total", "counter", "Frames queued to sessions by the hub.", double(hub.framesOut));
    metric(out, "switchboard_hub_bytes_out_total", "counter", "Bytes queued to sessions by the hub.", double(hub.bytesOut));
    metric(out, "switchboard_publications_total", "counter", "Publications fanned out by the hub.", double(hub.publications));
    metric(out, "switchboard_drops_total", "counter", "Frames dropped by full outboxes, or evicted from them (drop-oldest).", double(hub.drops));
    metric(out, "switchboard_conflated_total", "counter", "Pending frames replaced by a newer frame of their key (latest-only).", double(hub.conflated));
    metric(out, "switchboard_slow_disconnects_total", "counter", "Sessions closed 3001 for a full outbox.", double(hub.slowDisconnects));
    metric(out, "switchboard_auth_failures_total", "counter", "Refused tokens and joins (WebSocket and SSE).", double(hub.authFailures));
    metric(out, "switchboard_shutdown_refusals_total", "counter", "Connects refused with 3000 during shutdown (the Hub is closed).", double(protocol.shutdownRefusals));
    metric(out, "switchboard_connect_auth_timeouts_total", "counter", "Connects whose authentication did not finish within its deadline (close 3008).", double(protocol.connectAuthTimeouts));
    metric(out, "switchboard_early_frames_refused_total", "counter", "Frames refused (429) while their connect was being authenticated, over the bound.", double(protocol.earlyFramesRefused));
    metric(out, "switchboard_auth_timeouts_total", "counter", "Joins refused because the authorizer did not answer in time (504).", double(hub.authTimeouts));
    metric(out, "switchboard_history_evictions_total", "counter", "Channels whose published history was evicted by the stream limit (epoch and history lost).", double(hub.historyEvictions));
    metric(out, "switchboard_idempotent_duplicates_total", "counter", "Publishes answered with the offset of an earlier publication with the same idempotency key (not delivered again).", double(hub.idempotentDuplicates));
    metric(out, "switchboard_idempotency_keys_evicted_total", "counter", "Idempotency keys forgotten before their window ended (the key bound was reached).", double(hub.idempotencyKeysEvicted));
    metric(out, "switchboard_invalid_idempotency_keys_total", "counter", "Publishes refused (400) for an invalid idempotencyKey.", double(protocol.invalidIdempotencyKeys));
    metric(out, "switchboard_api_auth_failures_total", "counter", "HTTP API calls without a valid API key.", v(apiAuthFailures));
    metric(out, "switchboard_protocol_errors_total", "counter", "Error frames sent for bad client frames.", double(protocol.protocolErrors));
    metric(out, "switchboard_rate_limited_total", "counter", "Operations refused by the per-connection rate limit (429).", double(protocol.rateLimited));
    metric(out, "switchboard_flood_disconnects_total", "counter", "Rate-limited clients closed with 3005.", double(protocol.floodDisconnects));
    metric(out, "switchboard_control_frames_in_total", "counter", "WebSocket pings and pongs received from clients.", double(protocol.controlFramesIn));
    metric(out, "switchboard_control_rate_limited_total", "counter", "Client pings and pongs refused by the per-connection rate limit (no pong sent).", double(protocol.controlRateLimited));
    metric(out, "switchboard_oversize_frames_total", "counter", "WebSocket messages over the size limit (close 1009).", v(wsOversize) + double(protocol.oversizeFrames));
    metric(out, "switchboard_websocket_deflate_sessions_total", "counter", "WebSocket upgrades that negotiated permessage-deflate.", v(wsDeflateSessions));
    metric(out, "switchboard_websocket_binary_encoding_sessions_total", "counter", "WebSocket upgrades that negotiated the binary encoding (switchboard.v1.binary).", v(wsBinaryEncodingSessions));
    metric(out, "switchboard_websocket_deflate_compressions_total", "counter", "Publications marked compress compressed (once each; every deflate subscriber gets the same bytes).", v(wsDeflateCompressions));
    metric(out, "switchboard_websocket_deflate_frames_out_total", "counter", "Compressed (RSV1) frames written.", v(wsDeflateFramesOut));
    metric(out, "switchboard_websocket_deflate_bytes_saved_total", "counter", "Payload bytes compressed frames saved over sending them uncompressed.", v(wsDeflateBytesSaved));
    metric(out, "switchboard_websocket_deflate_messages_in_total", "counter", "Compressed client messages decompressed.", v(wsDeflateMessagesIn));
    metric(out, "switchboard_websocket_inflate_refused_total", "counter", "Compressed client messages that inflated past the frame size limit (close 1009).", v(wsInflateRefused));
    metric(out, "switchboard_invalid_utf8_total", "counter", "Text messages with invalid UTF-8 (close 1007).", v(wsInvalidUtf8) + double(protocol.invalidUtf8));
    metric(out, "switchboard_websocket_protocol_violations_total", "counter", "WebSocket framing violations (close 1002).", v(wsProtocolViolations));
    metric(out, "switchboard_websocket_pongs_coalesced_total", "counter", "Pongs replaced by a later ping's pong before they were written (RFC 6455 5.5.3).", v(wsPongsCoalesced));
    metric(out, "switchboard_websocket_pongs_dropped_total", "counter", "Pongs not sent because the connection's outbox byte limit was reached.", v(wsPongsDropped));
    metric(out, "switchboard_websocket_pings_sent_total", "counter", "Pings sent by the server to silent WebSocket connections.", v(wsPingsSent));
    metric(out, "switchboard_websocket_idle_timeouts_total", "counter", "WebSocket connections closed 3002: nothing received within the idle timeout.", v(wsIdleTimeouts));
    metric(out, "switchboard_websocket_handshakes_refused_total", "counter", "WebSocket upgrades refused: Sec-WebSocket-Key not 16 bytes in base64 (400) or Sec-WebSocket-Version not 13 (426).", v(wsHandshakeRefused));
    metric(out, "switchboard_websocket_write_timeouts_total", "counter", "WebSocket connections aborted: bytes pending and no write progress within the write timeout.", v(wsWriteTimeouts));
    metric(out, "switchboard_requests_total", "counter", "Request frames handled by server handlers.", double(protocol.requests));
    metric(out, "switchboard_http_requests_total", "counter", "HTTP requests parsed.", v(httpRequests));
    metric(out, "switchboard_http_malformed_total", "counter", "Unparseable HTTP requests (400).", v(httpMalformed));
    metric(out, "switchboard_http_body_too_large_total", "counter", "HTTP bodies over the limit (413).", v(httpTooLarge));
    metric(out, "switchboard_api_publications_total", "counter", "Publications made through the HTTP API.", v(apiPublications));
    metric(out, "switchboard_api_subscription_changes_total", "counter", "Server-side subscribes and unsubscribes made through the HTTP API (200).", v(apiSubscriptionChanges));
    metric(out, "switchboard_api_subscription_refusals_total", "counter", "HTTP API subscribes and unsubscribes refused (400 body, 404 session, 409 limit, 422 channel, 503 closed).", v(apiSubscriptionRefusals));
    metric(out, "switchboard_numbers_out_of_range_total", "counter", "Frames (400) and HTTP API bodies (422) refused for a number out of range.", v(apiNumbersOutOfRange) + double(protocol.numbersOutOfRange));
    metric(out, "switchboard_rejected_server_full_total", "counter", "Connections refused by the connection limit.", v(rejectedFull));
    metric(out, "switchboard_rejected_shutdown_total", "counter", "WebSocket upgrades refused with 3000 during the shutdown drain.", v(rejectedShutdown));
    metric(out, "switchboard_rejected_origin_total", "counter", "Upgrades refused for their Origin.", v(rejectedOrigin));
    metric(out, "switchboard_tls_handshake_failures_total", "counter", "Failed TLS handshakes.", v(tlsHandshakeFailures));
    metric(out, "switchboard_sse_events_total", "counter", "Server-Sent Events written.", v(sseEvents));
    metric(out, "switchboard_filter_evaluations_total", "counter", "Content filter checks: one per distinct filter of a channel per publication.", double(hub.filterEvaluations));
    metric(out, "switchboard_channel_authorization_hints_total", "counter", "`expiring` frames sent for subscriptions whose authorization ends (subscribe proxy `expiresIn`).", double(hub.channelAuthorizationHints));
    metric(out, "switchboard_channel_authorization_refreshes_total", "counter", "Channel `refresh` frames allowed: the subscription's authorization extended.", double(hub.channelAuthorizationRefreshes));
    metric(out, "switchboard_channel_authorization_refresh_failures_total", "counter", "Channel `refresh` frames refused (the old expiry stays).", double(hub.channelAuthorizationRefreshFailures));
    metric(out, "switchboard_channel_authorization_expirations_total", "counter", "Subscriptions ended (error 401, unsubscribed) because their authorization expired.", double(hub.channelAuthorizationExpirations));
    metric(out, "switchboard_latest_delivered_total", "counter", "Subscribes (WebSocket `latest`, SSE `latest=1`) answered with the channel's newest publication.", double(hub.latestDelivered));
    metric(out, "switchboard_join_hold_overflows_total", "counter", "Joins closed with 3007: more live publications arrived while they waited for their history read than the hold keeps.", double(hub.joinHoldOverflows));
    metric(out, "switchboard_filtered_total", "counter", "Deliveries withheld by content filters (WebSocket and SSE subscribers).", double(hub.filteredOut));
    metric(out, "switchboard_reply_slots_opened_total", "counter", "Publishes with wantReply given a reply token.", double(hub.replySlotsOpened));
    metric(out, "switchboard_reply_slots_refused_total", "counter", "Publishes with wantReply refused 429: the session had the most publications waiting for a reply.", double(hub.replySlotsRefused));
    metric(out, "switchboard_replies_routed_total", "counter", "Client replies handed to the engine for the publisher's node.", double(hub.repliesRouted));
    metric(out, "switchboard_replies_delivered_total", "counter", "Client replies delivered to their publishing session (on this node).", double(hub.repliesDelivered));
    header(out, "switchboard_replies_dropped_total", "counter", "Client replies dropped, by reason: unknown slot (forged or long gone), expired, already answered, publisher gone, unroutable.");
    line(out, "switchboard_replies_dropped_total", "reason=\"unknown\"", double(hub.repliesDroppedUnknown));
    line(out, "switchboard_replies_dropped_total", "reason=\"expired\"", double(hub.repliesDroppedExpired));
    line(out, "switchboard_replies_dropped_total", "reason=\"answered\"", double(hub.repliesDroppedAnswered));
    line(out, "switchboard_replies_dropped_total", "reason=\"gone\"", double(hub.repliesDroppedGone));
    line(out, "switchboard_replies_dropped_total", "reason=\"unroutable\"", double(hub.repliesDroppedUnroutable));
    metric(out, "switchboard_invalid_filters_total", "counter", "Subscribes (400 error frame) and SSE streams (400) refused for an invalid filter.", double(protocol.invalidFilters) + v(sseInvalidFilters));
    metric(out, "switchboard_token_refresh_hints_total", "counter", "`expiring` frames sent to WebSocket sessions before their token's expiry.", double(protocol.tokenRefreshHints));
    metric(out, "switchboard_token_refreshes_total", "counter", "`refresh` frames accepted: a WebSocket session's token expiry replaced without reconnecting.", double(protocol.tokenRefreshes));
    metric(out, "switchboard_token_refresh_failures_total", "counter", "`refresh` frames refused (invalid, expired, another user's token, authenticator unavailable).", double(protocol.tokenRefreshFailures));
    metric(out, "switchboard_token_expirations_total", "counter", "Sessions closed 3004 when their token expired (WebSocket and SSE).", double(protocol.tokenExpirations) + v(sseTokenExpirations));
    metric(out, "switchboard_http_header_timeouts_total", "counter", "Connections closed without a complete HTTP request within the header timeout.", v(httpHeaderTimeouts));
    metric(out, "switchboard_http_idle_timeouts_total", "counter", "Keep-alive connections closed idle between requests.", v(httpIdleTimeouts));
    metric(out, "switchboard_rejected_tcp_limit_total", "counter", "Connections refused by the TCP connection limit (503, closed).", v(rejectedTcpLimit));
    metric(out, "switchboard_http_idle_evictions_total", "counter", "Idle HTTP connections closed near the TCP connection limit to make room.", v(httpIdleEvictions));
    metric(out, "switchboard_accept_errors_total", "counter", "Failed accepts (out of file descriptors, ...); the listener backs off and retries.", v(acceptErrors));
    metric(out, "switchboard_http_write_timeouts_total", "counter", "HTTP responses dropped after no write progress for the write timeout.", v(httpWriteTimeouts));
    metric(out, "switchboard_sse_write_timeouts_total", "counter", "SSE streams dropped after no write progress for the write timeout.", v(sseWriteTimeouts));
    metric(out, "switchboard_static_refused_total", "counter", "Static file paths refused (dot names, outside the static root): 404.", v(staticRefused));
    metric(out, "switchboard_static_precompressed_total", "counter", "Static files sent as a precompressed variant (FILE.br, FILE.gz) the request accepted.", v(staticPrecompressed));
    metric(out, "switchboard_static_not_modified_total", "counter", "Static file requests answered 304 Not Modified (If-None-Match matched the ETag).", v(staticNotModified));
    metric(out, "switchboard_webhook_sent_total", "counter", "Webhook events delivered (2xx answers).", v(webhookSent));
    metric(out, "switchboard_webhook_requests_total", "counter", "Webhook batches delivered (2xx answers).", v(webhookRequests));
    metric(out, "switchboard_webhook_failed_total", "counter", "Webhook events given up: refused with 4xx, or still failing after every retry.", v(webhookFailed));
    metric(out, "switchboard_webhook_retried_total", "counter", "Webhook requests retried after a connection error, timeout, unparseable answer or 5xx.", v(webhookRetried));
    metric(out, "switchboard_webhook_dropped_total", "counter", "Webhook events dropped from a full queue (the oldest waiting event).", v(webhookDropped));
    metric(out, "switchboard_systemd_watchdog_missed_total", "counter", "systemd watchdog rounds without WATCHDOG=1 because an io thread did not answer its probe (a hung event loop).", v(systemdWatchdogMissed));
    metric(out, "switchboard_webhook_queue_depth", "gauge", "Webhook events waiting to be sent (every URL).", v(webhookQueued));
    renderBackend(out, "switchboard_rpc",
                  {"Client requests handed to the RPC proxy (--rpc-proxy), busy refusals included.",
                   "RPC proxy requests answered with an error reply, by reason (timeouts and busy refusals are counted apart).",
                   "RPC proxy requests without a whole answer within --rpc-timeout (504).",
                   "RPC proxy requests refused over --rpc-concurrency (503).",
                   "RPC proxy requests waiting for the backend.",
                   "RPC proxy round trip to the backend (busy refusals excluded)."},
                  rpc);
    metric(out, "switchboard_connect_proxy_accepted_total", "counter", "Connects the connect proxy accepted (as a user or anonymous).", v(connectProxyAccepted));
    metric(out, "switchboard_connect_proxy_refused_total", "counter", "Connects the connect proxy refused: 401/403 or {\"allow\": false} (close 3501).", v(connectProxyRefused));
    renderBackend(out, "switchboard_connect_proxy",
                  {"Connects handed to the connect proxy (--connect-proxy), busy refusals included.",
                   "Connects closed 3008 because the connect proxy failed, by reason (timeouts and busy refusals are counted apart).",
                   "Connect proxy requests without a whole answer within --connect-proxy-timeout (close 3008).",
                   "Connects refused over --connect-proxy-concurrency (close 3008).",
                   "Connect proxy requests waiting for the backend.",
                   "Connect proxy round trip to the backend (busy refusals excluded)."},
                  connectProxy);
    metric(out, "switchboard_subscribe_proxy_allowed_total", "counter", "Subscribe proxy joins the backend allowed.", v(subscribeProxyAllowed));
    metric(out, "switchboard_subscribe_proxy_denied_total", "counter", "Subscribe proxy joins the backend refused (allow false, 401, 403).", v(subscribeProxyDenied));
    metric(out, "switchboard_subscribe_proxy_abandoned_total", "counter", "Subscribe proxy answers that came after the session had left (its join was cancelled).", v(subscribeProxyAbandoned));
    renderBackend(out, "switchboard_subscribe_proxy",
                  {"Private/presence joins handed to the subscribe proxy (--subscribe-proxy), busy refusals included.",
                   "Subscribe proxy joins refused 502 because the backend failed, by reason (timeouts and busy refusals are counted apart).",
                   "Subscribe proxy requests without a whole answer within --subscribe-proxy-timeout (504).",
                   "Subscribe proxy joins refused over --subscribe-proxy-concurrency (503).",
                   "Subscribe proxy requests waiting for the backend.",
                   "Subscribe proxy round trip to the backend (busy refusals excluded)."},
                  subscribeProxy);
    fanoutSeconds.render(out, "switchboard_fanout_seconds", "Core time per HTTP publish: encode once and queue to every subscriber.");
    batchFrames.render(out, "switchboard_write_batch_frames", "Frames per socket write.", wsWrites.batchSizes,
                       double(wsWrites.frames));
    return out;
}

void Metrics::renderPusherMetrics(std::string &out, const PusherCounters &p, std::size_t connections)
{
    metric(out, "switchboard_pusher_connections", "gauge", "Pusher protocol connections open.", double(connections));
    metric(out, "switchboard_pusher_connections_total", "counter", "Pusher protocol connections accepted (connection_established).", double(p.connections));
    metric(out, "switchboard_pusher_refused_connections_total", "counter", "Pusher connections refused: unknown app key (4001), missing or unsupported protocol (4008, 4007).", double(p.unknownApps + p.unsupportedProtocol));
    metric(out, "switchboard_pusher_frames_in_total", "counter", "Messages received from Pusher clients.", double(p.framesIn));
    metric(out, "switchboard_pusher_errors_total", "counter", "pusher:error frames sent for bad input or refusals.", double(p.errors));
    metric(out, "switchboard_pusher_malformed_total", "counter", "Pusher client messages that are not a Pusher event (pusher:error).", double(p.malformed));
    metric(out, "switchboard_pusher_subscription_errors_total", "counter", "Pusher subscribes refused with pusher:subscription_error (signature, channel name, limits).", double(p.subscriptionErrors));
    metric(out, "switchboard_pusher_client_events_total", "counter", "client-* events published by Pusher clients.", double(p.clientEvents));
    metric(out, "switchboard_pusher_client_events_refused_total", "counter", "client-* events refused: public channel or not subscribed (pusher:error).", double(p.clientEventsRefused));
    metric(out, "switchboard_pusher_client_events_rate_limited_total", "counter", "client-* events over the per-connection rate (pusher:error 4301).", double(p.clientEventsRateLimited));
    metric(out, "switchboard_pusher_rate_limited_total", "counter", "Pusher client messages over the per-connection rate (pusher:error).", double(p.rateLimited));
    metric(out, "switchboard_pusher_flood_disconnects_total", "counter", "Pusher connections closed 4100 after repeated refusals.", double(p.floodDisconnects));
    metric(out, "switchboard_pusher_pings_sent_total", "counter", "pusher:ping sent to connections silent for the activity timeout.", double(p.pingsSent));
    metric(out, "switchboard_pusher_pong_timeouts_total", "counter", "Pusher connections closed 4201: no answer to pusher:ping.", double(p.pongTimeouts));
}

void Metrics::renderPusherApiMetrics(std::string &out) const
{
    const auto v = [](const Counter &c) { return double(c.load(std::memory_order_relaxed)); };
    metric(out, "switchboard_pusher_api_requests_total", "counter", "Pusher HTTP API requests answered (any status).", v(pusherApiRequests));
    metric(out, "switchboard_pusher_api_events_total", "counter", "Events published through the Pusher HTTP API (one per channel).", v(pusherApiEvents));
    metric(out, "switchboard_pusher_api_auth_failures_total", "counter", "Pusher HTTP API requests refused 401: signature, auth_key, auth_timestamp, auth_version or body_md5.", v(pusherApiAuthFailures));
    metric(out, "switchboard_pusher_api_unknown_apps_total", "counter", "Pusher HTTP API requests refused 404: unknown app id.", v(pusherApiUnknownApps));
    metric(out, "switchboard_pusher_api_too_large_total", "counter", "Pusher HTTP API requests refused 413: an event's data over the limit.", v(pusherApiTooLarge));
    metric(out, "switchboard_pusher_api_bad_requests_total", "counter", "Pusher HTTP API requests refused 400: malformed body, bad names, a batch over 10 events.", v(pusherApiBadRequests));
}

} // namespace switchboard::asio
