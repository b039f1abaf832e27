#pragma once
// StaticFiles: GET/HEAD of files under one folder (the browser client). `/` serves index.html.

#include "HttpTypes.h"

#include <filesystem>
#include <string>

namespace switchboard::asio {

/// The answer to a static file request, and why it was refused when it was.
struct StaticAnswer {
    Response response;
    std::string refusal; ///< non-empty: the path was refused (outside the root, a dot name): why
};

/// `decodedPath` is the percent-decoded URL path. Answers 404 for missing files and for refused
/// paths: NUL or backslashes, any segment starting with '.' (dotfiles, dot-directories, `.` and
/// `..`), and anything whose real path (symlinks resolved) is outside the real path of `root` or
/// passes through a dot name inside it. Thread-safe (reads files only).
StaticAnswer serveStatic(const std::filesystem::path &root, std::string_view decodedPath, bool headOnly);

} // namespace switchboard::asio
