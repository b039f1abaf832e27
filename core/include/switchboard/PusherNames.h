#pragma once
// PusherNames: how the channels, events and payloads of the Pusher Channels protocol map onto
// the Hub's (docs/pusher.md, "Names"). Pure functions, thread-safe.
//
//   Pusher channel `C` of app `ID`     native channel
//   orders                             pusher/ID/orders
//   private-orders.7                   private-pusher/ID/orders.7
//   presence-room                      presence-pusher/ID/room
//
// The type prefix stays first, so both protocols agree on a channel's type (ChannelName.h); the
// `pusher/ID/` namespace keeps apps apart and out of other native topics.
//
// Events: a Pusher event name becomes a native one by percent-encoding `%` and every character
// a native event name refuses (`\` of Laravel's `App\Events\OrderShipped`, space, `*`, `"`,
// non-ASCII; dots only when they would make an empty segment); the way back decodes `%XX`.
//
// Data: Pusher carries `data` as a string (often JSON text); the Hub carries JSON text.
//   Pusher -> native: a string whose content is JSON (other than a JSON string) becomes that
//   JSON text verbatim; any other string becomes a JSON string; an object or other value (pusher-js client events)
//   stays that value.
//   native -> Pusher: a JSON string is sent as that string; any other JSON text is sent as a
//   string holding that text verbatim, which pusher-js parses back into the value.

#include <boost/json/value.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <system_error>

namespace switchboard {

inline constexpr std::string_view kPusherNamespace = "pusher/";
/// Longest Pusher channel name accepted (Pusher's documented limit).
inline constexpr std::size_t kMaxPusherChannelLength = 164;

/// Pusher's rule: 1..164 characters of `[A-Za-z0-9_\-=@,.;]`. Error::InvalidName otherwise.
std::error_code validatePusherChannelName(std::string_view channel) noexcept;
/// The native channel of Pusher channel `channel` in app `appId` (both assumed valid; the result
/// is still checked by the Hub: too long a name is refused there).
std::string nativeChannelName(std::string_view appId, std::string_view channel);
/// The Pusher channel of a native channel in app `appId`; nullopt when it is not in that app.
std::optional<std::string> pusherChannelName(std::string_view appId, std::string_view nativeChannel);
/// The app id a native channel belongs to, when it is in a Pusher namespace.
std::optional<std::string_view> pusherAppOf(std::string_view nativeChannel);

std::string nativeEventName(std::string_view pusherEvent);
std::string pusherEventName(std::string_view nativeEvent);

/// Native JSON text for the `data` of a Pusher frame (see above).
std::string nativeData(const boost::json::value &pusherData);
/// Appends the Pusher `data` member's value (a JSON string) for native JSON text `nativeData`
/// (empty stands for null).
void appendPusherData(std::string &out, std::string_view nativeData);

} // namespace switchboard
