#include "ClientFrame.h"

#include "Utf8.h"
#include "switchboard/BinaryEncoding.h"
#include "switchboard/JsonParse.h"

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include <array>
#include <utility>

namespace switchboard::detail {

namespace json = boost::json;

namespace {

constexpr std::size_t kMaxAckIdLength = 128;

std::optional<FrameProblem> problem(Error code, std::string message)
{
    return FrameProblem{code, std::move(message)};
}

std::optional<FrameProblem> missing(std::string_view field)
{
    return problem(Error::BadRequest, "missing field '" + std::string(field) + "'");
}

std::optional<FrameProblem> mistyped(std::string_view field, std::string_view expected)
{
    return problem(Error::BadRequest,
                   "field '" + std::string(field) + "' must be " + std::string(expected));
}

/// Reads an optional string field. Absent or null leaves `out` empty.
std::optional<FrameProblem> optionalString(const json::object &object, std::string_view key,
                                           std::string_view &out)
{
    const json::value *value = object.if_contains(key);
    if (!value || value->is_null())
        return {};
    if (!value->is_string())
        return mistyped(key, "a string");
    const json::string &text = value->get_string();
    out = std::string_view(text.data(), text.size());
    return {};
}

std::optional<FrameProblem> requiredString(const json::object &object, std::string_view key,
                                           std::string_view &out)
{
    const json::value *value = object.if_contains(key);
    if (!value)
        return missing(key);
    if (!value->is_string())
        return mistyped(key, "a string");
    const json::string &text = value->get_string();
    out = std::string_view(text.data(), text.size());
    if (out.empty())
        return problem(Error::BadRequest, "field '" + std::string(key) + "' must not be empty");
    return {};
}

std::optional<FrameProblem> readAckId(const json::object &object, AckId &out)
{
    const json::value *value = object.if_contains("ackId");
    if (!value || value->is_null())
        return {};
    if (value->is_string()) {
        const json::string &text = value->get_string();
        if (text.empty() || text.size() > kMaxAckIdLength)
            return problem(Error::BadRequest, "field 'ackId' must hold 1 to 128 characters");
        out.value.assign(text.data(), text.size());
        out.number = false;
        return {};
    }
    if (value->is_uint64() || (value->is_int64() && value->get_int64() >= 0)) {
        out.value = json::serialize(*value);
        out.number = true;
        return {};
    }
    return mistyped("ackId", "a string or a non-negative integer");
}

struct OpName {
    std::string_view name;
    ClientOp op;
};
constexpr std::array<OpName, 9> kOps{{
    {"connect", ClientOp::Connect},
    {"subscribe", ClientOp::Subscribe},
    {"unsubscribe", ClientOp::Unsubscribe},
    {"publish", ClientOp::Publish},
    {"request", ClientOp::Request},
    {"reply", ClientOp::Reply},
    {"ping", ClientOp::Ping},
    {"pong", ClientOp::Pong},
    {"refresh", ClientOp::Refresh},
}};

std::optional<FrameProblem> readConnect(const json::object &object, ClientFrame &frame)
{
    const json::value *version = object.if_contains("version");
    if (!version)
        return missing("version");
    if (version->is_int64())
        frame.version = version->get_int64();
    else if (version->is_uint64())
        frame.version = -1; // far beyond any version: reported as unsupported
    else
        return mistyped("version", "an integer");
    if (auto p = optionalString(object, "token", frame.token))
        return p;
    if (const json::value *data = object.if_contains("data"); data && !data->is_null())
        frame.body = data; // connect `data`: for the connect authenticator, any JSON value
    return optionalString(object, "name", frame.name);
}

std::optional<FrameProblem> readChannelData(const json::object &object, std::size_t maxDepth,
                                            ClientFrame &frame)
{
    const json::value *value = object.if_contains("channelData");
    if (!value || value->is_null())
        return {};
    if (value->is_object()) {
        frame.channelData = json::serialize(*value);
        return {};
    }
    if (!value->is_string())
        return mistyped("channelData", "an object or a string holding a JSON object");
    // Pusher style: the object travels as JSON text inside a string. Check it once here so the
    // Hub and the authorizer only ever see a well-formed object.
    const json::string &text = value->get_string();
    json::value inner;
    if (const std::optional<JsonProblem> bad =
            parseJson(std::string_view(text.data(), text.size()), inner, JsonParseOptions{maxDepth})) {
        if (bad->kind == JsonProblem::Kind::TooDeep)
            return problem(Error::TooLarge, "field 'channelData' is nested too deeply");
        if (bad->kind == JsonProblem::Kind::NumberOutOfRange)
            return FrameProblem{Error::BadRequest, "field 'channelData': " + bad->message, true};
    }
    if (!inner.is_object())
        return mistyped("channelData", "an object or a string holding a JSON object");
    frame.channelData.assign(text.data(), text.size());
    return {};
}

std::optional<FrameProblem> readRecover(const json::object &object, ClientFrame &frame)
{
    const json::value *value = object.if_contains("recover");
    if (!value || value->is_null())
        return {};
    if (!value->is_object())
        return mistyped("recover", "an object {offset, epoch}");
    const json::object &recover = value->get_object();
    const json::value *offset = recover.if_contains("offset");
    const json::value *epoch = recover.if_contains("epoch");
    if (!offset || !epoch)
        return missing(!offset ? "recover.offset" : "recover.epoch");
    StreamPosition position;
    if (offset->is_uint64())
        position.offset = offset->get_uint64();
    else if (offset->is_int64() && offset->get_int64() >= 0)
        position.offset = static_cast<std::uint64_t>(offset->get_int64());
    else
        return mistyped("recover.offset", "a non-negative integer");
    if (!epoch->is_string())
        return mistyped("recover.epoch", "a string");
    position.epoch.assign(epoch->get_string().data(), epoch->get_string().size());
    frame.recover = std::move(position);
    return {};
}

/// An optional boolean member: absent or null leaves `out` false.
std::optional<FrameProblem> optionalFlag(const json::object &object, std::string_view key, bool &out)
{
    const json::value *value = object.if_contains(key);
    if (!value || value->is_null())
        return {};
    if (!value->is_bool())
        return mistyped(key, "a boolean");
    out = value->get_bool();
    return {};
}

std::optional<FrameProblem> readBody(const json::object &object, std::string_view key,
                                     bool required, ClientFrame &frame)
{
    const json::value *value = object.if_contains(key);
    if (!value && required)
        return missing(key);
    frame.body = value;
    return {};
}

} // namespace

std::optional<FrameProblem> parseClientFrame(std::string_view text, bool binary, std::size_t maxDepth,
                                             json::value &root, ClientFrame &frame)
{
    if (std::optional<JsonProblem> bad = binary ? decodeBinaryProtocolFrame(text, root, maxDepth)
                                                : parseJson(text, root, JsonParseOptions{maxDepth})) {
        switch (bad->kind) {
        case JsonProblem::Kind::TooDeep:
            return problem(Error::TooLarge, "frame is " + bad->message);
        case JsonProblem::Kind::NumberOutOfRange:
            // The rest of the frame is readable: answer against its ackId.
            if (root.is_object())
                (void)readAckId(root.get_object(), frame.ackId);
            return FrameProblem{Error::BadRequest, std::move(bad->message), true};
        case JsonProblem::Kind::Syntax:
            break;
        }
        return problem(Error::BadRequest, "frame is " + bad->message);
    }
    if (!root.is_object())
        return problem(Error::BadRequest, "frame must be a JSON object");
    const json::object &object = root.get_object();

    // Read the ackId first so every later problem can be reported against it.
    if (auto p = readAckId(object, frame.ackId))
        return p;

    const json::value *op = object.if_contains("op");
    if (!op)
        return missing("op");
    if (!op->is_string())
        return mistyped("op", "a string");
    const std::string_view opName(op->get_string().data(), op->get_string().size());
    bool known = false;
    for (const OpName &entry : kOps) {
        if (entry.name == opName) {
            frame.op = entry.op;
            known = true;
            break;
        }
    }
    if (!known)
        return problem(Error::UnknownOp, "unknown op '" + shownText(opName) + "'");

    switch (frame.op) {
    case ClientOp::Connect:
        return readConnect(object, frame);
    case ClientOp::Subscribe:
        if (auto p = requiredString(object, "channel", frame.channel))
            return p;
        if (auto p = optionalString(object, "auth", frame.auth))
            return p;
        if (auto p = readChannelData(object, maxDepth, frame))
            return p;
        if (const json::value *filter = object.if_contains("filter"); filter && !filter->is_null())
            frame.filter = filter; // checked by ContentFilter::fromJson, which names the problem
        if (auto p = optionalFlag(object, "latest", frame.latest))
            return p;
        return readRecover(object, frame);
    case ClientOp::Unsubscribe:
        return requiredString(object, "channel", frame.channel);
    case ClientOp::Publish: {
        if (auto p = requiredString(object, "channel", frame.channel))
            return p;
        if (auto p = requiredString(object, "event", frame.event))
            return p;
        if (auto p = readBody(object, "data", true, frame))
            return p;
        if (auto p = optionalFlag(object, "skipSelf", frame.skipSelf))
            return p;
        if (auto p = optionalFlag(object, "compress", frame.compress))
            return p;
        if (auto p = optionalFlag(object, "wantReply", frame.wantReply))
            return p;
        if (frame.wantReply && !frame.ackId.present())
            return problem(Error::BadRequest, "'wantReply' needs an 'ackId': the reply is matched to it");
        if (auto p = optionalString(object, "idempotencyKey", frame.idempotencyKey))
            return p;
        if (const json::value *key = object.if_contains("idempotencyKey"); key && !key->is_null())
            frame.hasIdempotencyKey = true;
        return {};
    }
    case ClientOp::Request:
        if (auto p = requiredString(object, "topic", frame.topic))
            return p;
        // ackId is optional: without one the request is fire-and-forget.
        return readBody(object, "payload", false, frame);
    case ClientOp::Reply:
        if (auto p = requiredString(object, "replyTo", frame.replyTo))
            return p;
        return readBody(object, "payload", false, frame);
    case ClientOp::Refresh:
        // With a channel: that subscription's authorization (`auth`); without: the session's token.
        if (auto p = optionalString(object, "channel", frame.channel))
            return p;
        if (!frame.channel.empty())
            return optionalString(object, "auth", frame.auth);
        if (auto p = requiredString(object, "token", frame.token))
            return p;
        if (frame.token.empty())
            return problem(Error::BadRequest, "field 'token' must not be empty");
        return {};
    case ClientOp::Ping:
    case ClientOp::Pong:
        return {};
    }
    return {};
}

} // namespace switchboard::detail
