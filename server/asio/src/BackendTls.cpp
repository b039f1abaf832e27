#include "BackendTls.h"

#include <boost/asio/ssl/context.hpp>

#include <openssl/ssl.h>

#include <stdexcept>

namespace switchboard::asio {

namespace ssl = boost::asio::ssl;

std::shared_ptr<ssl::context> makeBackendTlsContext(const BackendTlsOptions &options)
{
    auto context = std::make_shared<ssl::context>(ssl::context::tls_client);
    SSL_CTX_set_min_proto_version(context->native_handle(), TLS1_2_VERSION);
    context->set_verify_mode(ssl::verify_peer);
    boost::system::error_code ec;
    context->set_default_verify_paths(ec);
    if (ec)
        throw std::runtime_error("cannot use the system trust store for https:// backends: " + ec.message());
    if (!options.caFile.empty()) {
        context->load_verify_file(options.caFile, ec);
        if (ec)
            throw std::runtime_error("--backend-ca " + options.caFile + ": " + ec.message());
    }
    if (options.certFile.empty() != options.keyFile.empty())
        throw std::runtime_error("--backend-cert and --backend-key go together");
    if (!options.certFile.empty()) {
        context->use_certificate_chain_file(options.certFile, ec);
        if (ec)
            throw std::runtime_error("--backend-cert " + options.certFile + ": " + ec.message());
        context->use_private_key_file(options.keyFile, ssl::context::pem, ec);
        if (ec)
            throw std::runtime_error("--backend-key " + options.keyFile + ": " + ec.message());
    }
    return context;
}

std::shared_ptr<ssl::context> backendTlsContextFor(bool anyHttps, const BackendTlsOptions &options)
{
    return anyHttps || options.any() ? makeBackendTlsContext(options) : nullptr;
}

} // namespace switchboard::asio
