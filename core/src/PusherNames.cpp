#include "switchboard/PusherNames.h"

#include "switchboard/ChannelName.h"
#include "switchboard/Error.h"
#include "switchboard/JsonParse.h"
#include "switchboard/MessageEncoding.h"

#include <boost/json/serialize.hpp>

namespace switchboard {
namespace {

constexpr bool isPusherChannelChar(char c) noexcept
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-'
        || c == '=' || c == '@' || c == ',' || c == '.' || c == ';';
}

/// Splits a type prefix off a channel name: {"private-", "orders"}.
std::pair<std::string_view, std::string_view> splitType(std::string_view channel) noexcept
{
    for (std::string_view prefix : {kPresencePrefix, kPrivatePrefix}) {
        if (channel.starts_with(prefix))
            return {prefix, channel.substr(prefix.size())};
    }
    return {{}, channel};
}

bool keptInEvent(char c) noexcept
{
    const auto u = static_cast<unsigned char>(c);
    return u > 0x20 && u < 0x7f && c != '*' && c != '"' && c != '\\' && c != '%';
}

void appendEscaped(std::string &out, char c)
{
    static constexpr char kHex[] = "0123456789ABCDEF";
    const auto u = static_cast<unsigned char>(c);
    out += '%';
    out += kHex[u >> 4];
    out += kHex[u & 0x0F];
}

int hexValue(char c) noexcept
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

} // namespace

std::error_code validatePusherChannelName(std::string_view channel) noexcept
{
    if (channel.empty() || channel.size() > kMaxPusherChannelLength)
        return Error::InvalidName;
    for (char c : channel) {
        if (!isPusherChannelChar(c))
            return Error::InvalidName;
    }
    return {};
}

std::string nativeChannelName(std::string_view appId, std::string_view channel)
{
    const auto [type, rest] = splitType(channel);
    std::string out;
    out.reserve(type.size() + kPusherNamespace.size() + appId.size() + 1 + rest.size());
    out += type;
    out += kPusherNamespace;
    out += appId;
    out += '/';
    out += rest;
    return out;
}

std::optional<std::string_view> pusherAppOf(std::string_view nativeChannel)
{
    const auto rest = splitType(nativeChannel).second;
    if (!rest.starts_with(kPusherNamespace))
        return std::nullopt;
    const auto tail = rest.substr(kPusherNamespace.size());
    const auto slash = tail.find('/');
    if (slash == 0 || slash == std::string_view::npos)
        return std::nullopt;
    return tail.substr(0, slash);
}

std::optional<std::string> pusherChannelName(std::string_view appId, std::string_view nativeChannel)
{
    const auto [type, rest] = splitType(nativeChannel);
    if (!rest.starts_with(kPusherNamespace))
        return std::nullopt;
    auto tail = rest.substr(kPusherNamespace.size());
    if (!tail.starts_with(appId) || tail.size() <= appId.size() || tail[appId.size()] != '/')
        return std::nullopt;
    tail.remove_prefix(appId.size() + 1);
    // A deeper native topic (`pusher/ID/a/b`) has no Pusher name.
    if (validatePusherChannelName(tail))
        return std::nullopt;
    std::string out(type);
    out += tail;
    return out;
}

std::string nativeEventName(std::string_view pusherEvent)
{
    std::string out;
    out.reserve(pusherEvent.size());
    for (char c : pusherEvent) {
        if (keptInEvent(c))
            out += c;
        else
            appendEscaped(out, c);
    }
    if (!validateEventName(out) || out.empty())
        return out;
    // Still refused: dots that make an empty segment. Encode every dot (decoding is the same).
    std::string dotless;
    dotless.reserve(out.size() + 8);
    for (char c : out) {
        if (c == '.')
            appendEscaped(dotless, c);
        else
            dotless += c;
    }
    return dotless;
}

std::string pusherEventName(std::string_view nativeEvent)
{
    std::string out;
    out.reserve(nativeEvent.size());
    for (std::size_t i = 0; i < nativeEvent.size(); ++i) {
        if (nativeEvent[i] == '%' && i + 2 < nativeEvent.size() && hexValue(nativeEvent[i + 1]) >= 0
            && hexValue(nativeEvent[i + 2]) >= 0) {
            out += static_cast<char>(hexValue(nativeEvent[i + 1]) * 16 + hexValue(nativeEvent[i + 2]));
            i += 2;
        } else {
            out += nativeEvent[i];
        }
    }
    return out;
}

std::string nativeData(const boost::json::value &pusherData)
{
    if (const boost::json::string *text = pusherData.if_string()) {
        const std::string_view content(text->data(), text->size());
        // Not when the content is itself a JSON string: appendPusherData would send that string
        // decoded, and the Pusher subscriber would get the text without its quotes.
        const auto first = content.find_first_not_of(" \t\r\n");
        if (first != std::string_view::npos && content[first] != '"' && isAcceptedJson(content))
            return std::string(content);
        std::string out;
        appendJsonString(out, content);
        return out;
    }
    return boost::json::serialize(pusherData);
}

void appendPusherData(std::string &out, std::string_view nativeData)
{
    const auto first = nativeData.find_first_not_of(" \t\r\n");
    if (first != std::string_view::npos && nativeData[first] == '"') {
        out += nativeData.substr(first, nativeData.find_last_not_of(" \t\r\n") + 1 - first);
        return;
    }
    appendJsonString(out, nativeData.empty() ? std::string_view("null") : nativeData);
}

} // namespace switchboard
