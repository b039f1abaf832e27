#pragma once
// PusherFrames: encoders for the frames a Pusher Channels protocol 7 server sends
// (docs/pusher.md), and the translation of the Hub's shared frames into them. Pure functions,
// thread-safe. Every `data` member is a JSON string, as pusher-js expects; channel names are
// Pusher names (PusherNames.h maps them).

#include "switchboard/Frame.h"
#include "switchboard/PresenceStore.h"

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace switchboard {

/// `{"event":"pusher:connection_established","data":"{\"socket_id\":..,\"activity_timeout\":N}"}`
SharedFrame encodePusherConnectionEstablished(std::string_view socketId, int activityTimeoutSeconds);
/// `{"event":"pusher:error","data":{"code":N|null,"message":..}}`
SharedFrame encodePusherError(std::optional<int> code, std::string_view message);
SharedFrame encodePusherPing(); ///< `{"event":"pusher:ping","data":"{}"}`
SharedFrame encodePusherPong(); ///< `{"event":"pusher:pong","data":"{}"}`
/// `pusher_internal:subscription_succeeded` of a public or private channel (`data` "{}").
SharedFrame encodePusherSubscriptionSucceeded(std::string_view channel);
/// ... of a presence channel: `{"presence":{"ids":[..],"hash":{id:info},"count":N}}`.
SharedFrame encodePusherPresenceSucceeded(std::string_view channel, const std::vector<Member> &members);
/// `{"event":"pusher:subscription_error","channel":..,"data":{"type":..,"error":..,"status":N}}`
SharedFrame encodePusherSubscriptionError(std::string_view channel, std::string_view type, std::string_view error,
                                          int status);
/// A channel event: `{"event":..,"channel":..,"data":<appendPusherData(nativeData)>}`, with
/// `,"user_id":..` after the data when `userId` is not empty (a client event on a presence channel).
SharedFrame encodePusherEvent(std::string_view channel, std::string_view event, std::string_view nativeData,
                              std::string_view userId = {});

/// The Pusher frame of a frame the Hub fans out: a `message` (a channel event) or a presence
/// change (`pusher_internal:member_added` / `member_removed`) on a channel of a Pusher app.
/// Null for any other frame, for binary frames and for channels outside a Pusher namespace.
/// Callers share the result through Frame::pusher, so it is built once per publication.
/// A message on a presence channel carries the `user_id` of its Frame::senderUserId (Pusher's
/// client events on presence channels, Publication::senderUserId), wherever it was published.
SharedFrame translateToPusher(const Frame &native);

} // namespace switchboard
