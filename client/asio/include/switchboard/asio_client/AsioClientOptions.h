#pragma once
// AsioClientOptions: what an AsioClient needs beyond the transport-agnostic ClientOptions.

#include <switchboard/ClientSession.h>

#include <cstddef>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace switchboard {

/// TLS for wss:// URLs (ignored for ws://).
struct TlsClientOptions {
    /// PEM file of the CAs that may sign the gateway's certificate. Empty: the system trust
    /// store (OpenSSL's default verify paths).
    std::string caFile;
    /// Verify the certificate chain and that it names the URL's host (DNS name or IP address).
    /// On by default; turn it off only for tests against a throwaway certificate.
    bool verifyPeer = true;
    /// Server name sent in SNI and checked against the certificate. Empty: the URL's host
    /// (no SNI is sent for an IP address).
    std::string serverName;
};

/// permessage-deflate (RFC 7692), offered in every upgrade. When the gateway accepts it,
/// publications marked `compress` arrive compressed and are inflated here (ClientEvent::data is
/// the same either way), and messages this client sends of at least `minCompressBytes` go out
/// compressed. Both sides compress every message on its own (client_no_context_takeover and
/// server_no_context_takeover are requested): a connection keeps no compression history between
/// messages, only the buffers of its two zlib streams.
struct DeflateClientOptions {
    /// Offer the extension. On by default; off: the upgrade offers nothing and every message
    /// travels uncompressed.
    bool enabled = true;
    /// Largest window the gateway may compress with (server_max_window_bits, 9-15; values
    /// outside are clamped): bounds this client's inflate window to 2^bits bytes. A gateway
    /// compressing with a larger window (--deflate-window-bits) declines the offer, and the
    /// connection then runs uncompressed.
    int maxWindowBits = 15;
    /// Messages sent by this client shorter than this go out uncompressed (a protocol frame of a
    /// few dozen bytes gains nothing from deflate).
    std::size_t minCompressBytes = 256;
};

struct AsioClientOptions {
    ClientOptions client; ///< URL(s), backoff, timeouts, logger: see ClientSession.h
    TlsClientOptions tls;
    /// Extra headers of the WebSocket upgrade request, e.g. {"Authorization", "Bearer ..."} or
    /// {"Origin", "https://app.example"} (the gateway's --allowed-origins checks Origin).
    std::vector<std::pair<std::string, std::string>> headers;
    /// Largest message accepted from the gateway; a larger one closes the connection with 1009,
    /// which the session does not reconnect from (the same message would come again).
    std::size_t maxMessageBytes = 16 * 1024 * 1024;
    /// Bytes queued for sending before the connection is taken as stuck: it is closed (1006,
    /// "write queue full") and the session reconnects and recovers.
    std::size_t maxWriteQueueBytes = 16 * 1024 * 1024;
    /// permessage-deflate: on by default, see DeflateClientOptions.
    DeflateClientOptions deflate;
    /// Where callbacks (listeners, acks, replies, state changes, subscribe results) run. Empty:
    /// on the client's strand (its io thread). Set: each callback is handed to this function as
    /// a task, e.g. to post it to a GUI or worker loop; the function may be called from the
    /// client's io thread and must not block.
    std::function<void(std::function<void()> task)> callbackExecutor;
};

} // namespace switchboard
