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

Response serveStatic(const std::filesystem::path &root, std::string_view decodedPath, bool headOnly)
{
    auto notFound = [] { return errorResponse(http::status::not_found, "not found"); };
    if (root.empty() || decodedPath.empty() || decodedPath.front() != '/'
        || decodedPath.find('\0') != std::string_view::npos || decodedPath.find('\\') != std::string_view::npos)
        return notFound();
    std::filesystem::path relative;
    std::size_t pos = 1;
    while (pos <= decodedPath.size()) {
        const std::size_t slash = std::min(decodedPath.find('/', pos), decodedPath.size());
        const std::string_view segment = decodedPath.substr(pos, slash - pos);
        if (segment == "..")
            return notFound();
        if (!segment.empty() && segment != ".")
            relative /= std::string(segment);
        pos = slash + 1;
    }
    std::filesystem::path file = root / relative;
    std::error_code ec;
    if (std::filesystem::is_directory(file, ec))
        file /= "index.html";
    if (!std::filesystem::is_regular_file(file, ec))
        return notFound();
    std::ifstream in(file, std::ios::binary);
    if (!in)
        return notFound();
    std::ostringstream content;
    content << in.rdbuf();
    Response res = makeResponse(http::status::ok, headOnly ? std::string() : content.str(), mimeType(file));
    if (headOnly)
        res.content_length(content.str().size());
    res.set(http::field::cache_control, "no-cache");
    return res;
}

} // namespace switchboard::asio
