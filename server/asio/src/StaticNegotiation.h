#pragma once
// StaticNegotiation: how a static file's answer is chosen from the request's headers: which
// precompressed variant (Accept-Encoding), whether the client's copy is current (If-None-Match),
// and how long the answer may be cached (by the file name). Pure functions on strings: no I/O,
// thread-safe.

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace switchboard::asio {

/// The content codings a static file can be sent in: the file itself (identity) or a
/// precompressed variant next to it (FILE.br, FILE.gz).
enum class Coding { br, gzip, identity };

/// `Content-Encoding` value ("br", "gzip"; empty for identity).
std::string_view codingName(Coding coding);
/// Suffix of the variant file (".br", ".gz"; empty for identity).
std::string_view variantSuffix(Coding coding);

/// The codings a request accepts, best first: those with q > 0 by falling q-value (RFC 9110
/// 12.5.3; ties prefer br, then gzip, then identity), always ending with identity (sent when
/// nothing acceptable exists). Names are case-insensitive, `x-gzip` is gzip, `*` covers the
/// codings not named; an absent or empty header accepts identity only; an element with a
/// malformed q-value is ignored.
std::array<Coding, 3> preferredCodings(std::string_view acceptEncoding, std::size_t *count);

/// A strong entity tag for a file of `size` bytes modified at `mtimeNanoseconds`, sent in
/// `coding`: "<size hex>-<mtime hex>[-br|-gz]" in quotes (one tag per variant).
std::string strongEtag(std::uintmax_t size, std::int64_t mtimeNanoseconds, Coding coding);

/// Whether `ifNoneMatch` (the header's value) matches `etag`: `*`, or any listed tag equal to it
/// by the weak comparison If-None-Match uses (a `W/` prefix is ignored).
bool ifNoneMatchMatches(std::string_view ifNoneMatch, std::string_view etag);

/// Whether a file name carries a content hash: its next-to-last dot part is 8 to 64 lower-case
/// hex digits (`switchboard.3f2a9c1b.js`). Such names never change content: cached for a year,
/// `immutable`; every other file is `no-cache` (revalidated with its ETag).
bool isVersionedName(std::string_view fileName);

} // namespace switchboard::asio
