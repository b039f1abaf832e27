#pragma once
// BackendClient: the part every proxy of the gateway shares (RPC, connect, subscribe): POSTs to
// one application backend on a thread and io_context of its own, at most `concurrency` at a time,
// each counted, timed and, when it fails, counted by how. The proxies build the bodies and turn
// answers into decisions.

#include "BackendTls.h"
#include "HttpPost.h"
#include "Metrics.h"

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <utility>

namespace switchboard::asio {

struct BackendClientOptions {
    std::string url;                          ///< http[s]://HOST[:PORT]/PATH
    std::string flag;                         ///< names the URL in errors, e.g. "--rpc-proxy"
    std::chrono::milliseconds timeout{5000};  ///< per request: connect, TLS, send, answer
    std::size_t concurrency = 64;             ///< requests in flight at most (at least 1)
    std::size_t maxAnswerBytes = 64 * 1024;   ///< larger answers: BadAnswer
    BackendTlsOptions tls;                    ///< https://: extra CA, client certificate
    std::string signingSecret;                ///< not empty: requests signed (RequestSigner.h)
};

/// The BackendClientOptions of a proxy whose options carry the same fields (url, timeout,
/// concurrency, maxAnswerBytes, tls, signingSecret); `flag` names its URL in errors.
template <typename ProxyOptions>
BackendClientOptions backendClientOptions(const ProxyOptions &o, std::string flag)
{
    return BackendClientOptions{o.url, std::move(flag), o.timeout, o.concurrency, o.maxAnswerBytes, o.tls, o.signingSecret};
}

/// Thread safety: post() and countFailure() from any thread; `done` runs on the client's thread.
/// Construction and stop() from one thread; after stop() pending requests never complete.
class BackendClient {
public:
    /// Throws std::invalid_argument for a URL it cannot use, std::runtime_error for TLS files it
    /// cannot load (BackendTls.h).
    BackendClient(BackendClientOptions options, BackendMetrics &metrics);
    ~BackendClient();
    BackendClient(const BackendClient &) = delete;
    BackendClient &operator=(const BackendClient &) = delete;

    /// Counts a request and POSTs `body`; `done` gets the result once the exchange ended (its
    /// slot is free again and its round trip observed). Returns false, without calling `done`,
    /// when `concurrency` requests are in flight already (counted as busy): the caller refuses.
    [[nodiscard]] bool post(std::string body, std::function<void(const HttpPostResult &)> done);
    /// Counts a request whose answer the proxy could not use, by how it failed: timeout,
    /// unreachable, not HTTP or not the expected body (invalid answer), another status.
    void countFailure(const HttpPostResult &result);
    /// Stops the thread; exchanges still in flight are abandoned (their `done` never runs).
    void stop();

    const BackendClientOptions &options() const;

private:
    struct Impl;
    std::unique_ptr<Impl> d;
};

} // namespace switchboard::asio
