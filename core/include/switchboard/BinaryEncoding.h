#pragma once
// BinaryEncoding: protocol v1 in binary, the `switchboard.v1.binary` WebSocket subprotocol
// (docs/protocol.md, "Binary encoding"). The same frames with the same members as the JSON
// encoding, in fewer bytes: a 64-character string published by the server reaches a subscriber
// in 88 bytes on the wire instead of 164 (tests/core/tst_binaryencoding.cpp).
//
// A binary WebSocket message starts with a tag byte:
//   0x01        binary broadcast frame (MessageEncoding.h), unchanged
//   0x02        any frame, as one encoded value (an object, see the .cpp for the value types)
//   0x10..0x1F  a `message` frame in its own layout (the low four bits are flags), which carries
//               the publication's payload verbatim: nothing is parsed or re-serialized to send it
// Text messages stay JSON in both directions on such a connection, so an endpoint may always
// fall back to JSON text for a frame.
//
// Keys and the protocol's own words (op names, channel types, presence events) are sent as one
// byte from a dictionary fixed for `switchboard.v1.binary`; a new word is a new subprotocol name.

#include "switchboard/Frame.h"
#include "switchboard/JsonParse.h"
#include "switchboard/WireEncoding.h"

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace switchboard {

/// `frame` as a binary-encoding connection receives it. A text frame is translated once and the
/// result is kept in its Frame::binary slot, shared by every other binary recipient (safe from
/// any thread); a binary broadcast frame is itself. A text frame that is not a JSON object
/// (never made by Switchboard) is returned as it is: a text frame stays valid JSON there.
const SharedFrame &binaryFormOf(const SharedFrame &frame);

/// Translates a JSON text frame into the binary encoding: a `message` frame made by
/// encodeMessageFrame() into its own layout, any other object member by member. nullopt when
/// `json` is not a JSON object.
std::optional<std::string> translateToBinary(std::string_view json);

/// Encodes `frame` (a protocol frame: an object with `op`) in the binary encoding (tag 0x02).
/// What a client sends on a binary-encoding connection.
std::string encodeBinaryObject(const boost::json::object &frame);

/// True when a binary WebSocket message is a protocol frame of the binary encoding (tag 0x02 or
/// 0x10-0x1F), not a binary broadcast frame (0x01).
bool isBinaryProtocolFrame(std::string_view bytes) noexcept;

/// Decodes a protocol frame of the binary encoding into `out`, allocating from out.storage():
/// the value its JSON text would parse to. Refuses, with the problem parseJson() would give
/// (Syntax for malformed bytes), truncated or trailing bytes, unknown tags, types and dictionary
/// entries, invalid UTF-8, nesting deeper than `maxDepth`, non-finite numbers and embedded JSON
/// text that parseJson() refuses. On failure `out` is null, except for NumberOutOfRange: as with
/// parseJson(), `out` then holds the frame with each such number replaced by null (to read an
/// ackId from), never to be relayed. Never throws for bad input (only
/// std::bad_alloc). Thread-safe: no state.
std::optional<JsonProblem> decodeBinaryProtocolFrame(std::string_view bytes, boost::json::value &out,
                                                     std::size_t maxDepth);

} // namespace switchboard
