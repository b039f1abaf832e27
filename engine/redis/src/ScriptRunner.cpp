#include "ScriptRunner.h"

#include <hiredis/hiredis.h>

#include <memory>
#include <string_view>
#include <utility>

namespace switchboard::redis::detail {
namespace {

bool isNoScript(const redisReply *r)
{
    return r && r->type == REDIS_REPLY_ERROR && std::string_view(r->str, r->len).substr(0, 8) == "NOSCRIPT";
}

} // namespace

ScriptRunner::ScriptRunner(std::string source) : m_source(std::move(source)) {}

void ScriptRunner::load(RedisConnection &connection, std::function<void(const redisReply *error)> failed)
{
    m_sha.clear();
    connection.command({"SCRIPT", "LOAD", m_source}, [this, failed = std::move(failed)](const redisReply *r) {
        if (r && r->type == REDIS_REPLY_STRING)
            m_sha = std::string(r->str, r->len);
        else if (r && r->type == REDIS_REPLY_ERROR && failed)
            failed(r);
    });
}

void ScriptRunner::run(RedisConnection &connection, std::vector<std::string> numKeysKeysAndArgs,
                       RedisConnection::ReplyHandler done)
{
    // Shared by the first send and the resend after NOSCRIPT.
    auto args = std::make_shared<std::vector<std::string>>(std::move(numKeysKeysAndArgs));
    auto send = [this, &connection, args](bool useSha, RedisConnection::ReplyHandler reply) {
        std::vector<std::string_view> words;
        words.reserve(args->size() + 2);
        words.push_back(useSha ? "EVALSHA" : "EVAL");
        words.push_back(useSha ? m_sha : m_source);
        for (const auto &a : *args)
            words.push_back(a);
        return connection.command(words, std::move(reply));
    };
    const bool useSha = !m_sha.empty();
    const bool sent = send(useSha, [this, send, useSha, done](const redisReply *r) mutable {
        if (useSha && isNoScript(r)) {
            m_sha.clear();
            if (onNoScript)
                onNoScript();
            if (send(false, done))
                return;
            r = nullptr; // the connection went down meanwhile: not sent
        }
        done(r);
    });
    if (!sent)
        done(nullptr);
}

} // namespace switchboard::redis::detail
