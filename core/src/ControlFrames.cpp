#include "switchboard/ControlFrames.h"

#include "switchboard/MessageEncoding.h"

#include <charconv>

namespace switchboard {

namespace {

void appendNumber(std::string &out, std::uint64_t value)
{
    char buffer[24];
    const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
    out.append(buffer, result.ptr);
}

void appendSigned(std::string &out, std::int64_t value)
{
    char buffer[24];
    const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
    out.append(buffer, result.ptr);
}

/// Closes an object whose members all end with a comma: replaces the last comma by `}`.
void closeObject(std::string &out)
{
    if (!out.empty() && out.back() == ',')
        out.back() = '}';
    else
        out.push_back('}');
}

void appendStringMember(std::string &out, std::string_view key, std::string_view value)
{
    out.push_back('"');
    out.append(key);
    out.append("\":");
    appendJsonString(out, value);
    out.push_back(',');
}

} // namespace

void appendAckIdMember(std::string &out, const AckId &ackId)
{
    if (!ackId.present())
        return;
    out.append("\"ackId\":");
    if (ackId.number)
        out.append(ackId.value);
    else
        appendJsonString(out, ackId.value);
    out.push_back(',');
}

SharedFrame encodeWelcomeFrame(std::string_view sessionId, std::chrono::milliseconds pingInterval,
                               std::string_view userId)
{
    std::string out;
    out.reserve(96 + sessionId.size() + userId.size());
    out.append("{\"op\":\"welcome\",");
    appendStringMember(out, "session", sessionId);
    out.append("\"version\":");
    appendSigned(out, kProtocolVersion);
    out.append(",\"ping\":");
    appendSigned(out, pingInterval.count());
    out.push_back(',');
    appendStringMember(out, "user", userId);
    closeObject(out);
    return makeTextFrame(std::move(out));
}

SharedFrame encodeSubscribedFrame(const SubscribedInfo &info, const AckId &ackId)
{
    std::string out;
    out.reserve(160 + info.channel.size()
                + (info.publications ? info.publications->size() * 128 : 0));
    out.append("{\"op\":\"subscribed\",");
    appendStringMember(out, "channel", info.channel);
    appendAckIdMember(out, ackId);
    appendStringMember(out, "type", channelTypeName(info.type));
    appendStringMember(out, "epoch", info.position.epoch);
    out.append("\"offset\":");
    appendNumber(out, info.position.offset);
    out.push_back(',');
    if (info.recovered) {
        out.append("\"recovered\":");
        out.append(*info.recovered ? "true" : "false");
        out.push_back(',');
    }
    if (info.server)
        out.append("\"server\":true,");
    out.append("\"publications\":[");
    if (info.publications) {
        bool first = true;
        for (const Publication &publication : *info.publications) {
            if (!first)
                out.push_back(',');
            first = false;
            appendPublicationObject(out, publication);
        }
    }
    out.append("]}");
    return makeTextFrame(std::move(out));
}

SharedFrame encodeUnsubscribedFrame(std::string_view channel, const AckId &ackId, bool server)
{
    std::string out;
    out.reserve(64 + channel.size() + ackId.value.size());
    out.append("{\"op\":\"unsubscribed\",");
    appendStringMember(out, "channel", channel);
    appendAckIdMember(out, ackId);
    if (server)
        out.append("\"server\":true,");
    closeObject(out);
    return makeTextFrame(std::move(out));
}

SharedFrame encodeAckFrame(const AckId &ackId, std::optional<std::uint64_t> offset)
{
    std::string out;
    out.reserve(48 + ackId.value.size());
    out.append("{\"op\":\"ack\",");
    appendAckIdMember(out, ackId);
    if (offset) {
        out.append("\"offset\":");
        appendNumber(out, *offset);
        out.push_back(',');
    }
    closeObject(out);
    return makeTextFrame(std::move(out));
}

SharedFrame encodeExpiringFrame(std::int64_t inMs, std::string_view channel)
{
    std::string out("{\"op\":\"expiring\",");
    if (!channel.empty()) {
        out += "\"channel\":";
        appendJsonString(out, channel);
        out += ',';
    }
    out += "\"in\":";
    appendNumber(out, static_cast<std::uint64_t>(inMs < 0 ? 0 : inMs));
    out.push_back('}');
    return makeTextFrame(std::move(out));
}

SharedFrame encodeReplyFrame(std::string_view topic, std::string_view jsonPayload, const AckId &ackId,
                             std::string_view from)
{
    std::string out;
    out.reserve(56 + topic.size() + jsonPayload.size() + ackId.value.size() + from.size());
    out.append("{\"op\":\"reply\",");
    appendStringMember(out, "topic", topic);
    out.append("\"payload\":");
    out.append(jsonPayload.empty() ? std::string_view("null") : jsonPayload);
    out.push_back(',');
    appendAckIdMember(out, ackId);
    if (!from.empty())
        appendStringMember(out, "from", from);
    closeObject(out);
    return makeTextFrame(std::move(out));
}

SharedFrame encodeErrorReplyFrame(std::string_view message, int status, std::string_view trace,
                                  const AckId &ackId)
{
    std::string out;
    out.reserve(96 + message.size() + trace.size() + ackId.value.size());
    out.append("{\"op\":\"reply\",\"topic\":\"error\",\"payload\":{");
    appendStringMember(out, "message", message);
    out.append("\"status\":");
    appendSigned(out, status);
    out.push_back(',');
    appendStringMember(out, "trace", trace);
    closeObject(out);
    out.push_back(',');
    appendAckIdMember(out, ackId);
    closeObject(out);
    return makeTextFrame(std::move(out));
}

SharedFrame encodeErrorFrame(Error code, std::string_view message, const AckId &ackId,
                             std::string_view channel)
{
    std::string out;
    out.reserve(80 + message.size() + ackId.value.size() + channel.size());
    out.append("{\"op\":\"error\",\"code\":");
    appendSigned(out, static_cast<int>(code));
    out.push_back(',');
    appendStringMember(out, "name", errorName(code));
    appendStringMember(out, "message", message);
    appendAckIdMember(out, ackId);
    if (!channel.empty())
        appendStringMember(out, "channel", channel);
    closeObject(out);
    return makeTextFrame(std::move(out));
}

SharedFrame encodePingFrame()
{
    return makeTextFrame("{\"op\":\"ping\"}");
}

SharedFrame encodePongFrame(const AckId &ackId)
{
    std::string out;
    out.reserve(24 + ackId.value.size());
    out.append("{\"op\":\"pong\",");
    appendAckIdMember(out, ackId);
    closeObject(out);
    return makeTextFrame(std::move(out));
}

SharedFrame encodeDisconnectFrame(DisconnectCode code, std::string_view reason)
{
    const auto value = static_cast<std::uint16_t>(code);
    std::string out;
    out.reserve(72 + reason.size());
    out.append("{\"op\":\"disconnect\",\"code\":");
    appendNumber(out, value);
    out.push_back(',');
    appendStringMember(out, "reason", reason);
    out.append("\"reconnect\":");
    out.append(shouldReconnect(value) ? "true" : "false");
    out.push_back('}');
    return makeTextFrame(std::move(out));
}

} // namespace switchboard
