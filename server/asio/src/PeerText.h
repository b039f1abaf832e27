#pragma once
// PeerText: how a log line names the remote end of a connection, `address:port`.
//
// A long-lived connection keeps its peer as a PeerAddress (18 bytes, no heap, no alignment
// beyond 2) and formats it only when it writes a line: the text of most addresses is past
// std::string's 15 characters kept in place ("192.168.1.23:54321", any IPv6 address), so holding
// it would cost a heap block per connection besides the string's 32 bytes, and Asio's endpoint
// is a 28-byte sockaddr union aligned to 4.

#include <boost/asio/ip/tcp.hpp>

#include <array>
#include <cstdint>
#include <string>

namespace switchboard::asio {

inline std::string peerText(const boost::asio::ip::tcp::endpoint &endpoint)
{
    if (endpoint.port() == 0)
        return "?"; // unknown: the socket was gone before its peer was read
    return endpoint.address().to_string() + ':' + std::to_string(endpoint.port());
}

/// A peer's address and port in 18 bytes: an IPv4 address as its IPv4-mapped IPv6 form, so
/// endpoint() gives back what was stored (a peer that was itself IPv4-mapped IPv6 reads back as
/// IPv4, the same host). Port 0: unknown.
class PeerAddress {
public:
    PeerAddress() noexcept = default;
    explicit PeerAddress(const boost::asio::ip::tcp::endpoint &endpoint) noexcept
    {
        const boost::asio::ip::address address = endpoint.address();
        m_bytes = address.is_v4()
            ? boost::asio::ip::make_address_v6(boost::asio::ip::v4_mapped, address.to_v4()).to_bytes()
            : address.to_v6().to_bytes();
        m_port[0] = static_cast<std::uint8_t>(endpoint.port() >> 8);
        m_port[1] = static_cast<std::uint8_t>(endpoint.port() & 0xff);
    }

    boost::asio::ip::tcp::endpoint endpoint() const
    {
        const boost::asio::ip::address_v6 v6(m_bytes);
        const auto port = static_cast<std::uint16_t>(m_port[0] << 8 | m_port[1]);
        if (v6.is_v4_mapped())
            return {boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, v6), port};
        return {v6, port};
    }

private:
    boost::asio::ip::address_v6::bytes_type m_bytes{};
    std::array<std::uint8_t, 2> m_port{};
};
static_assert(sizeof(PeerAddress) == 18 && alignof(PeerAddress) == 1);

inline std::string peerText(const PeerAddress &peer) { return peerText(peer.endpoint()); }

} // namespace switchboard::asio
