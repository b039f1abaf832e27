#pragma once
// Channel names and types.

#include <string_view>
#include <system_error>

namespace switchboard {

/// The type of a channel follows from its name prefix.
enum class ChannelType { Public, Private, Presence };

inline constexpr std::string_view kPrivatePrefix = "private-";
inline constexpr std::string_view kPresencePrefix = "presence-";

ChannelType channelTypeOf(std::string_view channel) noexcept;
std::string_view channelTypeName(ChannelType type) noexcept; // "public", "private", "presence"

/// A channel name is a valid Topic (see Topic.h: `/`-separated segments, no wildcards).
/// Returns Error::InvalidName otherwise.
std::error_code validateChannelName(std::string_view channel) noexcept;

/// Event names: 1..128 characters, printable ASCII except space, `.`, `*`, `"` and `\`.
std::error_code validateEventName(std::string_view event) noexcept;

} // namespace switchboard
