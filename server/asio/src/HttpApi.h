#pragma once
// HttpApi: the REST endpoints under /api (publish, subscribe, unsubscribe, channels, presence,
// history), authenticated by the API key. Also /metrics and /healthz, which need no key.

#include "HttpTypes.h"
#include "ServerContext.h"

#include <boost/url/url_view.hpp>

#include <functional>

namespace switchboard::asio {

/// Called exactly once with the response, possibly from inside the core lock: it must only
/// post the response to the connection's strand, never write.
using Respond = std::function<void(Response)>;

/// `Authorization: Bearer <key>` or `X-API-Key: <key>`, compared in constant time.
bool hasApiKey(const ServerContext &context, const Request &request);

/// /api/... Answers 401 without the key, 404/405 for unknown paths or methods.
void handleApi(ServerContext &context, const Request &request, const boost::urls::url_view &url, Respond respond);

/// /metrics: Prometheus text of the gateway and core counters.
Response metricsResponse(ServerContext &context);
/// /healthz: 200 while serving, 503 once shutting down.
Response healthResponse(ServerContext &context);

} // namespace switchboard::asio
