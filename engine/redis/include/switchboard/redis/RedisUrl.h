#pragma once
// RedisUrl: where a Redis server is and how to log in, parsed from
// redis[s]://[[user]:password@]host[:port][/db].

#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace switchboard::redis {

/// Value type. `rediss://` sets `tls`: the hiredis this engine builds against (0.14) has no TLS,
/// so such a URL needs a RedisConnector from the host (switchboard-gateway provides one); without
/// it every connection attempt fails with a clear reason.
struct RedisUrl {
    bool tls = false; ///< rediss://
    std::string host = "127.0.0.1";
    std::uint16_t port = 6379;
    int database = 0;
    std::string user;     ///< Redis 6 ACL user; empty: AUTH with the password only
    std::string password; ///< empty: no AUTH

    /// Parses `text`; on failure returns false and sets `error` to a one-line reason.
    static bool parse(std::string_view text, RedisUrl &out, std::string &error);
    /// Parses the shards of a deployment: one URL or several separated by commas, in shard order
    /// (`redis://a:6379,redis://b:6379`). A comma inside a password is written `%2C`. Refuses an
    /// empty entry and the same server (host, port, database) twice; on failure returns false and
    /// sets `error` (naming the entry).
    static bool parseList(std::string_view text, std::vector<RedisUrl> &out, std::string &error);
    /// redis[s]://host:port/db, without credentials (for logs).
    std::string display() const;
};

} // namespace switchboard::redis
