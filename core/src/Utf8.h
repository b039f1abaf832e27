#pragma once
// Strict UTF-8 validation for client text frames (RFC 3629): no overlong forms, no surrogates,
// nothing above U+10FFFF, no truncated sequences. A text frame that fails is closed with 1007.

#include <string_view>

namespace switchboard::detail {

/// True when `text` is well-formed UTF-8. Pure function, thread-safe, never allocates.
bool isValidUtf8(std::string_view text) noexcept;

} // namespace switchboard::detail
