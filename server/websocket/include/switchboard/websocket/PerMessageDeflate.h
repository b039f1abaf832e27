#pragma once
// PerMessageDeflate: the RFC 7692 negotiation both gateways share. The client's
// Sec-WebSocket-Extensions offers go in; the first acceptable permessage-deflate offer comes out
// with the response header value.
//
// The gateways always answer `server_no_context_takeover; client_no_context_takeover` (RFC 7692
// 7.1.1: a server may require client_no_context_takeover even when the client did not offer
// it): every message is compressed and decompressed on its own, so a connection keeps no zlib
// state at all. The compressor and decompressor are per thread (MessageDeflate.h), which bounds
// memory by the number of io threads, not by the number of connections, and lets a publication
// be compressed once and the same bytes go to every subscriber.

#include <optional>
#include <string>
#include <string_view>

namespace switchboard::websocket {

struct DeflateOptions {
    bool enabled = true;
    /// Window of the shared compressor, 9-15 (zlib's raw deflate cannot make 8-bit windows). A
    /// smaller window uses less memory per io thread and compresses long messages less.
    int serverMaxWindowBits = 15;
};

/// What was agreed for one connection.
struct DeflateAgreement {
    /// The window the server compresses with (the client decodes with at least this).
    int serverWindowBits = 15;
    /// The Sec-WebSocket-Extensions response value.
    std::string response;
};

/// Parses `offers` (every Sec-WebSocket-Extensions header of the request, joined with ", ") and
/// accepts the first permessage-deflate offer whose parameters are valid and compatible with
/// `options`. An offer with an unknown or repeated parameter or a bad value is declined (RFC
/// 7692 5.1); so is one asking for a server window smaller than `options.serverMaxWindowBits`,
/// because the compressed bytes are shared by every connection. Other extensions are ignored.
std::optional<DeflateAgreement> negotiateDeflate(std::string_view offers, const DeflateOptions &options);

} // namespace switchboard::websocket
