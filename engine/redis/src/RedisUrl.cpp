#include "switchboard/redis/RedisUrl.h"

#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

#include <charconv>

namespace switchboard::redis {

bool RedisUrl::parse(std::string_view text, RedisUrl &out, std::string &error)
{
    auto parsed = boost::urls::parse_absolute_uri(text);
    if (!parsed) {
        error = "not a URL: " + std::string(text);
        return false;
    }
    const boost::urls::url_view url = *parsed;
    if (url.scheme() != "redis" && url.scheme() != "rediss") {
        error = "the engine URL must start with redis:// or rediss://";
        return false;
    }
    RedisUrl result;
    result.tls = url.scheme() == "rediss";
    if (url.host().empty()) {
        error = "the engine URL has no host";
        return false;
    }
    result.host = url.host_address();
    if (url.has_port()) {
        // port_number() wraps values over 65535 (99999 became 34463): read the digits instead.
        const std::string_view digits = url.port();
        unsigned port = 0;
        const auto parsedPort = std::from_chars(digits.data(), digits.data() + digits.size(), port);
        if (parsedPort.ec != std::errc{} || parsedPort.ptr != digits.data() + digits.size() || port == 0 || port > 65535) {
            error = "the engine URL has an invalid port";
            return false;
        }
        result.port = static_cast<std::uint16_t>(port);
    }
    if (url.has_userinfo()) {
        result.user = url.user();
        result.password = url.password();
    }
    std::string_view path = url.encoded_path();
    if (!path.empty() && path != "/") {
        path.remove_prefix(1);
        int db = -1;
        const auto [end, ec] = std::from_chars(path.data(), path.data() + path.size(), db);
        if (ec != std::errc{} || end != path.data() + path.size() || db < 0) {
            error = "the engine URL path must be a database number (/0)";
            return false;
        }
        result.database = db;
    }
    out = std::move(result);
    return true;
}

bool RedisUrl::parseList(std::string_view text, std::vector<RedisUrl> &out, std::string &error)
{
    std::vector<RedisUrl> result;
    for (;;) {
        const std::size_t comma = text.find(',');
        const std::string_view entry = text.substr(0, comma);
        RedisUrl url;
        if (entry.empty()) {
            error = "empty entry in the list of Redis URLs";
            return false;
        }
        if (!parse(entry, url, error)) {
            if (result.empty() && comma == std::string_view::npos)
                return false;
            error = "shard " + std::to_string(result.size()) + ": " + error;
            return false;
        }
        for (const RedisUrl &other : result) {
            if (other.host == url.host && other.port == url.port && other.database == url.database) {
                error = "shard " + std::to_string(result.size()) + " repeats " + url.display();
                return false;
            }
        }
        result.push_back(std::move(url));
        if (comma == std::string_view::npos)
            break;
        text.remove_prefix(comma + 1);
    }
    out = std::move(result);
    return true;
}

std::string RedisUrl::display() const
{
    return std::string(tls ? "rediss://" : "redis://") + host + ":" + std::to_string(port) + "/" + std::to_string(database);
}

} // namespace switchboard::redis
