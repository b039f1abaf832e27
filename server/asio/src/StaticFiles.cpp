#include "StaticFiles.h"

#include "StaticNegotiation.h"

#include <chrono>


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

StaticAnswer serveStatic(const std::filesystem::path &root, std::string_view decodedPath, bool headOnly,
                         std::string_view acceptEncoding, std::string_view ifNoneMatch)
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
    // Why a real path may not be served (empty: it may).
    const auto refusedAt = [&](const fs::path &realPath) -> std::string {
        const fs::path inside = realPath.lexically_relative(realRoot);
        if (inside.empty() || *inside.begin() == "..")
            return "resolves outside the static root";
        for (const fs::path &part : inside) {
            if (!part.empty() && part.native().front() == '.')
                return "resolves to a dot name";
        }
        return {};
    };
    if (std::string why = refusedAt(real); !why.empty())
        return notFound(std::move(why));
    if (!fs::is_regular_file(real, ec))
        return notFound();

    // The best acceptable coding that exists as a regular file inside the root.
    StaticAnswer answer;
    std::size_t codingCount = 0;
    const auto codings = preferredCodings(acceptEncoding, &codingCount);
    Coding coding = Coding::identity;
    fs::path sent = real;
    for (std::size_t i = 0; i < codingCount && codings[i] != Coding::identity; ++i) {
        fs::path variant = real;
        variant += std::string(variantSuffix(codings[i]));
        const fs::path realVariant = fs::canonical(variant, ec);
        if (ec || !fs::is_regular_file(realVariant, ec))
            continue;
        if (std::string why = refusedAt(realVariant); !why.empty()) {
            answer.refusal = "variant " + variant.filename().string() + " " + why;
            continue;
        }
        coding = codings[i];
        sent = realVariant;
        break;
    }

    http::file_body::value_type body;
    boost::beast::error_code openError;
    body.open(sent.c_str(), boost::beast::file_mode::scan, openError);
    if (openError)
        return notFound();
    const auto mtime = fs::last_write_time(sent, ec);
    const std::int64_t mtimeNs = ec ? 0
        : std::chrono::duration_cast<std::chrono::nanoseconds>(mtime.time_since_epoch()).count();
    const std::string etag = strongEtag(body.size(), mtimeNs, coding);
    answer.encoding = codingName(coding);
    const auto setHeaders = [&](auto &res) {
        res.set(http::field::server, "switchboard-gateway");
        res.set(http::field::content_type, mimeType(real));
        res.set(http::field::cache_control, isVersionedName(real.filename().string())
                                                ? "public, max-age=31536000, immutable" : "no-cache");
        res.set(http::field::etag, etag);
        res.set(http::field::vary, "Accept-Encoding");
        if (!answer.encoding.empty())
            res.set(http::field::content_encoding, answer.encoding);
    };
    if (!ifNoneMatch.empty() && ifNoneMatchMatches(ifNoneMatch, etag)) {
        answer.notModified = true;
        answer.response = Response{http::status::not_modified, 11};
        setHeaders(answer.response);
        answer.response.erase(http::field::content_type);
        return answer;
    }
    if (headOnly) {
        answer.response = Response{http::status::ok, 11};
        setHeaders(answer.response);
        answer.response.content_length(body.size());
        return answer;
    }
    answer.file.emplace(std::piecewise_construct, std::make_tuple(std::move(body)), std::make_tuple(http::status::ok, 11));
    setHeaders(*answer.file);
    answer.file->prepare_payload();
    return answer;
}

} // namespace switchboard::asio
