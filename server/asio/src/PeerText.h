#pragma once
// PeerText: how a log line names the remote end of a connection, `address:port`.
//
// A long-lived connection keeps its peer as the endpoint (28 bytes, no heap) and formats it only
// when it writes a line: the text of most addresses is past std::string's 15 characters kept in
// place ("192.168.1.23:54321", any IPv6 address), so holding it would cost a heap block per
// connection besides the string's 32 bytes.

#include <boost/asio/ip/tcp.hpp>

#include <string>

namespace switchboard::asio {

inline std::string peerText(const boost::asio::ip::tcp::endpoint &endpoint)
{
    if (endpoint.port() == 0)
        return "?"; // unknown: the socket was gone before its peer was read
    return endpoint.address().to_string() + ':' + std::to_string(endpoint.port());
}

} // namespace switchboard::asio
