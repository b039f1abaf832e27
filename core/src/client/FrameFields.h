#pragma once
// Typed reads of server frame fields, tolerant of absent or mistyped members. Private to the client.

#include "switchboard/JsonParse.h"
#include "switchboard/PresenceStore.h"

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <optional>
#include <string_view>

namespace switchboard::client {

namespace json = boost::json;

inline const json::value &nullValue()
{
    static const json::value value;
    return value;
}

inline std::string_view stringField(const json::object &o, std::string_view key)
{
    if (const json::value *v = o.if_contains(key); v && v->is_string())
        return v->get_string();
    return {};
}

inline std::optional<std::uint64_t> uintOf(const json::value &v)
{
    if (v.is_uint64())
        return v.get_uint64();
    if (v.is_int64() && v.get_int64() >= 0)
        return static_cast<std::uint64_t>(v.get_int64());
    return std::nullopt;
}

inline std::uint64_t uintField(const json::object &o, std::string_view key)
{
    if (const json::value *v = o.if_contains(key))
        return uintOf(*v).value_or(0);
    return 0;
}

inline std::int64_t intField(const json::object &o, std::string_view key, std::int64_t fallback)
{
    if (const json::value *v = o.if_contains(key)) {
        if (v->is_int64())
            return v->get_int64();
        if (v->is_uint64())
            return static_cast<std::int64_t>(std::min<std::uint64_t>(v->get_uint64(), INT64_MAX));
    }
    return fallback;
}

inline bool boolField(const json::object &o, std::string_view key)
{
    const json::value *v = o.if_contains(key);
    return v && v->is_bool() && v->get_bool();
}

/// The client sends numeric ackIds; the server echoes them in the same form. A string of digits
/// is accepted as well.
inline std::uint64_t ackIdOf(const json::object &o)
{
    const json::value *v = o.if_contains("ackId");
    if (!v)
        return 0;
    if (auto n = uintOf(*v))
        return *n;
    if (v->is_string()) {
        const json::string &s = v->get_string();
        std::uint64_t n = 0;
        auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
        if (ec == std::errc() && end == s.data() + s.size())
            return n;
    }
    return 0;
}

/// JSON text given by the user as a payload: empty means null. Returns false when invalid or
/// when it holds a number the server would refuse (switchboard/JsonParse.h).
inline bool parsePayload(std::string_view text, json::value &out)
{
    if (text.empty()) {
        out = nullptr;
        return true;
    }
    return !parseJson(text, out);
}

inline Member memberOf(const json::value &v)
{
    Member member;
    if (!v.is_object())
        return member;
    const json::object &o = v.get_object();
    if (const json::value *id = o.if_contains("id")) {
        if (id->is_string())
            member.userId = std::string(id->get_string());
        else if (!id->is_null())
            member.userId = json::serialize(*id);
    }
    if (const json::value *info = o.if_contains("info"))
        member.info = json::serialize(*info);
    member.connections = static_cast<std::size_t>(uintField(o, "connections"));
    return member;
}

} // namespace switchboard::client
