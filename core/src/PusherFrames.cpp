#include "switchboard/PusherFrames.h"

#include "switchboard/JsonParse.h"
#include "switchboard/MessageEncoding.h"
#include "switchboard/PusherNames.h"

#include <boost/json/serialize.hpp>

#include <charconv>

namespace switchboard {
namespace {

void appendInt(std::string &out, long long value)
{
    char buffer[24];
    const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
    out.append(buffer, result.ptr);
}

std::string_view jsonOrNull(std::string_view json)
{
    return json.empty() ? std::string_view("null") : json;
}

/// `{"event":<event>,"channel":<channel>,"data":<data JSON string of `dataText`>}`
SharedFrame channelFrame(std::string_view event, std::string_view channel, std::string_view dataText)
{
    std::string bytes;
    bytes.reserve(40 + event.size() + channel.size() + dataText.size() * 5 / 4);
    bytes += "{\"event\":";
    appendJsonString(bytes, event);
    bytes += ",\"channel\":";
    appendJsonString(bytes, channel);
    bytes += ",\"data\":";
    appendJsonString(bytes, dataText);
    bytes += '}';
    return makeTextFrame(std::move(bytes));
}

SharedFrame translatePresence(std::string_view frame)
{
    boost::json::value parsed;
    const boost::json::object *object = parseJson(frame, parsed, JsonParseOptions{128}) ? nullptr : parsed.if_object();
    if (!object)
        return nullptr;
    const auto *event = object->if_contains("event");
    const auto *channel = object->if_contains("channel");
    const auto *member = object->if_contains("member");
    if (!event || !event->is_string() || !channel || !channel->is_string() || !member || !member->is_object())
        return nullptr;
    const std::string_view nativeChannel = channel->get_string();
    const auto app = pusherAppOf(nativeChannel);
    if (!app)
        return nullptr;
    const auto pusherChannel = pusherChannelName(*app, nativeChannel);
    const auto *id = member->get_object().if_contains("id");
    if (!pusherChannel || !id || !id->is_string())
        return nullptr;
    std::string data = "{\"user_id\":";
    appendJsonString(data, id->get_string());
    if (event->get_string() == "presence:member_added") {
        data += ",\"user_info\":";
        const auto *info = member->get_object().if_contains("info");
        data += info ? boost::json::serialize(*info) : std::string("null");
        data += '}';
        return channelFrame("pusher_internal:member_added", *pusherChannel, data);
    }
    if (event->get_string() == "presence:member_removed") {
        data += '}';
        return channelFrame("pusher_internal:member_removed", *pusherChannel, data);
    }
    return nullptr;
}

} // namespace

SharedFrame encodePusherConnectionEstablished(std::string_view socketId, int activityTimeoutSeconds)
{
    std::string data = "{\"socket_id\":";
    appendJsonString(data, socketId);
    data += ",\"activity_timeout\":";
    appendInt(data, activityTimeoutSeconds);
    data += '}';
    std::string bytes = "{\"event\":\"pusher:connection_established\",\"data\":";
    appendJsonString(bytes, data);
    bytes += '}';
    return makeTextFrame(std::move(bytes));
}

SharedFrame encodePusherError(std::optional<int> code, std::string_view message)
{
    std::string bytes = "{\"event\":\"pusher:error\",\"data\":{\"code\":";
    if (code)
        appendInt(bytes, *code);
    else
        bytes += "null";
    bytes += ",\"message\":";
    appendJsonString(bytes, message);
    bytes += "}}";
    return makeTextFrame(std::move(bytes));
}

SharedFrame encodePusherPing()
{
    return makeTextFrame(R"({"event":"pusher:ping","data":"{}"})");
}

SharedFrame encodePusherPong()
{
    return makeTextFrame(R"({"event":"pusher:pong","data":"{}"})");
}

SharedFrame encodePusherSubscriptionSucceeded(std::string_view channel)
{
    return channelFrame("pusher_internal:subscription_succeeded", channel, "{}");
}

SharedFrame encodePusherPresenceSucceeded(std::string_view channel, const std::vector<Member> &members)
{
    std::string ids;
    std::string hash;
    for (const Member &member : members) {
        if (!ids.empty()) {
            ids += ',';
            hash += ',';
        }
        appendJsonString(ids, member.userId);
        appendJsonString(hash, member.userId);
        hash += ':';
        hash += jsonOrNull(member.info);
    }
    std::string data = "{\"presence\":{\"ids\":[";
    data += ids;
    data += "],\"hash\":{";
    data += hash;
    data += "},\"count\":";
    appendInt(data, static_cast<long long>(members.size()));
    data += "}}";
    return channelFrame("pusher_internal:subscription_succeeded", channel, data);
}

SharedFrame encodePusherSubscriptionError(std::string_view channel, std::string_view type, std::string_view error,
                                          int status)
{
    std::string bytes = "{\"event\":\"pusher:subscription_error\",\"channel\":";
    appendJsonString(bytes, channel);
    bytes += ",\"data\":{\"type\":";
    appendJsonString(bytes, type);
    bytes += ",\"error\":";
    appendJsonString(bytes, error);
    bytes += ",\"status\":";
    appendInt(bytes, status);
    bytes += "}}";
    return makeTextFrame(std::move(bytes));
}

SharedFrame encodePusherEvent(std::string_view channel, std::string_view event, std::string_view nativeData,
                              std::string_view userId)
{
    std::string bytes;
    bytes.reserve(40 + event.size() + channel.size() + nativeData.size() * 5 / 4 + (userId.empty() ? 0 : 16 + userId.size()));
    bytes += "{\"event\":";
    appendJsonString(bytes, event);
    bytes += ",\"channel\":";
    appendJsonString(bytes, channel);
    bytes += ",\"data\":";
    appendPusherData(bytes, nativeData);
    if (!userId.empty()) {
        bytes += ",\"user_id\":";
        appendJsonString(bytes, userId);
    }
    bytes += '}';
    return makeTextFrame(std::move(bytes));
}

SharedFrame translateToPusher(const Frame &native)
{
    if (native.kind != Frame::Kind::Text)
        return nullptr;
    const std::string_view bytes = native.bytes;
    if (bytes.starts_with(R"({"op":"presence",)"))
        return translatePresence(bytes);
    const auto message = decodeMessageFrame(bytes);
    if (!message)
        return nullptr;
    const auto app = pusherAppOf(message->channel);
    if (!app)
        return nullptr;
    const auto channel = pusherChannelName(*app, message->channel);
    if (!channel)
        return nullptr;
    const std::string_view userId = channel->starts_with("presence-") ? std::string_view(native.senderUserId) : std::string_view();
    SharedFrame event = encodePusherEvent(*channel, pusherEventName(message->event), message->data, userId);
    if (native.policy == ChannelPolicy::DropNewest)
        return event;
    // Conflates as the native frame it translates.
    Frame translated{event->bytes, event->kind, event->compress, {}, {}, {}};
    translated.policy = native.policy;
    translated.conflationKey = native.conflationKey;
    return std::make_shared<const Frame>(std::move(translated));
}

} // namespace switchboard
