#pragma once
// ClientFrame: one parsed and type-checked client text frame (docs/protocol.md, client -> server).

#include "switchboard/ControlFrames.h"
#include "switchboard/Error.h"
#include "switchboard/Publication.h"

#include <boost/json/value.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace switchboard::detail {

enum class ClientOp { Connect, Subscribe, Unsubscribe, Publish, Request, Reply, Ping, Pong, Refresh };

/// Fields of every op; which are set depends on `op`. String views point into the parsed
/// boost::json::value the frame was read from and live as long as it does.
struct ClientFrame {
    ClientOp op = ClientOp::Ping;
    AckId ackId;

    // connect (and refresh: token)
    std::int64_t version = 0;
    std::string_view token;
    std::string_view name;

    // subscribe / unsubscribe / publish
    std::string_view channel;
    std::string_view auth;
    std::string channelData;                ///< JSON text of an object, empty when absent
    std::optional<StreamPosition> recover;
    bool latest = false;                    ///< subscribe: send the newest publication after `subscribed`
    const boost::json::value *filter = nullptr; ///< subscribe `filter`, unparsed; null when absent

    // publish
    std::string_view event;
    bool skipSelf = false;
    bool compress = false; ///< publish: deliver compressed where permessage-deflate was negotiated
    bool wantReply = false; ///< publish: subscribers may reply (needs an ackId)
    std::string_view idempotencyKey; ///< publish: checked by ServerProtocol (isValidIdempotencyKey)
    bool hasIdempotencyKey = false;  ///< publish: the member is present (and not null)

    // reply (to a publication)
    std::string_view replyTo;

    // request
    std::string_view topic;

    /// publish `data` / request and reply `payload` / connect `data` (null when absent or null); null for other ops.
    const boost::json::value *body = nullptr;
};

/// Why a frame was refused: BadRequest (not JSON, not an object, missing or mistyped field),
/// TooLarge (nested deeper than allowed) or UnknownOp. `numberOutOfRange` marks a BadRequest
/// for a number that cannot be represented (switchboard/JsonParse.h), counted on its own.
struct FrameProblem {
    Error code = Error::BadRequest;
    std::string message;
    bool numberOutOfRange = false;
};

/// Parses `text` into `root` (allocating from `root`'s storage) and fills `frame`. `binary`: the
/// bytes are a protocol frame of the binary encoding (BinaryEncoding.h), not JSON text. On
/// failure returns the problem; `frame.ackId` is still set when the frame had a readable one, so
/// the error can be matched by the client. Never throws for bad input.
std::optional<FrameProblem> parseClientFrame(std::string_view text, bool binary, std::size_t maxDepth,
                                             boost::json::value &root, ClientFrame &frame);

} // namespace switchboard::detail
