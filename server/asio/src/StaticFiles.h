#pragma once
// StaticFiles: GET/HEAD of files under one folder (the browser client). `/` serves index.html.
// A found file is opened, not read: the response streams it (Beast's file_body reads it in
// small chunks as the socket takes them), so memory per download does not grow with the file.

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
    std::string refusal;              ///< non-empty: the path was refused (outside the root, a dot name): why
};

/// `decodedPath` is the percent-decoded URL path. Answers 404 for missing files and for refused
/// paths: NUL or backslashes, any segment starting with '.' (dotfiles, dot-directories, `.` and
/// `..`), and anything whose real path (symlinks resolved) is outside the real path of `root` or
/// passes through a dot name inside it. Thread-safe (reads files only).
StaticAnswer serveStatic(const std::filesystem::path &root, std::string_view decodedPath, bool headOnly);

} // namespace switchboard::asio
