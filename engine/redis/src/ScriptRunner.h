#pragma once
// ScriptRunner: one Lua script of the Redis engine and the SHA Redis knows it by, run with EVALSHA
// (a few bytes a call) and resent with EVAL when Redis no longer has it.

#include "RedisConnection.h"

#include <functional>
#include <string>
#include <vector>

struct redisReply;

namespace switchboard::redis::detail {

/// Contract:
/// - load() sends SCRIPT LOAD and remembers the SHA Redis answers. Send it first on a new
///   connection (RedisConnection::onReady), so the EVALSHAs queued behind it find the script.
/// - run() sends EVALSHA when the SHA is known, EVAL (the whole source) otherwise. When Redis
///   answers NOSCRIPT (its script cache was flushed, or it restarted behind a proxy), the SHA is
///   forgotten, `onNoScript` runs (the owner reloads all its scripts: a flush lost them all) and
///   the same call is resent once with EVAL; `done` gets the EVAL's reply. A NOSCRIPT reply is
///   never passed to `done`.
/// - `done` runs exactly once: with the reply (possibly an error reply), or with null when the
///   call could not be sent (the connection is not ready) or the connection was lost before the
///   reply. It may run before run() returns.
///
/// Ownership: the runner must outlive the replies of the connection it sends on (the owner frees
/// its connections before its runners). Thread safety: none; the core's thread, as
/// RedisConnection.
class ScriptRunner {
public:
    explicit ScriptRunner(std::string source);
    ScriptRunner(const ScriptRunner &) = delete; // replies in flight refer to it
    ScriptRunner &operator=(const ScriptRunner &) = delete;

    /// Called on NOSCRIPT, before the EVAL is resent. May be empty.
    std::function<void()> onNoScript;

    const std::string &source() const { return m_source; }
    /// Empty until SCRIPT LOAD answered, and after NOSCRIPT.
    const std::string &sha() const { return m_sha; }

    /// Forgets the SHA and sends SCRIPT LOAD. `failed` gets an error reply (not a lost one: the
    /// next ready connection loads again); it may be empty.
    void load(RedisConnection &connection, std::function<void(const redisReply *error)> failed);

    /// EVALSHA sha|EVAL source, then `numKeysKeysAndArgs` as Redis wants them ("2", key1, key2,
    /// arg1, ...). See the contract above.
    void run(RedisConnection &connection, std::vector<std::string> numKeysKeysAndArgs,
             RedisConnection::ReplyHandler done);

private:
    std::string m_source;
    std::string m_sha;
};

} // namespace switchboard::redis::detail
