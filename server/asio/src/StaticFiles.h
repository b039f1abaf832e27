#pragma once
// StaticFiles: GET/HEAD of files under one folder (the browser client). `/` serves index.html.
// A found file is opened, not read: the response streams it (Beast's file_body reads it in
// small chunks as the socket takes them), so memory per download does not grow with the file.
// Precompressed variants next to a file (FILE.br, FILE.gz) are sent when the request accepts
// them; every answer has a strong ETag (If-None-Match -> 304) and a Cache-Control by name
// (StaticNegotiation.h).

#include "HttpTypes.h"

#include <filesystem>
#include <optional>
#include <string>

namespace switchboard::asio {

using FileResponse = http::response<http::file_body>;

/// The answer to a static file request, and why it was refused when it was.
struct StaticAnswer {
    std::optional<FileResponse> file; ///< set: the open file to stream (GET)
    Response response;                ///< otherwise: this answer (404, or HEAD's headers)
    std::string refusal;              ///< non-empty: the path (or a variant of it) was refused: why
    std::string_view encoding;        ///< the Content-Encoding sent ("br", "gzip"), empty for identity
    bool notModified = false;         ///< answered 304: If-None-Match matched
};

/// `decodedPath` is the percent-decoded URL path. Answers 404 for missing files and for refused
/// paths: NUL or backslashes, any segment starting with '.' (dotfiles, dot-directories, `.` and
/// `..`), and anything whose real path (symlinks resolved) is outside the real path of `root` or
/// passes through a dot name inside it. A variant (FILE.br, FILE.gz) must pass the same checks
/// (real path inside the root, no dot name) or it is not sent (the file itself is, and `refusal`
/// says why). `acceptEncoding` and `ifNoneMatch` are the request's header values (empty when
/// absent). Thread-safe (reads files only).
StaticAnswer serveStatic(const std::filesystem::path &root, std::string_view decodedPath, bool headOnly,
                         std::string_view acceptEncoding = {}, std::string_view ifNoneMatch = {});

} // namespace switchboard::asio
