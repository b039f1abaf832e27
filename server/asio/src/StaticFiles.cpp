#include "StaticFiles.h"

#include <fstream>
#include <sstream>

namespace switchboard::asio {

namespace {

std::string_view mimeType(const std::filesystem::path &file)
{
    static constexpr std::pair<std::string_view, std::string_view> types[] = {
        {".html", "text/html; charset=utf-8"}, {".htm", "text/html; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"}, {".mjs", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"}, {".json", "application/json"},
        {".wasm", "application/wasm"}, {".svg", "image/svg+xml"}, {".png", "image/png"},
        {".jpg", "image/jpeg"}, {".jpeg", "image/jpeg"}, {".gif", "image/gif"},
        {".ico", "image/x-icon"}, {".txt", "text/plain; charset=utf-8"}, {".map", "application/json"},
        {".woff2", "font/woff2"}, {".data", "application/octet-stream"}};
    const std::string ext = file.extension().string();
    for (const auto &[e, type] : types) {
        if (e == ext)
            return type;
    }
    return "application/octet-stream";
}

} // namespace

StaticAnswer serveStatic(const std::filesystem::path &root, std::string_view decodedPath, bool headOnly)
{
    namespace fs = std::filesystem;
    auto notFound = [](std::string refusal = {}) {
        return StaticAnswer{errorResponse(http::status::not_found, "not found"), std::move(refusal)};
    };
    if (root.empty() || decodedPath.empty() || decodedPath.front() != '/')
        return notFound();
    if (decodedPath.find('\0') != std::string_view::npos || decodedPath.find('\\') != std::string_view::npos)
        return notFound("NUL or backslash in the path");
    fs::path relative;
    std::size_t pos = 1;
    while (pos <= decodedPath.size()) {
        const std::size_t slash = std::min(decodedPath.find('/', pos), decodedPath.size());
        const std::string_view segment = decodedPath.substr(pos, slash - pos);
        // Dotfiles and dot-directories (.git, .env) are never served; this also refuses `.`/`..`.
        if (!segment.empty() && segment.front() == '.')
            return notFound("dot segment in the path");
        if (!segment.empty())
            relative /= std::string(segment);
        pos = slash + 1;
    }
    std::error_code ec;
    fs::path file = root / relative;
    if (fs::is_directory(file, ec))
        file /= "index.html";
    // Symlinks are followed, but what they lead to must still be inside the root and carry no
    // dot name: compare real paths.
    const fs::path real = fs::canonical(file, ec);
    if (ec)
        return notFound();
    const fs::path realRoot = fs::canonical(root, ec);
    if (ec)
        return notFound();
    const fs::path inside = real.lexically_relative(realRoot);
    if (inside.empty() || *inside.begin() == "..")
        return notFound("resolves outside the static root");
    for (const fs::path &part : inside) {
        if (!part.empty() && part.native().front() == '.')
            return notFound("resolves to a dot name");
    }
    if (!fs::is_regular_file(real, ec))
        return notFound();
    std::ifstream in(real, std::ios::binary);
    if (!in)
        return notFound();
    std::ostringstream content;
    content << in.rdbuf();
    Response res = makeResponse(http::status::ok, headOnly ? std::string() : content.str(), mimeType(real));
    if (headOnly)
        res.content_length(content.str().size());
    res.set(http::field::cache_control, "no-cache");
    return {std::move(res), {}};
}

} // namespace switchboard::asio
