#pragma once
// HttpPost: one HTTP/1.1 POST to an http:// or https:// URL (resolve, connect, TLS handshake,
// write, read the answer) with one deadline over the whole exchange, on the caller's io_context.
// Used by the gateway's outbound clients (webhooks, the RPC proxy, other proxies); the
// connection is closed after each answer. Optionally signs the request (RequestSigner.h).

#include <boost/asio/io_context.hpp>
#include <boost/beast/http/field.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace boost::asio::ssl {
class context;
}

namespace switchboard::asio {

/// An http:// or https:// URL split for a client.
struct HttpUrl {
    std::string url;        ///< as given
    std::string host;       ///< to resolve
    std::string port;       ///< "80" (http) or "443" (https) when the URL has none
    std::string hostHeader; ///< host[:port] as written in the URL
    std::string target;     ///< path and query, "/" when empty
    bool tls = false;       ///< https://

    /// Throws std::invalid_argument naming `flag` for a URL that is not http:// or https://, or
    /// has no host.
    static HttpUrl parse(const std::string &url, const std::string &flag);
};

struct HttpPostResult {
    enum class Outcome {
        Answered,     ///< `status` and `body` hold the answer
        Unreachable,  ///< cannot resolve or connect (refused, no route), or the TLS handshake
                      ///< failed (certificate not trusted, wrong host name): see `error`
        Timeout,      ///< the deadline passed before the whole answer was read
        BadAnswer,    ///< the peer sent something that is not HTTP, too large, or closed early
    };
    Outcome outcome = Outcome::Unreachable;
    unsigned status = 0;
    std::string contentType;
    std::string body;
    std::string error; ///< what went wrong, for logs (empty when Answered)
};

struct HttpPostRequest {
    std::string body;
    std::string contentType = "application/json";
    std::vector<std::pair<std::string, std::string>> headers; ///< extra headers
    std::chrono::milliseconds timeout{5000};                  ///< resolve + connect + write + read
    std::size_t maxAnswerBytes = 1024 * 1024;                 ///< larger answers: BadAnswer
    /// https:// URLs: the client's TLS context (BackendTls.h), built once per client object.
    /// Null: a context shared by the process that trusts the system store only.
    std::shared_ptr<boost::asio::ssl::context> tls;
    /// Not empty: the request carries X-Switchboard-Timestamp and X-Switchboard-Signature,
    /// HMAC-SHA256 over timestamp "." body with this key, made when the request is sent
    /// (RequestSigner.h). Replaces headers of those names in `headers`.
    std::string signingSecret;
};

/// Starts one POST. `done` runs exactly once, on a thread running `ioc`, unless the io_context
/// is stopped and destroyed first (then never). Thread safety: call from a thread running `ioc`
/// or before it runs; the exchange keeps itself alive until `done` has run.
void httpPost(boost::asio::io_context &ioc, const HttpUrl &url, HttpPostRequest request,
              std::function<void(HttpPostResult)> done);

} // namespace switchboard::asio
