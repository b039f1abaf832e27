#include "StaticFiles.h"


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
        return StaticAnswer{std::nullopt, errorResponse(http::status::not_found, "not found"), std::move(refusal)};
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
    http::file_body::value_type body;
    boost::beast::error_code openError;
    body.open(real.c_str(), boost::beast::file_mode::scan, openError);
    if (openError)
        return notFound();
    const auto setHeaders = [&](auto &res) {
        res.set(http::field::server, "switchboard-gateway");
        res.set(http::field::content_type, mimeType(real));
        res.set(http::field::cache_control, "no-cache");
    };
    if (headOnly) {
        StaticAnswer answer;
        answer.response = Response{http::status::ok, 11};
        setHeaders(answer.response);
        answer.response.content_length(body.size());
        return answer;
    }
    StaticAnswer answer;
    answer.file.emplace(std::piecewise_construct, std::make_tuple(std::move(body)), std::make_tuple(http::status::ok, 11));
    setHeaders(*answer.file);
    answer.file->prepare_payload();
    return answer;
}

} // namespace switchboard::asio
