#pragma once
// ConnectProxy: authenticates WebSocket connects by POSTing them to the application backend
// (--connect-proxy URL): the backend decides from the connect frame's token and `data` and a
// fixed selection of the upgrade request's headers. Runs its HTTP exchanges on its own thread
// and io_context (like RpcProxy), so a slow, down or misbehaving backend never holds up the io
// threads or the core.

#include "BackendClient.h"
#include "HttpPost.h"
#include "Metrics.h"

#include <switchboard/ServerProtocol.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace switchboard::asio {

struct ConnectProxyOptions {
    std::string url;                         ///< http[s]://HOST[:PORT]/PATH
    std::chrono::milliseconds timeout{5000}; ///< per connect: connect, send, answer
    std::size_t concurrency = 64;            ///< requests in flight at most; more: refused at once
    std::size_t maxAnswerBytes = 64 * 1024;  ///< larger answers: invalid
    BackendTlsOptions tls;                   ///< https://: extra CA, client certificate
    std::string signingSecret;               ///< not empty: requests signed (RequestSigner.h)
};

/// One connect as the backend receives it.
struct ConnectCall {
    std::string session;   ///< the id the session gets if accepted
    std::string client;    ///< the connect frame's `name`; empty: none (sent as null)
    std::string token;     ///< empty: none (sent as null)
    std::string data;      ///< JSON text of the connect `data`; empty: none (sent as null)
    std::vector<std::pair<std::string, std::string>> headers; ///< lower-case names
    std::string transport; ///< "websocket"
    std::string remote;    ///< the peer's address
    /// A `refresh` of a connected session (sent as `"refresh":true`; headers, transport and
    /// remote are then unknown): the answer's user must be the session's.
    bool refresh = false;
};

/// Backend answer -> decision (ServerProtocol closes 3501 for `accepted == false`, 3008 for
/// `unavailable`):
///  - 2xx with a JSON object: {"allow": false, "reason"?} refuses (3501); else "user" (a string,
///    "" for anonymous) accepts, with "info" (any JSON) as the user info for presence and
///    "channels" (strings: topic filters) as the private/presence channels it may join; an
///    object without a string "user", or anything else: invalid (3008);
///  - 401 or 403: refused (3501), the reason from a JSON body's "reason" or "message";
///  - any other status, cannot connect, not HTTP: 3008 "connect proxy unavailable";
///  - no whole answer within the timeout: 3008 "connect proxy timed out";
///  - over the concurrency limit: 3008 "connect proxy busy", without contacting the backend.
/// Counted in Metrics connectProxy*.
///
/// Thread safety: call() from any thread (never blocks: it posts to the proxy's thread); `done`
/// runs on the proxy's thread. Construction and stop() from one thread; after stop() pending
/// calls never complete.
class ConnectProxy {
public:
    /// Throws std::invalid_argument for a URL it cannot use.
    ConnectProxy(ConnectProxyOptions options, Metrics &metrics);
    ~ConnectProxy();
    ConnectProxy(const ConnectProxy &) = delete;
    ConnectProxy &operator=(const ConnectProxy &) = delete;

    /// Sends `call` to the backend; `done` gets the decision. Returns false, without calling
    /// `done`, when `concurrency` requests are in flight already: answer busyDecision() then.
    [[nodiscard]] bool call(ConnectCall call, std::function<void(ConnectDecision)> done);
    /// 3008 "connect proxy busy".
    static ConnectDecision busyDecision();
    /// Stops the thread; exchanges still in flight are abandoned (their `done` never runs).
    void stop();

    const ConnectProxyOptions &options() const { return m_options; }
    /// The JSON body POSTed for `call`.
    static std::string requestBody(const ConnectCall &call);
    /// The decision for a backend answer (see the class comment).
    static ConnectDecision decisionOf(const HttpPostResult &result);

    /// The upgrade request headers passed to the backend (lower-case), and nothing else:
    /// authorization, cookie, origin, referer, user-agent, accept-language,
    /// sec-websocket-protocol, x-forwarded-for, x-forwarded-proto, x-forwarded-host,
    /// x-real-ip, forwarded.
    static bool forwardsHeader(std::string_view lowerCaseName);

private:
    ConnectProxyOptions m_options;
    Metrics &m_metrics;
    BackendClient m_client; // its thread runs the exchanges; stopped first
};

} // namespace switchboard::asio
