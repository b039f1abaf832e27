#include "switchboard/BinaryEncoding.h"

#include "switchboard/MessageEncoding.h"

#include "Utf8.h"

#include <boost/json/array.hpp>
#include <boost/json/monotonic_resource.hpp>
#include <boost/json/string.hpp>

#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

// Value encoding (tag 0x02 carries one value, an object). A value is a type byte, then:
//   0x00 null, 0x01 false, 0x02 true         nothing
//   0x03 integer                              zigzag varint (int64)
//   0x04 unsigned integer above 2^63-1        varint (uint64)
//   0x05 double                               IEEE 754 binary64, little-endian
//   0x06 string                               varint byte length, UTF-8 bytes
//   0x07 dictionary word                      one byte, an index into kDictionary (from 1)
//   0x08 array                                varint count, values
//   0x09 object                               varint count, then per member a key and a value;
//                                             the key is a dictionary index (1..), or 0 then
//                                             varint length and UTF-8 bytes
//   0x0A JSON text                            varint length, a JSON document (what it parses to)
// Varints are LEB128: seven bits per byte, low bits first, at most ten bytes.
//
// `message` layout (tag 0x10 | flags):
//   flags 0x01 sender present, 0x02 sender is 32 lowercase hex digits sent as 16 bytes,
//         0x04 replyTo present, 0x08 the payload is a JSON string without escapes, sent as its
//         characters (no quotes)
//   varint length + channel, varint length + event, varint offset, zigzag varint ts,
//   [sender: 16 bytes, or varint length + bytes], [replyTo: varint length + bytes],
//   then the payload to the end of the message: JSON text, or the string's characters.

namespace switchboard {

namespace json = boost::json;

namespace {

constexpr unsigned char kTagBroadcast = 0x01;
constexpr unsigned char kTagValue = 0x02;
constexpr unsigned char kTagMessage = 0x10;

constexpr unsigned char kSenderPresent = 0x01;
constexpr unsigned char kSenderHex = 0x02;
constexpr unsigned char kReplyToPresent = 0x04;
constexpr unsigned char kDataString = 0x08;

enum Type : unsigned char {
    TypeNull = 0x00,
    TypeFalse = 0x01,
    TypeTrue = 0x02,
    TypeInt = 0x03,
    TypeUint = 0x04,
    TypeDouble = 0x05,
    TypeString = 0x06,
    TypeWord = 0x07,
    TypeArray = 0x08,
    TypeObject = 0x09,
    TypeJsonText = 0x0A,
};

/// Fixed for `switchboard.v1.binary`: append-only would still break older decoders, so a new
/// word needs a new subprotocol name. Index i + 1 on the wire.
constexpr std::array<std::string_view, 60> kDictionary{
    // members
    "op", "channel", "event", "data", "offset", "ts", "sender", "replyTo", "ackId", "epoch", "type",
    "recovered", "server", "publications", "session", "version", "ping", "user", "code", "name",
    "message", "reason", "reconnect", "members", "member", "id", "info", "topic", "payload", "from",
    "token", "auth", "channelData", "recover", "filter", "skipSelf", "compress", "wantReply",
    // op names and values ("message", "ping" and "presence" are above or below once)
    "connect", "welcome", "subscribe", "subscribed", "unsubscribe", "unsubscribed", "publish",
    "request", "reply", "ack", "error", "pong", "disconnect", "presence", "public", "private",
    "presence:subscription_succeeded", "presence:member_added", "presence:member_removed",
    "bad_request", "forbidden", "unauthorized"};

unsigned wordIndex(std::string_view text) noexcept
{
    // Short and fixed: a linear scan of first-byte matches is as fast as a hash here.
    for (std::size_t i = 0; i < kDictionary.size(); ++i)
        if (kDictionary[i].size() == text.size() && kDictionary[i] == text)
            return static_cast<unsigned>(i + 1);
    return 0;
}

// ---- writing ----------------------------------------------------------------------------------

void putVarint(std::string &out, std::uint64_t value)
{
    while (value >= 0x80) {
        out.push_back(static_cast<char>((value & 0x7F) | 0x80));
        value >>= 7;
    }
    out.push_back(static_cast<char>(value));
}

std::uint64_t zigzag(std::int64_t value) noexcept
{
    return (static_cast<std::uint64_t>(value) << 1) ^ static_cast<std::uint64_t>(value >> 63);
}

std::int64_t unzigzag(std::uint64_t value) noexcept
{
    return static_cast<std::int64_t>(value >> 1) ^ -static_cast<std::int64_t>(value & 1);
}

void putText(std::string &out, std::string_view text)
{
    putVarint(out, text.size());
    out.append(text);
}

void putValue(std::string &out, const json::value &value);

void putString(std::string &out, std::string_view text)
{
    if (const unsigned word = wordIndex(text)) {
        out.push_back(static_cast<char>(TypeWord));
        out.push_back(static_cast<char>(word));
        return;
    }
    out.push_back(static_cast<char>(TypeString));
    putText(out, text);
}

void putObject(std::string &out, const json::object &object)
{
    out.push_back(static_cast<char>(TypeObject));
    putVarint(out, object.size());
    for (const auto &member : object) {
        const std::string_view key(member.key().data(), member.key().size());
        if (const unsigned word = wordIndex(key)) {
            out.push_back(static_cast<char>(word));
        } else {
            out.push_back('\0');
            putText(out, key);
        }
        putValue(out, member.value());
    }
}

void putValue(std::string &out, const json::value &value)
{
    switch (value.kind()) {
    case json::kind::null: out.push_back(static_cast<char>(TypeNull)); break;
    case json::kind::bool_: out.push_back(static_cast<char>(value.get_bool() ? TypeTrue : TypeFalse)); break;
    case json::kind::int64:
        out.push_back(static_cast<char>(TypeInt));
        putVarint(out, zigzag(value.get_int64()));
        break;
    case json::kind::uint64:
        // What JSON text would parse to: an integer that fits int64 is an int64.
        if (value.get_uint64() <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
            out.push_back(static_cast<char>(TypeInt));
            putVarint(out, zigzag(static_cast<std::int64_t>(value.get_uint64())));
        } else {
            out.push_back(static_cast<char>(TypeUint));
            putVarint(out, value.get_uint64());
        }
        break;
    case json::kind::double_: {
        out.push_back(static_cast<char>(TypeDouble));
        // memcpy, not std::bit_cast: Emscripten 3.1.6's libc++ has no bit_cast.
        const double number = value.get_double();
        std::uint64_t bits = 0;
        std::memcpy(&bits, &number, sizeof bits);
        for (int i = 0; i < 8; ++i)
            out.push_back(static_cast<char>((bits >> (8 * i)) & 0xFF));
        break;
    }
    case json::kind::string: putString(out, std::string_view(value.get_string().data(), value.get_string().size())); break;
    case json::kind::array:
        out.push_back(static_cast<char>(TypeArray));
        putVarint(out, value.get_array().size());
        for (const json::value &element : value.get_array())
            putValue(out, element);
        break;
    case json::kind::object: putObject(out, value.get_object()); break;
    }
}

bool isLowerHex(std::string_view text) noexcept
{
    for (const char c : text)
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return false;
    return true;
}

int hexDigit(char c) noexcept
{
    return c <= '9' ? c - '0' : c - 'a' + 10;
}

std::string translateMessage(const MessageFrameView &view)
{
    unsigned char flags = 0;
    if (!view.sender.empty())
        flags |= kSenderPresent;
    if (view.sender.size() == 32 && isLowerHex(view.sender))
        flags |= kSenderHex;
    if (!view.replyTo.empty())
        flags |= kReplyToPresent;
    std::string_view data = view.data;
    if (data.size() >= 2 && data.front() == '"' && data.back() == '"'
        && data.find('\\') == std::string_view::npos) {
        // No escapes: the characters between the quotes are the string (a JSON string cannot
        // hold a raw `"` or control character), so they go as they are.
        flags |= kDataString;
        data = data.substr(1, data.size() - 2);
    }
    std::string out;
    out.reserve(32 + view.channel.size() + view.event.size() + view.sender.size() + view.replyTo.size() + data.size());
    out.push_back(static_cast<char>(kTagMessage | flags));
    putText(out, view.channel);
    putText(out, view.event);
    putVarint(out, view.offset);
    putVarint(out, zigzag(view.timestampMs));
    if (flags & kSenderHex) {
        for (std::size_t i = 0; i < 32; i += 2)
            out.push_back(static_cast<char>((hexDigit(view.sender[i]) << 4) | hexDigit(view.sender[i + 1])));
    } else if (flags & kSenderPresent) {
        putText(out, view.sender);
    }
    if (flags & kReplyToPresent)
        putText(out, view.replyTo);
    out.append(data);
    return out;
}

// ---- reading ----------------------------------------------------------------------------------

JsonProblem syntax(std::string_view what)
{
    return JsonProblem{JsonProblem::Kind::Syntax, "not a binary frame: " + std::string(what)};
}

/// Reads the bytes of one frame; every read checks what is left.
class Reader {
public:
    Reader(std::string_view bytes, json::storage_ptr storage, std::size_t maxDepth)
        : m_bytes(bytes), m_storage(std::move(storage)), m_maxDepth(maxDepth)
    {
    }

    std::optional<JsonProblem> problem;

    bool atEnd() const noexcept { return m_bytes.empty(); }
    std::string_view rest() const noexcept { return m_bytes; }

    bool byte(unsigned char &out)
    {
        if (m_bytes.empty())
            return fail("truncated");
        out = static_cast<unsigned char>(m_bytes.front());
        m_bytes.remove_prefix(1);
        return true;
    }

    bool varint(std::uint64_t &out)
    {
        out = 0;
        for (int shift = 0; shift < 64; shift += 7) {
            unsigned char b = 0;
            if (!byte(b))
                return false;
            if (shift == 63 && b > 1)
                return fail("varint out of range");
            out |= static_cast<std::uint64_t>(b & 0x7F) << shift;
            if (!(b & 0x80))
                return true;
        }
        return fail("varint too long");
    }

    bool bytes(std::size_t count, std::string_view &out)
    {
        if (count > m_bytes.size())
            return fail("truncated");
        out = m_bytes.substr(0, count);
        m_bytes.remove_prefix(count);
        return true;
    }

    /// varint length + that many bytes
    bool sized(std::string_view &out)
    {
        std::uint64_t length = 0;
        if (!varint(length))
            return false;
        if (length > m_bytes.size())
            return fail("truncated");
        return bytes(static_cast<std::size_t>(length), out);
    }

    /// varint length + UTF-8 bytes
    bool text(std::string_view &out)
    {
        if (!sized(out))
            return false;
        if (!detail::isValidUtf8(out))
            return fail("invalid UTF-8");
        return true;
    }

    bool value(json::value &out, std::size_t depth)
    {
        unsigned char type = 0;
        if (!byte(type))
            return false;
        switch (type) {
        case TypeNull: out.emplace_null(); return true;
        case TypeFalse: out = false; return true;
        case TypeTrue: out = true; return true;
        case TypeInt: {
            std::uint64_t raw = 0;
            if (!varint(raw))
                return false;
            out = unzigzag(raw);
            return true;
        }
        case TypeUint: {
            std::uint64_t raw = 0;
            if (!varint(raw))
                return false;
            if (raw <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
                out = static_cast<std::int64_t>(raw);
            else
                out = raw;
            return true;
        }
        case TypeDouble: {
            std::string_view raw;
            if (!bytes(8, raw))
                return false;
            std::uint64_t bits = 0;
            for (int i = 0; i < 8; ++i)
                bits |= static_cast<std::uint64_t>(static_cast<unsigned char>(raw[i])) << (8 * i);
            double number = 0;
            std::memcpy(&number, &bits, sizeof number);
            if (!std::isfinite(number)) {
                // As parseJson() does: the rest stays readable (an ackId to answer), this is null.
                noteNumberOutOfRange(JsonProblem{JsonProblem::Kind::NumberOutOfRange, "number out of range: not finite"});
                out.emplace_null();
                return true;
            }
            out = number;
            return true;
        }
        case TypeString: {
            std::string_view raw;
            if (!text(raw))
                return false;
            out = json::string_view(raw.data(), raw.size());
            return true;
        }
        case TypeWord: {
            std::string_view word;
            if (!dictionaryWord(word))
                return false;
            out = json::string_view(word.data(), word.size());
            return true;
        }
        case TypeArray: {
            if (depth >= m_maxDepth)
                return tooDeep();
            std::uint64_t count = 0;
            if (!varint(count))
                return false;
            if (count > m_bytes.size()) // every element takes a byte at least
                return fail("truncated");
            json::array &array = out.emplace_array();
            array.reserve(static_cast<std::size_t>(count));
            for (std::uint64_t i = 0; i < count; ++i) {
                array.emplace_back(nullptr);
                if (!value(array.back(), depth + 1))
                    return false;
            }
            return true;
        }
        case TypeObject: {
            if (depth >= m_maxDepth)
                return tooDeep();
            return object(out.emplace_object(), depth + 1);
        }
        case TypeJsonText: {
            std::string_view raw;
            return sized(raw) && embeddedJson(raw, depth, out);
        }
        default: return fail("unknown value type");
        }
    }

    /// JSON text at `depth` (the containers around it count against maxDepth) into `out`.
    bool embeddedJson(std::string_view text, std::size_t depth, json::value &out)
    {
        json::value parsed(m_storage);
        const std::size_t room = depth < m_maxDepth ? m_maxDepth - depth : 0;
        if (std::optional<JsonProblem> bad = parseJson(text, parsed, JsonParseOptions{room})) {
            if (bad->kind != JsonProblem::Kind::NumberOutOfRange) {
                problem = std::move(bad);
                return false;
            }
            noteNumberOutOfRange(std::move(*bad)); // `parsed` holds nulls in their place
        }
        out = std::move(parsed);
        return true;
    }

    bool object(json::object &object, std::size_t depth)
    {
        std::uint64_t count = 0;
        if (!varint(count))
            return false;
        if (count > m_bytes.size() / 2) // a key and a value take a byte each at least
            return fail("truncated");
        object.reserve(static_cast<std::size_t>(count));
        for (std::uint64_t i = 0; i < count; ++i) {
            unsigned char key = 0;
            if (!byte(key))
                return false;
            std::string_view name;
            if (key == 0) {
                if (!text(name))
                    return false;
            } else if (key > kDictionary.size()) {
                return fail("unknown dictionary word");
            } else {
                name = kDictionary[key - 1];
            }
            json::value member(m_storage);
            if (!value(member, depth))
                return false;
            object[json::string_view(name.data(), name.size())] = std::move(member);
        }
        return true;
    }

    bool fail(std::string_view what)
    {
        if (!problem)
            problem = syntax(what);
        return false;
    }

    /// A number no JSON text can carry: decoding goes on (the value is null), the frame is
    /// refused in the end with NumberOutOfRange.
    void noteNumberOutOfRange(JsonProblem why)
    {
        if (!numberOutOfRange)
            numberOutOfRange = std::move(why);
    }
    std::optional<JsonProblem> numberOutOfRange;

    bool tooDeep()
    {
        problem = JsonProblem{JsonProblem::Kind::TooDeep, "nested too deeply"};
        return false;
    }


private:
    bool dictionaryWord(std::string_view &out)
    {
        unsigned char index = 0;
        if (!byte(index))
            return false;
        if (index == 0 || index > kDictionary.size())
            return fail("unknown dictionary word");
        out = kDictionary[index - 1];
        return true;
    }

    std::string_view m_bytes;
    json::storage_ptr m_storage;
    std::size_t m_maxDepth;
};

bool readMessage(Reader &in, unsigned char flags, json::object &frame)
{
    std::string_view channel;
    std::string_view event;
    std::uint64_t offset = 0;
    std::uint64_t ts = 0;
    if (!in.text(channel) || !in.text(event) || !in.varint(offset) || !in.varint(ts))
        return false;
    // The sender's bytes; with the hex flag its 16 bytes, written out as 32 digits below.
    std::string_view sender;
    if (flags & kSenderHex) {
        if (!(flags & kSenderPresent))
            return in.fail("hex sender flag without a sender");
        if (!in.bytes(16, sender))
            return false;
    } else if (flags & kSenderPresent) {
        if (!in.text(sender))
            return false;
    }
    std::string_view replyTo;
    if ((flags & kReplyToPresent) && !in.text(replyTo))
        return false;
    const std::string_view payload = in.rest();

    frame.reserve(8);
    frame["op"] = "message";
    frame["channel"] = json::string_view(channel.data(), channel.size());
    frame["event"] = json::string_view(event.data(), event.size());
    json::value &data = frame["data"];
    if (flags & kDataString) {
        if (!detail::isValidUtf8(payload))
            return in.fail("invalid UTF-8");
        // What the quoted form would have been: a JSON string without escapes.
        for (const char c : payload)
            if (c == '"' || c == '\\' || static_cast<unsigned char>(c) < 0x20)
                return in.fail("a string payload needing escapes");
        data = json::string_view(payload.data(), payload.size());
    } else if (!in.embeddedJson(payload, 1, data)) { // data sits in the frame object
        return false;
    }
    // As JSON text would parse: an integer that fits int64 is an int64.
    if (offset <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
        frame["offset"] = static_cast<std::int64_t>(offset);
    else
        frame["offset"] = offset;
    frame["ts"] = unzigzag(ts);
    if (flags & kSenderHex) {
        static constexpr char kDigits[] = "0123456789abcdef";
        json::string &hex = frame["sender"].emplace_string();
        hex.resize(32);
        for (std::size_t i = 0; i < 16; ++i) {
            const auto byte = static_cast<unsigned char>(sender[i]);
            hex[2 * i] = kDigits[byte >> 4];
            hex[2 * i + 1] = kDigits[byte & 0xF];
        }
    } else if (flags & kSenderPresent) {
        frame["sender"] = json::string_view(sender.data(), sender.size());
    }
    if (flags & kReplyToPresent)
        frame["replyTo"] = json::string_view(replyTo.data(), replyTo.size());
    return true;
}

} // namespace

std::optional<std::string> translateToBinary(std::string_view text)
{
    if (const std::optional<MessageFrameView> message = decodeMessageFrame(text))
        return translateMessage(*message);
    unsigned char buffer[4096];
    json::monotonic_resource arena(buffer, sizeof buffer);
    const json::storage_ptr storage(&arena);
    json::value root(storage);
    if (parseJson(text, root, JsonParseOptions{128}) || !root.is_object())
        return std::nullopt;
    std::string out;
    out.reserve(text.size());
    out.push_back(static_cast<char>(kTagValue));
    putObject(out, root.get_object());
    return out;
}

const SharedFrame &binaryFormOf(const SharedFrame &frame)
{
    if (frame->kind == Frame::Kind::Binary)
        return frame;
    const SharedFrame &translated = frame->binary.getOrBuild([&]() -> SharedFrame {
        std::optional<std::string> bytes = translateToBinary(frame->bytes);
        if (!bytes)
            return nullptr;
        Frame binary{std::move(*bytes), Frame::Kind::Binary, frame->compress, {}, {}, {}, {}};
        binary.policy = frame->policy; // conflates as the frame it encodes
        binary.conflationKey = frame->conflationKey;
        return std::make_shared<const Frame>(std::move(binary));
    });
    return translated ? translated : frame;
}

std::string encodeBinaryObject(const json::object &frame)
{
    std::string out;
    out.push_back(static_cast<char>(kTagValue));
    putObject(out, frame);
    return out;
}

bool isBinaryProtocolFrame(std::string_view bytes) noexcept
{
    if (bytes.empty())
        return false;
    const auto tag = static_cast<unsigned char>(bytes.front());
    return tag == kTagValue || (tag & 0xF0) == kTagMessage;
}

std::optional<JsonProblem> decodeBinaryProtocolFrame(std::string_view bytes, json::value &out, std::size_t maxDepth)
{
    const json::storage_ptr storage = out.storage();
    out.emplace_null();
    if (bytes.empty())
        return syntax("empty");
    const auto tag = static_cast<unsigned char>(bytes.front());
    Reader in(bytes.substr(1), storage, maxDepth);
    bool ok = false;
    if (tag == kTagValue) {
        ok = in.value(out, 0);
        if (ok && !in.atEnd())
            ok = in.fail("trailing bytes");
    } else if ((tag & 0xF0) == kTagMessage) {
        ok = maxDepth > 0 ? readMessage(in, tag & 0x0F, out.emplace_object()) : in.tooDeep();
    } else {
        ok = in.fail(tag == kTagBroadcast ? "a binary broadcast frame" : "unknown tag");
    }
    if (ok)
        return std::move(in.numberOutOfRange); // with it, `out` holds the frame with nulls
    out.emplace_null();
    return in.problem ? std::move(in.problem) : syntax("malformed");
}

} // namespace switchboard
