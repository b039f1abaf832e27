#include "switchboard/MessageEncoding.h"

#include <boost/json/serializer.hpp>

#include <charconv>
#include <stdexcept>

namespace switchboard {
namespace {

void appendNumber(std::string &out, auto value)
{
    char buffer[24];
    const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
    out.append(buffer, result.ptr);
}

/// JSON text stored by Switchboard (payloads, member info) is valid JSON by contract; an empty
/// text stands for null so that the frame stays valid.
void appendJsonValue(std::string &out, std::string_view json)
{
    if (json.empty())
        out += "null";
    else
        out += json;
}

/// Expected size of a string once quoted. Names rarely need escapes; when one does, the frame
/// buffer grows once. Reserving the worst case (6 bytes per byte) would waste memory in every
/// outbox holding the frame.
std::size_t escapedBound(std::string_view text)
{
    return text.size() + 8;
}

void appendPublicationFields(std::string &out, const Publication &publication)
{
    out += "\"channel\":";
    appendJsonString(out, publication.channel);
    out += ",\"event\":";
    appendJsonString(out, publication.event);
    out += ",\"data\":";
    appendJsonValue(out, publication.data);
    out += ",\"offset\":";
    appendNumber(out, publication.offset);
    out += ",\"ts\":";
    appendNumber(out, publication.timestampMs);
    if (!publication.sender.empty()) {
        out += ",\"sender\":";
        appendJsonString(out, publication.sender);
    }
    if (!publication.replyTo.empty()) {
        out += ",\"replyTo\":";
        appendJsonString(out, publication.replyTo);
    }
}

void appendMember(std::string &out, const Member &member)
{
    out += "{\"id\":";
    appendJsonString(out, member.userId);
    out += ",\"info\":";
    appendJsonValue(out, member.info);
    out += '}';
}

std::size_t memberBound(const Member &member)
{
    return escapedBound(member.userId) + member.info.size() + 20;
}

void appendPresenceHead(std::string &out, std::string_view event, std::string_view channel)
{
    out += "{\"op\":\"presence\",\"event\":";
    appendJsonString(out, event);
    out += ",\"channel\":";
    appendJsonString(out, channel);
}

void appendU16(std::string &out, std::size_t value)
{
    if (value > 0xFFFF)
        throw std::length_error("switchboard: binary frame field longer than 65535 bytes");
    out += static_cast<char>((value >> 8) & 0xFF);
    out += static_cast<char>(value & 0xFF);
}

} // namespace

void appendJsonString(std::string &out, std::string_view text)
{
    // Boost.JSON does the escaping; serializing from a string_view needs no allocation.
    boost::json::serializer serializer;
    serializer.reset(boost::json::string_view(text.data(), text.size()));
    char buffer[512];
    while (!serializer.done()) {
        const auto chunk = serializer.read(buffer, sizeof buffer);
        out.append(chunk.data(), chunk.size());
    }
}

void appendPublicationObject(std::string &out, const Publication &publication)
{
    out += '{';
    appendPublicationFields(out, publication);
    out += '}';
}

SharedFrame encodeMessageFrame(const Publication &publication, ChannelPolicy policy, std::string conflationKey)
{
    std::string bytes;
    bytes.reserve(96 + escapedBound(publication.channel) + escapedBound(publication.event)
                  + publication.data.size() + escapedBound(publication.sender)
                  + (publication.replyTo.empty() ? 0 : 12 + escapedBound(publication.replyTo)));
    bytes += "{\"op\":\"message\",";
    appendPublicationFields(bytes, publication);
    bytes += '}';
    Frame frame{std::move(bytes), Frame::Kind::Text, publication.compress, {}, {}, publication.senderUserId};
    frame.policy = policy;
    frame.conflationKey = std::move(conflationKey);
    return std::make_shared<const Frame>(std::move(frame));
}

SharedFrame encodeLatestMessageFrame(const Publication &publication, std::string_view epoch)
{
    std::string bytes;
    bytes.reserve(128 + escapedBound(publication.channel) + escapedBound(publication.event)
                  + publication.data.size() + escapedBound(publication.sender) + escapedBound(epoch)
                  + (publication.replyTo.empty() ? 0 : 12 + escapedBound(publication.replyTo)));
    bytes += "{\"op\":\"message\",";
    appendPublicationFields(bytes, publication);
    bytes += ",\"epoch\":";
    appendJsonString(bytes, epoch);
    bytes += ",\"latest\":true}";
    return std::make_shared<const Frame>(
        Frame{std::move(bytes), Frame::Kind::Text, publication.compress, {}, {}, publication.senderUserId});
}

std::optional<MessageFrameView> decodeMessageFrame(std::string_view frame)
{
    // Reads encodeMessageFrame()'s own layout instead of parsing JSON (a parse of the payload
    // cost ~30 us per 1 KiB publication): channel and event names never need escapes (Topic and
    // validateEventName refuse `"`, `\` and control characters), nor do session ids, so each is
    // the text between two quotes; the payload runs from `"data":` to the last `,"offset":`
    // (only numbers, the sender and the reply token follow it).
    auto take = [&frame](std::string_view expected) {
        if (!frame.starts_with(expected))
            return false;
        frame.remove_prefix(expected.size());
        return true;
    };
    auto quoted = [&frame](std::string &out) {
        const auto end = frame.find('"');
        if (end == std::string_view::npos || frame.substr(0, end).find('\\') != std::string_view::npos)
            return false;
        out.assign(frame.substr(0, end));
        frame.remove_prefix(end + 1);
        return true;
    };
    MessageFrameView view;
    if (!take("{\"op\":\"message\",\"channel\":\"") || !quoted(view.channel) || !take(",\"event\":\"")
        || !quoted(view.event) || !take(",\"data\":"))
        return std::nullopt;
    const std::size_t end = frame.rfind(",\"offset\":");
    if (end == std::string_view::npos || end == 0 || !frame.ends_with('}'))
        return std::nullopt;
    view.data = frame.substr(0, end);
    std::string_view tail = frame.substr(end + 10, frame.size() - end - 11); // between `,"offset":` and `}`
    auto number = [&tail](auto &out) {
        const auto result = std::from_chars(tail.data(), tail.data() + tail.size(), out);
        if (result.ec != std::errc())
            return false;
        tail.remove_prefix(static_cast<std::size_t>(result.ptr - tail.data()));
        return true;
    };
    auto member = [&tail](std::string_view key, std::string &out) {
        if (!tail.starts_with(key))
            return true; // absent
        tail.remove_prefix(key.size());
        const auto close = tail.find('"');
        if (close == std::string_view::npos || tail.substr(0, close).find('\\') != std::string_view::npos)
            return false; // an escape: not a text this reader takes verbatim
        out.assign(tail.substr(0, close));
        tail.remove_prefix(close + 1);
        return true;
    };
    if (!number(view.offset) || !tail.starts_with(",\"ts\":"))
        return std::nullopt;
    tail.remove_prefix(6);
    if (!number(view.timestampMs) || !member(",\"sender\":\"", view.sender) || !member(",\"replyTo\":\"", view.replyTo)
        || !tail.empty())
        return std::nullopt;
    return view;
}

SharedFrame encodeBinaryFrame(std::string_view channel, std::string_view event, std::string_view payload,
                              ChannelPolicy policy, std::string conflationKey)
{
    std::string bytes;
    bytes.reserve(5 + channel.size() + event.size() + payload.size());
    bytes += '\x01';
    appendU16(bytes, channel.size());
    bytes += channel;
    appendU16(bytes, event.size());
    bytes += event;
    bytes += payload;
    Frame frame{std::move(bytes), Frame::Kind::Binary, false, {}, {}, {}};
    frame.policy = policy;
    frame.conflationKey = std::move(conflationKey);
    return std::make_shared<const Frame>(std::move(frame));
}

std::optional<BinaryFrameView> decodeBinaryFrame(std::string_view frame)
{
    auto readU16 = [&](std::size_t at) {
        return static_cast<std::size_t>((static_cast<unsigned char>(frame[at]) << 8) | static_cast<unsigned char>(frame[at + 1]));
    };
    if (frame.size() < 5 || static_cast<unsigned char>(frame[0]) != 0x01)
        return std::nullopt;
    const std::size_t channelLength = readU16(1);
    if (3 + channelLength + 2 > frame.size())
        return std::nullopt;
    const std::size_t eventLength = readU16(3 + channelLength);
    const std::size_t eventStart = 3 + channelLength + 2;
    if (eventStart + eventLength > frame.size())
        return std::nullopt;
    return BinaryFrameView{frame.substr(3, channelLength), frame.substr(eventStart, eventLength),
                           frame.substr(eventStart + eventLength)};
}

SharedFrame encodePresenceChangeFrame(std::string_view event, std::string_view channel, const Member &member)
{
    std::string bytes;
    bytes.reserve(64 + escapedBound(event) + escapedBound(channel) + memberBound(member));
    appendPresenceHead(bytes, event, channel);
    bytes += ",\"member\":";
    appendMember(bytes, member);
    bytes += '}';
    return makeTextFrame(std::move(bytes));
}

SharedFrame encodePresenceRosterFrame(std::string_view channel, const std::vector<Member> &members)
{
    constexpr std::string_view event = "presence:subscription_succeeded";
    std::size_t size = 64 + escapedBound(event) + escapedBound(channel);
    for (const Member &member : members)
        size += memberBound(member) + 1;
    std::string bytes;
    bytes.reserve(size);
    appendPresenceHead(bytes, event, channel);
    bytes += ",\"members\":[";
    bool first = true;
    for (const Member &member : members) {
        if (!first)
            bytes += ',';
        first = false;
        appendMember(bytes, member);
    }
    bytes += "]}";
    return makeTextFrame(std::move(bytes));
}

} // namespace switchboard
