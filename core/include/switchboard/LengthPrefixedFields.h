#pragma once
// LengthPrefixedFields: the `<decimal length>:<bytes>` field encoding used by core's routed replies
// (ReplyRoute) and the Redis engine's publication bodies (PublicationCodec). Fields may hold any
// bytes, colons and NULs included, since the length says where each one ends.

#include <string>
#include <string_view>

namespace switchboard::detail {

/// Appends `value` to `out` as `<value.size()>:<value>`.
void putLengthPrefixedField(std::string &out, std::string_view value);

/// Reads one field from the front of `in`: on success sets `value` to a view into `in`'s bytes
/// (valid as long as they are), removes the field from `in` and returns true. On a malformed or
/// truncated field returns false and leaves both unchanged. Thread safety: pure function.
bool takeLengthPrefixedField(std::string_view &in, std::string_view &value) noexcept;

} // namespace switchboard::detail
