#pragma once
// Publication: one message published to a channel, as stored in history and carried by a Broker.

#include <cstdint>
#include <string>

namespace switchboard {

/// Position in a channel's stream. Offsets start at 1 and grow by one per publication; the epoch
/// changes whenever the stream is recreated (history lost), which makes old offsets meaningless.
struct StreamPosition {
    std::uint64_t offset = 0;
    std::string epoch;
    friend bool operator==(const StreamPosition &, const StreamPosition &) = default;
};

struct Publication {
    std::string channel;
    std::string event;
    std::string data;              ///< payload as JSON text, passed through verbatim
    std::uint64_t offset = 0;      ///< assigned by the Broker; 0 for binary (not kept in history)
    std::int64_t timestampMs = 0;  ///< wall clock at publish
    std::string sender;            ///< publishing session id; empty for server publishes
    std::string exceptSession;     ///< session id that must not receive it (broadcast-except)
    bool binary = false;           ///< `data` holds raw bytes sent in a binary frame
    bool compress = false;         ///< deliver compressed to connections that negotiated it (docs/protocol.md)
    /// Reply token (publish with `wantReply`, docs/protocol.md): subscribers may answer it with a
    /// `reply` frame, routed to the publishing session. Empty: no reply wanted.
    std::string replyTo;
    /// The user the publishing connection is a member as, on this presence channel, when its
    /// protocol shows it to subscribers (a Pusher client event on a `presence-` channel: the
    /// `user_id` of its signed channel_data, docs/pusher.md). Travels with the publication to
    /// every node and into history; empty otherwise.
    std::string senderUserId;
    /// Publications of one channel with the same non-empty key, within the broker's idempotency
    /// window, are one publication (Broker::publish). Already scoped to its publisher
    /// (switchboard/IdempotencyKey.h). Not delivered to subscribers nor kept in history.
    std::string idempotencyKey;
};

} // namespace switchboard
