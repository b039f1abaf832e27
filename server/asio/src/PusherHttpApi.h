#pragma once
// PusherHttpApi: the Pusher Channels HTTP API under /apps/{app_id}/ (docs/pusher.md, "HTTP API"),
// as Pusher server SDKs call it (pusher-http-node, pusher-http-php: Laravel's `pusher`
// broadcaster): POST events and batch_events, GET channels, channels/{name} and
// channels/{name}/users, each request signed with the app's secret (Pusher's query signature).
// Events are published on the Hub under the native names PusherNames.h gives them, so Pusher and
// native subscribers alike receive them.

#include "HttpApi.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace switchboard::asio {

/// True for paths under /apps/ when at least one Pusher app is configured.
bool isPusherApiPath(const ServerContext &context, std::string_view path);

/// Answers one /apps/... request exactly once through `respond` (which may be called under the
/// core lock: it must only post the response). `peer` names the client in refusal log lines.
/// Statuses: 404 unknown app or endpoint, 405 wrong method, 401 a signature, key, version,
/// timestamp or body_md5 that does not check out, 400 a malformed request, 413 an event's data
/// over GatewayConfig::pusherMaxEventBytes, 503 the engine refused a publication.
void handlePusherApi(ServerContext &context, const Request &request, const boost::urls::url_view &url,
                     std::string_view peer, Respond respond);

/// Why a request's Pusher signature does not check out; nullopt when it does.
/// `nowSeconds` is the gateway's Unix time; `auth_timestamp` may differ from it by 600 s at most.
/// The signed string is "METHOD\nPATH\nQUERY", QUERY being the decoded query parameters other
/// than auth_signature, keys lowercased, sorted by key, joined as k=v with '&'.
/// Thread safety: a pure function.
std::optional<std::string> pusherRequestProblem(std::string_view key, std::string_view secret, std::string_view method,
                                                const boost::urls::url_view &url, std::string_view body,
                                                std::int64_t nowSeconds);

} // namespace switchboard::asio
