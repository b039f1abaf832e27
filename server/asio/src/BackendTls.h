#pragma once
// BackendTls: the client TLS context of an outbound HTTP client (webhooks, the RPC proxy, any
// proxy built on HttpPost) for https:// backends. Built once per client object at start.

#include <memory>
#include <string>

namespace boost::asio::ssl {
class context;
}

namespace switchboard::asio {

/// --backend-ca / --backend-cert / --backend-key: one setting for every outbound HTTP client.
struct BackendTlsOptions {
    /// PEM CAs trusted in addition to the system trust store (private CAs, tests); empty: none.
    std::string caFile;
    /// Client certificate chain and its key (PEM) for backends that require one; both or none.
    std::string certFile;
    std::string keyFile;

    bool any() const { return !caFile.empty() || !certFile.empty() || !keyFile.empty(); }
};

/// A TLS client context: TLS 1.2 at least, the peer's certificate verified against the system
/// trust store plus `caFile` (HttpPost adds SNI and the host name or IP address the certificate
/// must carry per request). Throws std::runtime_error naming the flag and the file when a CA file,
/// certificate or key cannot be loaded.
///
/// Thread safety: the context is read-only once built; connections on any thread may share it.
std::shared_ptr<boost::asio::ssl::context> makeBackendTlsContext(const BackendTlsOptions &options);

/// What a client builds at start and sets as HttpPostRequest::tls on each request: the context
/// when one of its URLs is https:// or a TLS file is given (so a bad file fails the start even
/// with http:// URLs only), else null. Throws like makeBackendTlsContext().
std::shared_ptr<boost::asio::ssl::context> backendTlsContextFor(bool anyHttps, const BackendTlsOptions &options);

} // namespace switchboard::asio
