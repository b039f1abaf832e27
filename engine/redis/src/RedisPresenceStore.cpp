#include "switchboard/redis/RedisPresenceStore.h"

#include "RedisConnection.h"
#include "RedisPresenceScripts.h"
#include "ScriptRunner.h"

#include <switchboard/ChannelName.h>
#include <switchboard/Error.h>

#include <hiredis/hiredis.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <exception>
#include <map>
#include <optional>
#include <utility>

namespace switchboard::redis {
namespace {

using detail::RedisConnection;

std::string_view text(const redisReply *r)
{
    return r && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS || r->type == REDIS_REPLY_ERROR)
        ? std::string_view(r->str, r->len)
        : std::string_view();
}

bool isError(const redisReply *r)
{
    return r && r->type == REDIS_REPLY_ERROR;
}

bool isInteger(const redisReply *r)
{
    return r && r->type == REDIS_REPLY_INTEGER;
}

/// Reads one "<length>:<bytes>" field of a presence message from `in`; false when malformed.
bool readField(std::string_view &in, std::string &out)
{
    const auto colon = in.find(':');
    if (colon == std::string_view::npos || colon == 0)
        return false;
    std::size_t length = 0;
    const auto [end, ec] = std::from_chars(in.data(), in.data() + colon, length);
    if (ec != std::errc{} || end != in.data() + colon || in.size() - colon - 1 < length)
        return false;
    out.assign(in.substr(colon + 1, length));
    in.remove_prefix(colon + 1 + length);
    return true;
}

enum Script : std::size_t { Add, Remove, Members, Sync, Beat, Channels, Occupancy, ScriptCount };

} // namespace

struct RedisPresenceStore::Impl {
    /// One of this node's connections to a presence channel, as the Hub added it.
    struct Local {
        std::string userId;
        std::string info;
    };
    using LocalKey = std::pair<std::string, std::string>; // channel, session

    Impl(Timer &t, RedisPresenceOptions o) : timer(t), options(std::move(o))
    {
        const std::array<const char *, ScriptCount> bodies{detail::kPresenceAddScript, detail::kPresenceRemoveScript,
                                                           detail::kPresenceMembersScript, detail::kPresenceSyncScript,
                                                           detail::kPresenceBeatScript, detail::kPresenceChannelsScript,
                                                           detail::kOccupancyScript};
        for (std::size_t i = 0; i < ScriptCount; ++i) {
            scripts[i] = std::make_unique<detail::ScriptRunner>(std::string(detail::kPresencePrelude) + bodies[i]);
            scripts[i]->onNoScript = [this] { loadScripts(); }; // a flush lost them all
        }
        if (options.beatInterval.count() <= 0)
            options.beatInterval = std::min(std::chrono::milliseconds(1000),
                                            std::max(std::chrono::milliseconds(100), options.nodeTtl / 3));
    }

    Timer &timer;
    RedisPresenceOptions options;
    std::unique_ptr<RedisConnection> commands;
    std::unique_ptr<RedisConnection> pubsub;
    PresenceHandler *handler = nullptr;
    std::array<std::unique_ptr<detail::ScriptRunner>, ScriptCount> scripts;
    std::map<LocalKey, Local> locals;
    bool needsSync = true;
    bool syncing = false;
    bool beating = false;
    TimerId beatTimer = 0;
    RedisPresenceCounters counters;
    std::optional<std::chrono::milliseconds> lastFailureLog;
    std::uint64_t unloggedFailures = 0;
    std::shared_ptr<Impl *> alive = std::make_shared<Impl *>(this);

    void log(const std::string &message) const
    {
        if (options.log)
            options.log(message);
    }

    std::string presenceChannel() const { return options.prefix + "presence"; }

    // ---- scripts -----------------------------------------------------------------------------

    void loadScripts()
    {
        for (const auto &script : scripts)
            script->load(*commands, [this](const redisReply *r) { scriptFailed("SCRIPT LOAD", r); });
    }

    /// Counts every failure; logs at most one line per 10 s (with how many were not logged), so a
    /// Redis that refuses every script cannot flood the log.
    void scriptFailed(const std::string &what, const redisReply *r)
    {
        ++counters.scriptErrors;
        const auto now = timer.now();
        if (lastFailureLog && now - *lastFailureLog < std::chrono::seconds(10)) {
            ++unloggedFailures;
            return;
        }
        lastFailureLog = now;
        std::string line = "redis presence: " + what + " failed: " + (isError(r) ? std::string(text(r)) : std::string("malformed reply"));
        if (unloggedFailures)
            line += " (" + std::to_string(unloggedFailures) + " more failures not logged)";
        unloggedFailures = 0;
        log(line);
    }

    /// Every presence script takes no keys and the prefix as its first argument; `done(null)`:
    /// not sent, or the connection was lost before the reply (ScriptRunner.h).
    void run(Script script, std::vector<std::string> args, std::function<void(const redisReply *)> done)
    {
        if (!commands)
            return done(nullptr);
        args.insert(args.begin(), {"0", options.prefix});
        scripts[script]->run(*commands, std::move(args), std::move(done));
    }

    // ---- membership --------------------------------------------------------------------------

    void add(const std::string &channel, const Member &member, const std::string &session, std::function<void(bool)> done)
    {
        locals[{channel, session}] = Local{member.userId, member.info};
        // Not connected: the sync after the reconnect carries it (and announces it to every node,
        // this one included). Connected: sent behind any sync in flight, which it then amends.
        if (!commands->ready())
            return done(false);
        run(Add, {options.nodeId, channel, session, member.userId, member.info.empty() ? "null" : member.info},
            [this, channel, done](const redisReply *r) {
                if (r && !isInteger(r))
                    scriptFailed("add to " + channel, r);
                done(isInteger(r) && r->integer == 1);
            });
    }

    void remove(const std::string &channel, const std::string &userId, const std::string &session,
                std::function<void(bool)> done)
    {
        auto it = locals.find({channel, session});
        if (it == locals.end() || it->second.userId != userId)
            return done(false);
        locals.erase(it);
        if (!commands->ready())
            return done(false);
        run(Remove, {options.nodeId, channel, session, userId}, [this, channel, done](const redisReply *r) {
            if (r && !isInteger(r))
                scriptFailed("remove from " + channel, r);
            done(isInteger(r) && r->integer == 1);
        });
    }

    std::vector<Member> localMembers(const std::string &channel) const
    {
        std::map<std::string, Member> byUser;
        for (auto it = locals.lower_bound({channel, std::string()}); it != locals.end() && it->first.first == channel; ++it) {
            Member &m = byUser[it->second.userId];
            m.userId = it->second.userId;
            m.info = it->second.info;
            ++m.connections;
        }
        std::vector<Member> out;
        for (auto &entry : byUser)
            out.push_back(std::move(entry.second));
        return out;
    }

    void members(const std::string &channel, std::function<void(std::vector<Member>)> done)
    {
        if (!commands->ready())
            return done(localMembers(channel));
        run(Members, {channel}, [this, channel, done](const redisReply *r) {
            if (!r || r->type != REDIS_REPLY_ARRAY || r->elements % 3 != 0) {
                if (r)
                    scriptFailed("members of " + channel, r);
                return done(localMembers(channel));
            }
            std::vector<Member> out;
            out.reserve(r->elements / 3);
            for (std::size_t i = 0; i + 2 < r->elements; i += 3) {
                const redisReply *count = r->element[i + 2];
                out.push_back(Member{std::string(text(r->element[i])), std::string(text(r->element[i + 1])),
                                     isInteger(count) && count->integer > 0 ? std::size_t(count->integer) : 0});
            }
            std::sort(out.begin(), out.end(), [](const Member &a, const Member &b) { return a.userId < b.userId; });
            done(std::move(out));
        });
    }

    // ---- lease, sync and sweep ---------------------------------------------------------------

    void sync()
    {
        if (syncing || !commands->ready())
            return;
        syncing = true;
        std::vector<std::string> args{options.nodeId, std::to_string(options.nodeTtl.count())};
        args.reserve(2 + 4 * locals.size());
        for (const auto &entry : locals) {
            args.push_back(entry.first.first);
            args.push_back(entry.first.second);
            args.push_back(entry.second.userId);
            args.push_back(entry.second.info.empty() ? "null" : entry.second.info);
        }
        run(Sync, std::move(args), [this](const redisReply *r) {
            syncing = false;
            if (!r)
                return; // lost: the next ready syncs again
            if (!isInteger(r))
                return scriptFailed("sync", r);
            needsSync = false;
            ++counters.syncs;
            if (r->integer > 0)
                log("redis presence: node " + options.nodeId + " rewrote its presence in Redis (" +
                    std::to_string(r->integer) + " connections changed)");
        });
    }

    void scheduleBeat()
    {
        std::weak_ptr<Impl *> weak = alive;
        beatTimer = timer.start(options.beatInterval, [weak] {
            if (auto self = weak.lock()) {
                (*self)->beatTimer = 0;
                (*self)->beat();
                (*self)->scheduleBeat();
            }
        });
    }

    void beat()
    {
        if (!commands->ready() || beating)
            return;
        if (needsSync)
            return sync();
        std::vector<std::string> args{options.nodeId, std::to_string(options.nodeTtl.count())};
        if (options.localChannels) {
            for (const ChannelStats &c : options.localChannels()) {
                args.push_back(c.name);
                args.push_back(std::to_string(c.subscribers) + " " + std::to_string(c.published));
            }
        }
        beating = true;
        run(Beat, std::move(args), [this](const redisReply *r) {
            beating = false;
            if (!r)
                return;
            if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 || !isInteger(r->element[0]) || !isInteger(r->element[1]))
                return scriptFailed("beat", r);
            if (r->element[1]->integer > 0) {
                counters.nodesExpired += std::uint64_t(r->element[1]->integer);
                log("redis presence: swept " + std::to_string(r->element[1]->integer) +
                    " node(s) whose lease expired; their members were removed");
            }
            if (r->element[0]->integer == 0) {
                log("redis presence: the lease of node " + options.nodeId + " was gone; syncing");
                needsSync = true;
                sync();
            }
        });
    }

    void occupancy(const std::string &channel, bool occupied, std::function<void(bool)> done)
    {
        // Unreachable Redis: this node reports its own change rather than none.
        if (!commands->ready())
            return done(true);
        run(Occupancy, {options.nodeId, channel, occupied ? "1" : "0"}, [this, channel, done](const redisReply *r) {
            if (r && !isInteger(r))
                scriptFailed("occupancy of " + channel, r);
            done(!isInteger(r) || r->integer == 1);
        });
    }

    void channels(std::function<void(std::error_code, std::vector<ChannelStats>)> done)
    {
        if (!commands->ready())
            return done(Error::NotConnected, {});
        run(Channels, {}, [this, done](const redisReply *r) {
            if (!r)
                return done(Error::NotConnected, {});
            if (r->type != REDIS_REPLY_ARRAY || r->elements % 3 != 0) {
                scriptFailed("channels", r);
                return done(Error::Internal, {});
            }
            std::vector<ChannelStats> out;
            out.reserve(r->elements / 3);
            for (std::size_t i = 0; i + 2 < r->elements; i += 3) {
                const std::string name(text(r->element[i]));
                const redisReply *subs = r->element[i + 1];
                const redisReply *pub = r->element[i + 2];
                out.push_back(ChannelStats{name, channelTypeOf(name),
                                           isInteger(subs) && subs->integer > 0 ? std::size_t(subs->integer) : 0,
                                           isInteger(pub) && pub->integer > 0 ? std::uint64_t(pub->integer) : 0});
            }
            std::sort(out.begin(), out.end(), [](const ChannelStats &a, const ChannelStats &b) { return a.name < b.name; });
            done({}, std::move(out));
        });
    }

    // ---- announcements from other nodes ------------------------------------------------------

    void onPush(const redisReply &r)
    {
        if (r.type != REDIS_REPLY_ARRAY || r.elements < 3 || text(r.element[0]) != "message")
            return;
        std::string_view message = text(r.element[2]);
        if (message.empty())
            return;
        const char kind = message.front();
        message.remove_prefix(1);
        std::string origin, channel;
        Member member;
        if ((kind != 'a' && kind != 'r') || !readField(message, origin) || !readField(message, channel)
            || !readField(message, member.userId) || !readField(message, member.info) || !message.empty())
            return scriptFailed("an announcement", nullptr);
        if (origin == options.nodeId)
            return; // this node's Hub announced it when add() / remove() answered
        ++counters.remoteEvents;
        if (!handler)
            return;
        member.connections = kind == 'a' ? 1 : 0;
        try {
            if (kind == 'a')
                handler->onMemberAdded(channel, member);
            else
                handler->onMemberRemoved(channel, member);
        } catch (const std::exception &error) {
            log("redis presence: handler failed on " + channel + ": " + error.what());
        } catch (...) {
            log("redis presence: handler failed on " + channel);
        }
    }
};

RedisPresenceStore::RedisPresenceStore(Timer &timer, RedisPresenceOptions options)
    : d(std::make_unique<Impl>(timer, std::move(options)))
{
    d->commands = std::make_unique<detail::RedisConnection>(timer, d->options, "presence commands", false);
    d->pubsub = std::make_unique<detail::RedisConnection>(timer, d->options, "presence pub/sub", true);
    d->commands->onReady = [this] {
        d->loadScripts();
        d->needsSync = true;
        d->sync();
    };
    d->commands->onLost = [this](const std::string &) {
        d->needsSync = true;
        d->syncing = false;
        d->beating = false;
    };
    d->pubsub->onReady = [this] { d->pubsub->subscribe(d->presenceChannel()); };
    d->pubsub->onPush = [this](const redisReply &r) { d->onPush(r); };
}

RedisPresenceStore::~RedisPresenceStore()
{
    if (d->beatTimer)
        d->timer.cancel(d->beatTimer);
    d->pubsub.reset();
    d->commands.reset();
}

void RedisPresenceStore::start()
{
    d->commands->start();
    d->pubsub->start();
    if (!d->beatTimer)
        d->scheduleBeat();
}

bool RedisPresenceStore::available() const
{
    return d->commands->ready() && d->pubsub->ready();
}

RedisPresenceCounters RedisPresenceStore::counters() const
{
    RedisPresenceCounters c = d->counters;
    c.errors = d->commands->errors() + d->pubsub->errors();
    c.reconnects = d->commands->reconnects() + d->pubsub->reconnects();
    return c;
}

void RedisPresenceStore::setHandler(PresenceHandler *handler)
{
    d->handler = handler;
}

void RedisPresenceStore::add(std::string_view channel, const Member &member, std::string_view sessionId,
                             std::function<void(bool)> done)
{
    d->add(std::string(channel), member, std::string(sessionId), [done = std::move(done)](bool first) {
        if (done)
            done(first);
    });
}

void RedisPresenceStore::remove(std::string_view channel, std::string_view userId, std::string_view sessionId,
                                std::function<void(bool)> done)
{
    d->remove(std::string(channel), std::string(userId), std::string(sessionId), [done = std::move(done)](bool last) {
        if (done)
            done(last);
    });
}

void RedisPresenceStore::members(std::string_view channel, std::function<void(std::vector<Member>)> done)
{
    d->members(std::string(channel), [done = std::move(done)](std::vector<Member> roster) {
        if (done)
            done(std::move(roster));
    });
}

void RedisPresenceStore::occupancy(std::string_view channel, bool occupied, std::function<void(bool)> done)
{
    d->occupancy(std::string(channel), occupied, [done = std::move(done)](bool crossed) {
        if (done)
            done(crossed);
    });
}

void RedisPresenceStore::clusterChannels(std::function<void(std::error_code, std::vector<ChannelStats>)> done)
{
    d->channels([done = std::move(done)](std::error_code error, std::vector<ChannelStats> channels) {
        if (done)
            done(error, std::move(channels));
    });
}

} // namespace switchboard::redis
