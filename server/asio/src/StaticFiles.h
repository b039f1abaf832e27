#pragma once
// StaticFiles: GET/HEAD of files under one folder (the browser client). `/` serves index.html.

#include "HttpTypes.h"

#include <filesystem>

namespace switchboard::asio {

/// `decodedPath` is the percent-decoded URL path. Paths with `..`, NUL or backslashes are
/// refused (404), as is anything outside `root`. Thread-safe (reads files only).
Response serveStatic(const std::filesystem::path &root, std::string_view decodedPath, bool headOnly);

} // namespace switchboard::asio
