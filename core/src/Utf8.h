#pragma once
// Strict UTF-8 validation for client text frames (RFC 3629): no overlong forms, no surrogates,
// nothing above U+10FFFF, no truncated sequences. A text frame that fails is closed with 1007.
// The server's own text frames must pass it too: a client closes a connection whose server sends
// invalid UTF-8 (RFC 6455 8.1).

#include <cstddef>
#include <string>
#include <string_view>

namespace switchboard::detail {

/// True when `text` is well-formed UTF-8. Pure function, thread-safe, never allocates.
bool isValidUtf8(std::string_view text) noexcept;

/// The longest well-formed UTF-8 prefix of `text`. Text quoted in a message the server sends is
/// cut with it, so a cut never ends inside a character: `validUtf8Prefix(valid.substr(0, n))`
/// is the first n bytes of `valid` less a partial character at the end.
std::string_view validUtf8Prefix(std::string_view text) noexcept;

/// What a message the server sends shows of `text` it quotes (an unknown op, a filter, an app
/// key from a URL): its longest well-formed prefix of at most `maxBytes`, followed by "..." when
/// that is not all of it. The message stays small and UTF-8, whatever the client sent.
std::string shownText(std::string_view text, std::size_t maxBytes = 64);

} // namespace switchboard::detail
