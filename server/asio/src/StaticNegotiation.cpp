#include "StaticNegotiation.h"
#include "switchboard/websocket/HeaderValue.h"

#include <algorithm>
#include <cstdio>

namespace switchboard::asio {

namespace {

bool equalsNoCase(std::string_view a, std::string_view b)
{
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
        return (x >= 'A' && x <= 'Z' ? char(x + 32) : x) == (y >= 'A' && y <= 'Z' ? char(y + 32) : y);
    });
}

/// A qvalue (RFC 9110 12.4.2: "0", "0.5", "1.000") in thousandths; -1 when malformed.
int parseQ(std::string_view text)
{
    if (text.empty() || (text[0] != '0' && text[0] != '1'))
        return -1;
    int value = (text[0] - '0') * 1000;
    if (text.size() == 1)
        return value;
    if (text[1] != '.' || text.size() > 5)
        return -1;
    int scale = 100;
    for (char c : text.substr(2)) {
        if (c < '0' || c > '9')
            return -1;
        value += (c - '0') * scale;
        scale /= 10;
    }
    return value > 1000 ? -1 : value;
}

} // namespace

std::string_view codingName(Coding coding)
{
    switch (coding) {
    case Coding::br: return "br";
    case Coding::gzip: return "gzip";
    case Coding::identity: break;
    }
    return {};
}

std::string_view variantSuffix(Coding coding)
{
    switch (coding) {
    case Coding::br: return ".br";
    case Coding::gzip: return ".gz";
    case Coding::identity: break;
    }
    return {};
}

std::array<Coding, 3> preferredCodings(std::string_view acceptEncoding, std::size_t *count)
{
    // q in thousandths per coding (index = Coding); -1: not named.
    int named[3] = {-1, -1, -1};
    int wildcard = -1;
    std::size_t pos = 0;
    while (pos <= acceptEncoding.size()) {
        const std::size_t comma = std::min(acceptEncoding.find(',', pos), acceptEncoding.size());
        std::string_view element = acceptEncoding.substr(pos, comma - pos);
        pos = comma + 1;
        const std::size_t semi = element.find(';');
        const std::string_view name = websocket::trimOptionalWhitespace(element.substr(0, semi));
        if (name.empty())
            continue;
        int q = 1000;
        if (semi != std::string_view::npos) {
            const std::string_view param = websocket::trimOptionalWhitespace(element.substr(semi + 1));
            const std::size_t eq = param.find('=');
            if (eq == std::string_view::npos || !equalsNoCase(websocket::trimOptionalWhitespace(param.substr(0, eq)), "q"))
                continue;
            q = parseQ(websocket::trimOptionalWhitespace(param.substr(eq + 1)));
            if (q < 0)
                continue;
        }
        if (equalsNoCase(name, "br"))
            named[int(Coding::br)] = q;
        else if (equalsNoCase(name, "gzip") || equalsNoCase(name, "x-gzip"))
            named[int(Coding::gzip)] = q;
        else if (equalsNoCase(name, "identity"))
            named[int(Coding::identity)] = q;
        else if (name == "*")
            wildcard = q;
    }
    int q[3];
    for (int i = 0; i < 3; ++i)
        q[i] = named[i] >= 0 ? named[i] : (wildcard >= 0 ? wildcard : (i == int(Coding::identity) ? 1 : 0));
    std::array<Coding, 3> order{Coding::br, Coding::gzip, Coding::identity};
    // Stable: equal q keeps br, gzip, identity.
    std::stable_sort(order.begin(), order.end(), [&](Coding a, Coding b) { return q[int(a)] > q[int(b)]; });
    std::size_t n = 0;
    std::array<Coding, 3> out{Coding::identity, Coding::identity, Coding::identity};
    for (Coding c : order) {
        if (c == Coding::identity)
            break;
        if (q[int(c)] > 0)
            out[n++] = c;
    }
    out[n++] = Coding::identity; // sent when no variant exists or nothing else is acceptable
    *count = n;
    return out;
}

std::string strongEtag(std::uintmax_t size, std::int64_t mtimeNanoseconds, Coding coding)
{
    char buffer[64];
    std::snprintf(buffer, sizeof buffer, "\"%jx-%llx", size, static_cast<unsigned long long>(mtimeNanoseconds));
    std::string tag = buffer;
    if (coding == Coding::br)
        tag += "-br";
    else if (coding == Coding::gzip)
        tag += "-gz";
    return tag + '"';
}

bool ifNoneMatchMatches(std::string_view ifNoneMatch, std::string_view etag)
{
    const std::string_view value = websocket::trimOptionalWhitespace(ifNoneMatch);
    if (value == "*")
        return true;
    const std::string_view opaque = etag.substr(0, 2) == "W/" ? etag.substr(2) : etag;
    std::size_t pos = 0;
    while (pos < value.size()) {
        while (pos < value.size() && (value[pos] == ' ' || value[pos] == '\t' || value[pos] == ','))
            ++pos;
        if (value.substr(pos, 2) == "W/")
            pos += 2;
        if (pos >= value.size() || value[pos] != '"')
            return false; // malformed list: no match
        const std::size_t close = value.find('"', pos + 1);
        if (close == std::string_view::npos)
            return false;
        if (value.substr(pos, close + 1 - pos) == opaque)
            return true;
        pos = close + 1;
    }
    return false;
}

bool isVersionedName(std::string_view fileName)
{
    const std::size_t last = fileName.rfind('.');
    if (last == std::string_view::npos || last == 0)
        return false;
    const std::size_t before = fileName.rfind('.', last - 1);
    if (before == std::string_view::npos || before == 0)
        return false;
    const std::string_view hash = fileName.substr(before + 1, last - before - 1);
    return hash.size() >= 8 && hash.size() <= 64
        && std::all_of(hash.begin(), hash.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

} // namespace switchboard::asio
