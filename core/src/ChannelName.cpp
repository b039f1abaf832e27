#include "switchboard/ChannelName.h"

#include "switchboard/Error.h"
#include "switchboard/Topic.h"

namespace switchboard {

ChannelType channelTypeOf(std::string_view channel) noexcept
{
    if (channel.starts_with(kPresencePrefix))
        return ChannelType::Presence;
    if (channel.starts_with(kPrivatePrefix))
        return ChannelType::Private;
    return ChannelType::Public;
}

std::string_view channelTypeName(ChannelType type) noexcept
{
    switch (type) {
    case ChannelType::Public: return "public";
    case ChannelType::Private: return "private";
    case ChannelType::Presence: return "presence";
    }
    return "public";
}

std::error_code validateChannelName(std::string_view channel) noexcept
{
    // The detailed TopicError is folded into the one protocol code clients see.
    if (validateTopic(channel))
        return Error::InvalidName;
    // A typed channel needs a name after its prefix, in the same segment: `presence-` alone or
    // `private-/x` would name no room at all.
    for (std::string_view prefix : {kPresencePrefix, kPrivatePrefix}) {
        if (channel.starts_with(prefix)) {
            if (channel.size() == prefix.size() || channel[prefix.size()] == '/')
                return Error::InvalidName;
            break;
        }
    }
    return {};
}

std::error_code validateEventName(std::string_view event) noexcept
{
    constexpr std::size_t kMaxEventLength = 128;
    if (event.empty() || event.size() > kMaxEventLength)
        return Error::InvalidName;
    // Dots separate non-empty segments (`incident.created`): none first, last or doubled.
    if (event.front() == '.' || event.back() == '.' || event.find("..") != std::string_view::npos)
        return Error::InvalidName;
    for (char c : event) {
        const auto u = static_cast<unsigned char>(c);
        if (u <= 0x20 || u >= 0x7f || c == '*' || c == '"' || c == '\\')
            return Error::InvalidName;
    }
    return {};
}

} // namespace switchboard
