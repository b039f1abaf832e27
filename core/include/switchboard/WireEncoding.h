#pragma once
// WireEncoding: how a connection's protocol frames travel, chosen at the WebSocket upgrade by
// subprotocol (docs/protocol.md, "Binary encoding"). Transports negotiate it; BinaryEncoding.h
// holds the encoding itself.

#include <string_view>

namespace switchboard {

/// The subprotocol a client offers (Sec-WebSocket-Protocol) to get the binary encoding.
inline constexpr std::string_view kBinarySubprotocol = "switchboard.v1.binary";

/// JSON text (the default, no subprotocol) or the binary encoding (`switchboard.v1.binary`).
enum class WireEncoding : unsigned char { Json, Binary };

/// Picks the encoding from a Sec-WebSocket-Protocol request header: a comma-separated list
/// (several headers are joined with commas). Binary when it offers kBinarySubprotocol; the
/// server then answers with that subprotocol, and with none for Json.
WireEncoding negotiateWireEncoding(std::string_view offeredSubprotocols);

} // namespace switchboard
