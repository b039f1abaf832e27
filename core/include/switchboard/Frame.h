#pragma once
// Frame: one encoded wire message, immutable and shared by every recipient.

#include "switchboard/ChannelPolicy.h"
#include "switchboard/DerivedBytes.h"
#include "switchboard/DerivedFrame.h"

#include <memory>
#include <string>

namespace switchboard {

/// Bytes of one WebSocket message. A broadcast builds one Frame and hands the same
/// shared_ptr to every session; nobody may modify it after creation.
struct Frame {
    enum class Kind : unsigned char { Text, Binary };
    std::string bytes;
    Kind kind = Kind::Text;
    /// The publication asked for per-message compression: a transport that negotiated it
    /// (permessage-deflate) sends `deflated` instead of `bytes`. Other frames are never compressed.
    bool compress = false;
    /// The compressed payload, built once on first need by a transport and shared by every
    /// recipient that negotiated compression (see DerivedBytes for thread safety).
    DerivedBytes deflated;
    /// The same message as a Pusher protocol frame (publications and presence changes), built
    /// once by the first Pusher recipient and shared by the others (PusherProtocol).
    DerivedFrame pusher;
    /// Publication::senderUserId of the publication this frame carries: not part of `bytes`,
    /// read by the Pusher translation (the `user_id` of a presence client event).
    std::string senderUserId;
    /// The same message in the binary encoding (BinaryEncoding.h), built once by the first
    /// recipient that negotiated it and shared by the others.
    DerivedFrame binary;
    /// How a session's full or busy outbox treats this frame: the slow-consumer policy of the
    /// publication's channel (HubOptions::channelPolicies), set by the Hub once per publication.
    /// Frames that are not publications keep DropNewest; the Hub then applies
    /// HubOptions::slowConsumer when one is refused.
    ChannelPolicy policy = ChannelPolicy::DropNewest;
    /// LatestOnly: frames with equal keys replace each other while pending in an outbox (the
    /// channel name, or the channel and the value of the rule's key field). Derived frames
    /// (`pusher`, `binary`) carry the policy and the key of their frame.
    std::string conflationKey;
};

using SharedFrame = std::shared_ptr<const Frame>;

inline SharedFrame makeTextFrame(std::string bytes)
{
    return std::make_shared<const Frame>(Frame{std::move(bytes), Frame::Kind::Text, false, {}, {}, {}});
}
/// A text frame of a publication marked `compress` (Publication::compress).
inline SharedFrame makeCompressibleTextFrame(std::string bytes)
{
    return std::make_shared<const Frame>(Frame{std::move(bytes), Frame::Kind::Text, true, {}, {}, {}});
}
inline SharedFrame makeBinaryFrame(std::string bytes)
{
    return std::make_shared<const Frame>(Frame{std::move(bytes), Frame::Kind::Binary, false, {}, {}, {}});
}

} // namespace switchboard
