#pragma once
// BeastClientTransport: core ClientTransport on a Beast WebSocket over TCP (ws://) or TLS (wss://).

#include <switchboard/ClientTransport.h>
#include <switchboard/asio_client/AsioClientOptions.h>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ssl/context.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace switchboard::asioclient {

struct TransportSettings {
    TlsClientOptions tls;
    std::vector<std::pair<std::string, std::string>> headers;
    std::size_t maxMessageBytes = 16 * 1024 * 1024;
    std::size_t maxWriteQueueBytes = 16 * 1024 * 1024;
    DeflateClientOptions deflate;
};

/// One connection at a time; every method and every listener call runs on the strand (not
/// thread-safe). Listener calls never come from inside open()/sendText()/close(). Connections
/// still closing when a new one opens, or when the transport is destroyed, report nothing more.
class BeastClientTransport final : public ClientTransport {
public:
    BeastClientTransport(boost::asio::any_io_executor strand, TransportSettings settings);
    ~BeastClientTransport() override;

    void setListener(ClientTransportListener *listener) override;
    void open(const std::string &url) override;
    void setSubprotocol(std::string_view subprotocol) override;
    std::string negotiatedSubprotocol() const override;
    void sendText(std::string_view text) override;
    void sendBinary(std::string_view bytes) override;
    void close(std::uint16_t code, std::string_view reason) override;

    /// What a connection reports back; checked against the current generation.
    void connectionOpened(std::uint64_t generation);
    void connectionMessage(std::uint64_t generation, std::string_view bytes, bool binary);
    void connectionClosed(std::uint64_t generation, std::uint16_t code, std::string_view reason);

    class Connection; ///< the per-URL state machine (BeastClientTransport.cpp)

private:
    void failLater(std::uint64_t generation, std::string reason);
    boost::asio::ssl::context &tlsContext();

    boost::asio::any_io_executor m_strand;
    TransportSettings m_settings;
    std::unique_ptr<boost::asio::ssl::context> m_tls; ///< made on the first wss:// URL
    std::string m_subprotocol; ///< offered at open(); empty: none
    ClientTransportListener *m_listener = nullptr;
    std::shared_ptr<Connection> m_connection;
    std::uint64_t m_generation = 0;
    std::uint64_t m_reportedGeneration = 0;
    std::shared_ptr<BeastClientTransport *> m_self = std::make_shared<BeastClientTransport *>(this);
};

} // namespace switchboard::asioclient
