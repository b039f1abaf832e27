#pragma once
// RpcProxy: answers client requests (topics without a handler of their own) by POSTing them to
// the application backend (--rpc-proxy URL). Runs its HTTP exchanges on its own thread and
// io_context, so a slow, down or misbehaving backend never holds up the io threads or the core.

#include "BackendClient.h"
#include "HttpPost.h"
#include "Metrics.h"

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace switchboard::asio {

struct RpcProxyOptions {
    std::string url;                          ///< http[s]://HOST[:PORT]/PATH
    std::chrono::milliseconds timeout{5000};  ///< per request: connect, send, answer
    std::size_t concurrency = 64;             ///< requests in flight at most; more: 503 at once
    std::size_t maxAnswerBytes = 1024 * 1024; ///< larger answers: 502
    BackendTlsOptions tls;                    ///< https://: extra CA, client certificate
    std::string signingSecret;                ///< not empty: requests signed (RequestSigner.h)
};

/// One client request as the backend receives it.
struct RpcCall {
    std::string topic;
    std::string payload;  ///< JSON text
    std::string user;     ///< user id from the token; empty: anonymous (sent as null)
    std::string userInfo; ///< JSON text from the token; empty: none (sent as null)
    std::string session;
    std::string client;   ///< the connect frame's `name`; empty: none (sent as null)
    bool expectsReply = true; ///< false: fire-and-forget (sent as "reply": false)
};

/// The answer to hand to the client: a reply payload, or an error reply.
struct RpcOutcome {
    bool ok = false;
    std::string payload;  ///< ok: JSON text
    int status = 0;       ///< !ok: the error reply's status
    std::string message;  ///< !ok
    std::string trace;    ///< !ok, may be empty
};

/// Backend answer -> client answer:
///  - 2xx with a JSON body: ok, the body is the reply payload (an empty body: null);
///  - 2xx with anything else: 502 "backend answered invalid JSON";
///  - any other status: that status, with `message` and `trace` from a JSON object body when
///    it has them (else "backend answered HTTP <status>");
///  - cannot connect, TLS handshake failed (certificate not trusted, wrong host) or not HTTP:
///    502; no whole answer within the timeout: 504;
///  - over the concurrency limit: 503 "rpc proxy busy", without contacting the backend.
/// Counted in Metrics::rpc (BackendMetrics): requests, failed (by reason), timeouts, busy, in
/// flight, latency.
///
/// Thread safety: call() from any thread (never blocks: it posts to the proxy's thread); `done`
/// runs on the proxy's thread. Construction and stop() from one thread; after stop() pending
/// calls never complete.
class RpcProxy {
public:
    /// Throws std::invalid_argument for a URL it cannot use, std::runtime_error for TLS files it
    /// cannot load (BackendTls.h).
    RpcProxy(RpcProxyOptions options, Metrics &metrics);
    ~RpcProxy();
    RpcProxy(const RpcProxy &) = delete;
    RpcProxy &operator=(const RpcProxy &) = delete;

    /// Sends `call` to the backend; `done` gets the answer. Returns false, without calling
    /// `done`, when `concurrency` requests are in flight already: answer busyOutcome() then.
    [[nodiscard]] bool call(RpcCall call, std::function<void(RpcOutcome)> done);
    /// 503 "rpc proxy busy".
    static RpcOutcome busyOutcome();
    /// Stops the thread; exchanges still in flight are abandoned (their `done` never runs).
    void stop();

    const RpcProxyOptions &options() const { return m_options; }
    /// The JSON body POSTed for `call`.
    static std::string requestBody(const RpcCall &call);
    /// The client's answer for a backend answer (see the class comment).
    static RpcOutcome outcomeOf(const HttpPostResult &result);

private:
    RpcProxyOptions m_options;
    BackendClient m_client; // its thread runs the exchanges; stopped first
};

} // namespace switchboard::asio
