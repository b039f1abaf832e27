#pragma once
// Encoders for the control frames a server sends to one session (docs/protocol.md): welcome,
// subscribed, unsubscribed, ack, reply, error, ping, pong, disconnect. Fan-out frames (message,
// presence, binary) live in MessageEncoding.h.
//
// Every function is pure and thread-safe; the result is an immutable frame ready for
// Session::send(). JSON text arguments (payloads) are copied in verbatim, never re-parsed.

#include "switchboard/ChannelName.h"
#include "switchboard/Error.h"
#include "switchboard/Frame.h"
#include "switchboard/Publication.h"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace switchboard {

/// Version of the wire protocol spoken by this build (the `version` of connect and welcome).
inline constexpr int kProtocolVersion = 1;

/// The `ackId` of a client frame, echoed back in the same JSON form: a string ("a1") or a
/// non-negative integer (42). Absent when `value` is empty.
struct AckId {
    std::string value;   ///< the string's text, or the integer's decimal digits
    bool number = false; ///< true: written as a JSON number
    bool present() const noexcept { return !value.empty(); }
    friend bool operator==(const AckId &, const AckId &) = default;
};

/// Appends `"ackId":<id>,` (with the trailing comma) when present; nothing otherwise.
void appendAckIdMember(std::string &out, const AckId &ackId);

/// `{"op":"welcome","session":..,"version":1,"ping":<ms>,"user":..}`
SharedFrame encodeWelcomeFrame(std::string_view sessionId, std::chrono::milliseconds pingInterval,
                               std::string_view userId);

/// What a `subscribed` frame reports about a join.
struct SubscribedInfo {
    std::string_view channel;
    ChannelType type = ChannelType::Public;
    StreamPosition position;                ///< stream top at join
    std::optional<bool> recovered;          ///< present only when the client asked to recover
    const std::vector<Publication> *publications = nullptr; ///< missed publications, oldest first
    bool server = false;                    ///< made by the server (Hub::subscribeSession): `"server":true`
};
/// `{"op":"subscribed","channel":..,"ackId":..,"type":..,"epoch":..,"offset":..,"recovered":..,"server":true?,"publications":[..]}`
SharedFrame encodeSubscribedFrame(const SubscribedInfo &info, const AckId &ackId);
/// `{"op":"unsubscribed","channel":..,"ackId":..}`; `"server":true` instead of an ackId when
/// the server ended the subscription (Hub::unsubscribeSession).
SharedFrame encodeUnsubscribedFrame(std::string_view channel, const AckId &ackId, bool server = false);
/// `{"op":"ack","ackId":..,"offset":..}`; offset only for publishes.
SharedFrame encodeAckFrame(const AckId &ackId, std::optional<std::uint64_t> offset = {});
/// `{"op":"reply","topic":..,"payload":<jsonPayload verbatim>,"ackId":..,"from":..}`; `from` (the
/// replying session of a reply between clients) only when given.
SharedFrame encodeReplyFrame(std::string_view topic, std::string_view jsonPayload, const AckId &ackId,
                             std::string_view from = {});
/// `{"op":"reply","topic":"error","payload":{"message":..,"status":..,"trace":..},"ackId":..}`
SharedFrame encodeErrorReplyFrame(std::string_view message, int status, std::string_view trace,
                                  const AckId &ackId);
/// `{"op":"error","code":..,"name":..,"message":..,"ackId":..,"channel":..}`; ackId and channel
/// only when given.
SharedFrame encodeErrorFrame(Error code, std::string_view message, const AckId &ackId = {},
                             std::string_view channel = {});
/// `{"op":"ping"}`
SharedFrame encodePingFrame();
/// `{"op":"expiring","in":<ms>}`: the session's token expires in `inMs`; send `refresh`. With a
/// `channel`, `{"op":"expiring","channel":..,"in":<ms>}`: the authorization of that subscription.
SharedFrame encodeExpiringFrame(std::int64_t inMs, std::string_view channel = {});
/// `{"op":"pong","ackId":..}`
SharedFrame encodePongFrame(const AckId &ackId = {});
/// `{"op":"disconnect","code":..,"reason":..,"reconnect":<shouldReconnect(code)>}`
SharedFrame encodeDisconnectFrame(DisconnectCode code, std::string_view reason);

} // namespace switchboard
