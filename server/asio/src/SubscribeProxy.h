#pragma once
// SubscribeProxy: decides private and presence joins by POSTing them to the application backend
// (--subscribe-proxy URL), which also names the presence member's info. Runs its HTTP exchanges
// on its own thread and io_context, so a slow, down or misbehaving backend never holds up the io
// threads or the core: the Hub's asynchronous authorizer waits for the answer.

#include "BackendClient.h"
#include "HttpPost.h"
#include "Metrics.h"

#include <switchboard/Authorizer.h>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

namespace switchboard::asio {

struct SubscribeProxyOptions {
    std::string url;                         ///< http(s)://HOST[:PORT]/PATH
    std::chrono::milliseconds timeout{5000}; ///< per join: connect, send, answer
    std::size_t concurrency = 64;            ///< requests in flight at most; more: 503 at once
    std::size_t maxAnswerBytes = 64 * 1024;  ///< larger answers: 502
    BackendTlsOptions tls;                   ///< https://: extra CA, client certificate
    std::string signingSecret;               ///< not empty: requests signed (RequestSigner.h)
};

/// One join as the backend receives it (copied out of the AuthRequest, which lives only during
/// the authorizer call).
struct SubscribeCall {
    std::string channel;
    ChannelType type = ChannelType::Private;
    std::string user;     ///< user id from the token; empty: anonymous (sent as null)
    std::string userInfo; ///< JSON text from the token; empty: none (sent as null)
    std::string session;
    std::string client;   ///< the connect frame's `name`; empty: none (sent as null)
    std::string auth;     ///< the subscribe frame's `auth`; empty: none (sent as null)
    std::string data;     ///< presence: the subscribe frame's `channelData` (JSON text); empty: null
};

/// Backend answer -> decision (AuthDecision: allowed, or the refusal code and reason):
///  - 2xx with a JSON object whose `allow` is true: allowed. Presence: the member is the
///    answer's `user` (a non-empty string) or else the token's user (else the session id), with
///    the answer's `info` (any JSON) or else the token's info;
///  - 2xx with `allow` false, or 401 / 403: refused 403 (401 stays 401) with the answer's
///    `message` when it has one, else "subscribe proxy denied the join";
///  - 2xx without a JSON object holding a boolean `allow`: 502 "backend answered invalid JSON";
///  - any other status: 502 "backend answered HTTP <status>";
///  - cannot connect: 502 "backend unreachable"; not HTTP or too large: 502 "backend answered
///    invalid HTTP"; no whole answer within the timeout: 504 "backend timed out";
///  - over the concurrency limit: 503 "subscribe proxy busy", without contacting the backend.
/// Counted in Metrics subscribeProxy*: requests, allowed, denied, failed (by reason), timeouts,
/// busy, in flight, latency. Failures are logged at info (rate-limited) with channel, user and
/// session; the client's refusal is logged by its session like every error frame.
///
/// Thread safety: authorize() from any thread (never blocks: it posts to the proxy's thread);
/// `done` runs on the proxy's thread. Construction and stop() from one thread; after stop()
/// pending calls never complete.
class SubscribeProxy {
public:
    /// Throws std::invalid_argument for a URL it cannot use.
    SubscribeProxy(SubscribeProxyOptions options, Metrics &metrics);
    ~SubscribeProxy();
    SubscribeProxy(const SubscribeProxy &) = delete;
    SubscribeProxy &operator=(const SubscribeProxy &) = delete;

    /// Asks the backend about `call`; `done` gets the decision. Returns false, without calling
    /// `done`, when `concurrency` requests are in flight already: answer busyDecision() then.
    [[nodiscard]] bool authorize(SubscribeCall call, std::function<void(AuthDecision)> done);
    /// Refused 503 "subscribe proxy busy".
    static AuthDecision busyDecision();
    /// Stops the thread; exchanges still in flight are abandoned (their `done` never runs).
    void stop();

    const SubscribeProxyOptions &options() const { return m_options; }
    /// The JSON body POSTed for `call`.
    static std::string requestBody(const SubscribeCall &call);
    /// The decision for a backend answer (see the class comment).
    static AuthDecision decisionOf(const HttpPostResult &result, const SubscribeCall &call);

private:
    SubscribeProxyOptions m_options;
    Metrics &m_metrics;
    BackendClient m_client; // its thread runs the exchanges; stopped first
};

} // namespace switchboard::asio
