#include "switchboard/redis/RedisBroker.h"

#include "PublicationCodec.h"
#include "RedisConnection.h"
#include "RedisScripts.h"
#include "ScriptRunner.h"

#include <switchboard/ChannelName.h>
#include <switchboard/Error.h>

#include <hiredis/hiredis.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <exception>
#include <optional>
#include <random>
#include <set>
#include <unordered_map>
#include <vector>

namespace switchboard::redis {
namespace {

using detail::RedisConnection;

struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view text) const noexcept { return std::hash<std::string_view>{}(text); }
};
template <typename Value>
using StringMap = std::unordered_map<std::string, Value, StringHash, std::equal_to<>>;

std::string randomHex(std::size_t bytes)
{
    static thread_local std::mt19937_64 engine{std::random_device{}()};
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    out.reserve(bytes * 2);
    for (std::size_t i = 0; i < bytes; ++i) {
        const auto b = static_cast<unsigned>(engine() & 0xff);
        out += digits[b >> 4];
        out += digits[b & 0xf];
    }
    return out;
}

std::string_view text(const redisReply *r)
{
    return r && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS || r->type == REDIS_REPLY_ERROR)
        ? std::string_view(r->str, r->len)
        : std::string_view();
}

std::optional<std::uint64_t> number(const redisReply *r)
{
    if (!r)
        return std::nullopt;
    if (r->type == REDIS_REPLY_INTEGER)
        return r->integer < 0 ? std::nullopt : std::optional<std::uint64_t>(std::uint64_t(r->integer));
    std::string_view t = text(r);
    if (const auto dash = t.find('-'); dash != std::string_view::npos)
        t = t.substr(0, dash); // a stream id "<offset>-0"
    std::uint64_t value = 0;
    const auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), value);
    if (ec != std::errc{} || end != t.data() + t.size() || t.empty())
        return std::nullopt;
    return value;
}

bool isError(const redisReply *r)
{
    return r && r->type == REDIS_REPLY_ERROR;
}

} // namespace

struct RedisBroker::Impl {
    /// One channel this node listens to. Kept while a SUBSCRIBE / UNSUBSCRIBE is in flight:
    /// hiredis 0.14 forgets a channel's callback on the UNSUBSCRIBE reply, so a SUBSCRIBE is never
    /// sent while an UNSUBSCRIBE of the same channel is outstanding.
    struct Listen {
        enum class Wire { Idle, Subscribing, Subscribed, Unsubscribing } wire = Wire::Idle;
        bool wanted = false;
        std::optional<StreamPosition> last; // newest delivered, or the baseline of the first read
        bool needsCatchUp = false;          // pub/sub was lost while listening
        bool catchingUp = false;            // reading the stream back; live messages are held
        std::vector<std::pair<Publication, std::string>> held; // with their epochs
        std::vector<std::function<void()>> waiting;            // reads waiting for the SUBSCRIBE
    };

    Impl(Timer &t, RedisBrokerOptions o)
        : timer(t), options(std::move(o)), node(options.nodeId.empty() ? randomHex(8) : options.nodeId)
    {
        // Redis lost the scripts (flushed, restarted): load both again.
        publishScript.onNoScript = [this] { loadScripts(); };
        historyScript.onNoScript = [this] { loadScripts(); };
    }

    Timer &timer;
    RedisBrokerOptions options;
    std::string node;
    std::unique_ptr<RedisConnection> commands;
    std::unique_ptr<RedisConnection> pubsub;
    BrokerHandler *handler = nullptr;
    StringMap<Listen> listens;
    detail::ScriptRunner publishScript{detail::kPublishScript};
    detail::ScriptRunner historyScript{detail::kHistoryScript};
    detail::ScriptRunner idempotentPublishScript{detail::kIdempotentPublishScript};
    RedisBrokerCounters counters;
    std::shared_ptr<Impl *> alive = std::make_shared<Impl *>(this);

    void log(const std::string &message) const
    {
        if (options.log)
            options.log(message);
    }

    std::string metaKey(std::string_view channel) const { return options.prefix + "{" + std::string(channel) + "}:meta"; }
    std::string streamKey(std::string_view channel) const { return options.prefix + "{" + std::string(channel) + "}:stream"; }
    std::string pubsubKey(std::string_view channel) const { return options.prefix + "pub:" + std::string(channel); }
    std::string idempotencyKeyOf(std::string_view channel, std::string_view key) const
    {
        return options.prefix + "{" + std::string(channel) + "}:idem:" + std::string(key);
    }

    // ---- scripts -----------------------------------------------------------------------------

    void loadScripts()
    {
        // Sent first on a new connection, so the EVALSHAs queued behind find them loaded.
        for (detail::ScriptRunner *script : {&publishScript, &historyScript, &idempotentPublishScript}) {
            script->load(*commands, [this](const redisReply *r) {
                ++counters.errors;
                log("redis: SCRIPT LOAD failed: " + std::string(text(r)));
            });
        }
    }

    /// Both scripts take two keys (the channel's meta and stream); `done(null)`: not sent, or the
    /// connection was lost before the reply (ScriptRunner.h).
    void runScript(detail::ScriptRunner &script, std::vector<std::string> keysAndArgs,
                   std::function<void(const redisReply *)> done)
    {
        keysAndArgs.insert(keysAndArgs.begin(), "2");
        script.run(*commands, std::move(keysAndArgs), std::move(done));
    }

    // ---- publish -----------------------------------------------------------------------------

    void publish(Publication publication, std::function<void(std::error_code, StreamPosition)> done)
    {
        auto finish = [done = std::move(done)](std::error_code error, StreamPosition position) {
            if (done)
                done(error, std::move(position));
        };
        if (!commands || !commands->ready()) {
            ++counters.refused;
            return finish(Error::NotConnected, {});
        }
        const HistoryRule rule = publication.binary ? HistoryRule{} : options.history.ruleFor(publication.channel);
        std::string body = detail::encodePublicationBody(publication, node);
        if (!publication.idempotencyKey.empty() && options.idempotencyWindow.count() > 0)
            return publishIdempotent(publication.channel, publication.idempotencyKey, rule, std::move(body),
                                     std::move(finish));
        if (rule.size == 0) {
            const std::string key = pubsubKey(publication.channel);
            const std::string message = "0::" + body;
            const bool sent = commands->command({"PUBLISH", key, message}, [this, finish](const redisReply *r) {
                if (!r) { // the connection was lost with the command in flight: answered 503 too
                    ++counters.refused;
                    return finish(Error::NotConnected, {});
                }
                if (isError(r)) {
                    ++counters.errors;
                    return finish(Error::Internal, {});
                }
                finish({}, {});
            });
            if (!sent) {
                ++counters.refused;
                finish(Error::NotConnected, {});
            }
            return;
        }
        const std::string channel = publication.channel;
        runScript(publishScript,
                  {metaKey(channel), streamKey(channel), std::move(body), std::to_string(rule.size),
                   std::to_string(rule.ttl.count()), randomHex(6), pubsubKey(channel)},
                  [this, finish, channel](const redisReply *r) {
                      if (!r) { // lost in flight: answered 503 like a publish refused before sending
                          ++counters.refused;
                          return finish(Error::NotConnected, {});
                      }
                      if (isError(r) || r->type != REDIS_REPLY_ARRAY || r->elements != 2 || !number(r->element[0])) {
                          ++counters.errors;
                          log("redis: publish to " + channel + " failed: " + std::string(text(r)));
                          return finish(Error::Internal, {});
                      }
                      finish({}, StreamPosition{*number(r->element[0]), std::string(text(r->element[1]))});
                  });
    }

    /// The publish of a keyed publication: one script records the key with the offset, or
    /// answers the offset recorded for it (kIdempotentPublishScript).
    void publishIdempotent(const std::string &channel, const std::string &key, const HistoryRule &rule,
                           std::string body, std::function<void(std::error_code, StreamPosition)> finish)
    {
        runThreeKeyScript(idempotentPublishScript,
                     {metaKey(channel), streamKey(channel), idempotencyKeyOf(channel, key), std::move(body),
                      std::to_string(rule.size), std::to_string(rule.ttl.count()), randomHex(6), pubsubKey(channel),
                      std::to_string(options.idempotencyWindow.count())},
                     [this, finish, channel](const redisReply *r) {
                         if (!r) {
                             ++counters.refused;
                             return finish(Error::NotConnected, {});
                         }
                         if (isError(r) || r->type != REDIS_REPLY_ARRAY || r->elements != 3 || !number(r->element[0])
                             || !number(r->element[2])) {
                             ++counters.errors;
                             log("redis: publish to " + channel + " failed: " + std::string(text(r)));
                             return finish(Error::Internal, {});
                         }
                         if (*number(r->element[2]) == 1)
                             ++counters.duplicates;
                         finish({}, StreamPosition{*number(r->element[0]), std::string(text(r->element[1]))});
                     });
    }

    /// runScript for a script that takes three keys (the idempotent publish).
    void runThreeKeyScript(detail::ScriptRunner &script, std::vector<std::string> keysAndArgs,
                      std::function<void(const redisReply *)> done)
    {
        keysAndArgs.insert(keysAndArgs.begin(), "3");
        script.run(*commands, std::move(keysAndArgs), std::move(done));
    }

    // ---- listing the channels with history ---------------------------------------------------

    /// `text` for a SCAN MATCH pattern: glob characters matched literally.
    static std::string globEscaped(std::string_view text)
    {
        std::string out;
        for (const char c : text) {
            if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\')
                out += '\\';
            out += c;
        }
        return out;
    }

    struct HistoryScan {
        HistoryChannelScan limits;
        std::string pattern;
        std::size_t calls = 0;
        std::set<std::string> found;
        std::function<void(std::error_code, HistoryChannelList)> done;
    };

    void channelsWithHistory(const HistoryChannelScan &limits, std::function<void(std::error_code, HistoryChannelList)> done)
    {
        if (!commands || !commands->ready())
            return done(Error::NotConnected, {});
        auto scan = std::make_shared<HistoryScan>();
        scan->limits = limits;
        scan->limits.maxCalls = std::max<std::size_t>(scan->limits.maxCalls, 1);
        scan->limits.scanCount = std::max<std::size_t>(scan->limits.scanCount, 1);
        scan->pattern = globEscaped(options.prefix) + "{*}:stream";
        scan->done = std::move(done);
        scanStep(std::move(scan), "0");
    }

    void scanStep(std::shared_ptr<HistoryScan> scan, const std::string &cursor)
    {
        const std::string count = std::to_string(scan->limits.scanCount);
        ++scan->calls;
        const bool sent = commands->command({"SCAN", cursor, "MATCH", scan->pattern, "COUNT", count, "TYPE", "stream"},
                                            [this, scan](const redisReply *r) { scanReplied(scan, r); });
        if (!sent)
            scan->done(Error::NotConnected, {});
    }

    void scanReplied(const std::shared_ptr<HistoryScan> &scan, const redisReply *r)
    {
        if (!r)
            return scan->done(Error::NotConnected, {});
        if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 || r->element[1]->type != REDIS_REPLY_ARRAY) {
            ++counters.errors;
            log("redis: SCAN of the history streams failed: " + std::string(text(r)));
            return scan->done(Error::Internal, {});
        }
        const std::string head = options.prefix + "{";
        constexpr std::string_view tail = "}:stream";
        const redisReply *keys = r->element[1];
        for (std::size_t i = 0; i < keys->elements; ++i) {
            const std::string_view key = text(keys->element[i]);
            if (key.size() <= head.size() + tail.size() || key.substr(0, head.size()) != head
                || key.substr(key.size() - tail.size()) != tail)
                continue;
            scan->found.emplace(key.substr(head.size(), key.size() - head.size() - tail.size()));
        }
        const std::string next(text(r->element[0]));
        const bool finished = next == "0";
        const bool bounded = scan->found.size() >= scan->limits.maxChannels || scan->calls >= scan->limits.maxCalls;
        if (!finished && !bounded)
            return scanStep(scan, next);
        HistoryChannelList list;
        list.truncated = !finished || scan->found.size() > scan->limits.maxChannels;
        for (auto it = scan->found.begin(); it != scan->found.end() && list.channels.size() < scan->limits.maxChannels; ++it)
            list.channels.push_back(*it);
        scan->done({}, std::move(list));
    }

    // ---- history -----------------------------------------------------------------------------

    void history(const std::string &channel, const HistoryQuery &query, std::function<void(HistoryResult)> done)
    {
        if (!commands || !commands->ready()) {
            ++counters.refused;
            HistoryResult result;
            result.error = Error::NotConnected;
            return done(std::move(result));
        }
        auto it = listens.find(channel);
        if (it != listens.end() && it->second.wanted && it->second.wire == Listen::Wire::Subscribing && pubsub->ready()) {
            std::weak_ptr<Impl *> weak = alive;
            it->second.waiting.push_back([weak, channel, query, done = std::move(done)]() mutable {
                if (auto self = weak.lock())
                    (*self)->readStream(channel, query, std::move(done));
            });
            return;
        }
        readStream(channel, query, std::move(done));
    }

    void readStream(const std::string &channel, const HistoryQuery &query, std::function<void(HistoryResult)> done)
    {
        const HistoryRule rule = options.history.ruleFor(channel);
        if (rule.size == 0)
            return done(HistoryResult{}); // keeps no history: nothing to read, nothing to create
        std::vector<std::string> args{metaKey(channel),
                                      streamKey(channel),
                                      query.since ? std::to_string(query.since->offset) : std::string(),
                                      query.since ? query.since->epoch : std::string(),
                                      std::to_string(query.limit),
                                      std::to_string(rule.size),
                                      std::to_string(rule.ttl.count()),
                                      query.createStream ? "1" : "0",
                                      randomHex(6),
                                      query.positionOnly ? "1" : "0"};
        runScript(historyScript, std::move(args), [this, channel, done = std::move(done)](const redisReply *r) {
            HistoryResult result;
            if (!r) {
                ++counters.refused;
                result.error = Error::NotConnected;
                return done(std::move(result));
            }
            if (isError(r) || r->type != REDIS_REPLY_ARRAY || r->elements < 3 || (r->elements - 3) % 2 != 0
                || !number(r->element[1])) {
                ++counters.errors;
                log("redis: history of " + channel + " failed: " + std::string(text(r)));
                result.error = Error::Internal;
                return done(std::move(result));
            }
            result.top = StreamPosition{*number(r->element[1]), std::string(text(r->element[0]))};
            result.complete = r->element[2]->type == REDIS_REPLY_INTEGER && r->element[2]->integer == 1;
            result.publications.reserve((r->elements - 3) / 2);
            for (std::size_t i = 3; i + 1 < r->elements; i += 2) {
                Publication p;
                std::string origin;
                const auto offset = number(r->element[i]);
                if (!offset || !detail::decodePublicationBody(text(r->element[i + 1]), p, origin)) {
                    ++counters.errors;
                    log("redis: malformed history entry in " + channel);
                    result.complete = false;
                    continue;
                }
                p.channel = channel;
                p.offset = *offset;
                result.publications.push_back(std::move(p));
            }
            noteBaseline(channel, result.top);
            done(std::move(result));
        });
    }

    /// A read made while listening gives the position deliveries continue from, if none yet.
    void noteBaseline(const std::string &channel, const StreamPosition &top)
    {
        auto it = listens.find(channel);
        if (it == listens.end() || !it->second.wanted || it->second.wire != Listen::Wire::Subscribed || it->second.last
            || top.epoch.empty())
            return;
        it->second.last = top;
    }

    // ---- listening ---------------------------------------------------------------------------

    void sync(const std::string &channel)
    {
        auto it = listens.find(channel);
        if (it == listens.end())
            return;
        Listen &l = it->second;
        if (!l.wanted && l.wire == Listen::Wire::Idle) {
            auto waiting = std::move(l.waiting);
            listens.erase(it);
            for (auto &read : waiting)
                read();
            return;
        }
        if (!pubsub || !pubsub->ready())
            return;
        if (l.wanted && l.wire == Listen::Wire::Idle) {
            if (pubsub->subscribe(pubsubKey(channel)))
                l.wire = Listen::Wire::Subscribing;
        } else if (!l.wanted && l.wire == Listen::Wire::Subscribed) {
            if (pubsub->unsubscribe(pubsubKey(channel)))
                l.wire = Listen::Wire::Unsubscribing;
        }
    }

    void subscribe(std::string_view channel)
    {
        Listen &l = listens[std::string(channel)];
        if (l.wanted)
            return;
        l.wanted = true;
        l.last.reset();
        l.needsCatchUp = false;
        sync(std::string(channel));
    }

    void unsubscribe(std::string_view channel)
    {
        auto it = listens.find(channel);
        if (it == listens.end() || !it->second.wanted)
            return;
        it->second.wanted = false;
        it->second.held.clear();
        it->second.catchingUp = false;
        sync(std::string(channel));
    }

    void onPush(const redisReply &r)
    {
        if (r.type != REDIS_REPLY_ARRAY || r.elements < 3)
            return;
        const std::string_view kind = text(r.element[0]);
        std::string_view key = text(r.element[1]);
        const std::string pubPrefix = options.prefix + "pub:";
        if (key.substr(0, pubPrefix.size()) != pubPrefix)
            return;
        const std::string channel(key.substr(pubPrefix.size()));
        auto it = listens.find(channel);
        if (it == listens.end())
            return;
        Listen &l = it->second;
        if (kind == "message") {
            if (!l.wanted)
                return;
            Publication p;
            std::string epoch;
            std::string origin;
            if (!detail::decodePubSubMessage(text(r.element[2]), p, epoch, origin)) {
                // Unreadable (a newer node's format, or corrupt): the subscribers must not skip
                // it without a word. They recover; their history read reports it incomplete.
                ++counters.errors;
                log("redis: malformed publication on " + channel);
                gap(channel);
                return;
            }
            p.channel = channel;
            ++counters.received;
            if (origin != node)
                ++counters.receivedRemote;
            if (l.catchingUp) {
                l.held.emplace_back(std::move(p), std::move(epoch));
                return;
            }
            deliver(channel, p, epoch);
        } else if (kind == "subscribe") {
            l.wire = Listen::Wire::Subscribed;
            auto waiting = std::move(l.waiting);
            const bool catchUpNow = l.wanted && l.needsCatchUp;
            if (!l.wanted)
                sync(channel);
            else if (catchUpNow)
                catchUp(channel);
            for (auto &read : waiting)
                read();
        } else if (kind == "unsubscribe") {
            l.wire = Listen::Wire::Idle;
            sync(channel);
        }
    }

    /// Delivers one publication unless it was already delivered (a read back after a reconnect
    /// and the live message can both carry it).
    void deliver(const std::string &channel, const Publication &p, const std::string &epoch)
    {
        auto it = listens.find(channel);
        if (it == listens.end() || !it->second.wanted)
            return;
        Listen &l = it->second;
        if (p.offset > 0) {
            if (l.last && l.last->epoch == epoch && p.offset <= l.last->offset)
                return;
            l.last = StreamPosition{p.offset, epoch};
        }
        if (!handler)
            return;
        try {
            handler->onPublication(p);
        } catch (const std::exception &error) {
            log("redis broker: handler failed on " + channel + ": " + error.what());
        } catch (...) {
            log("redis broker: handler failed on " + channel);
        }
    }

    void gap(const std::string &channel)
    {
        ++counters.gaps;
        log("redis broker: publications on " + channel + " may have been missed; subscribers told to recover");
        if (handler)
            handler->onGap(channel);
    }

    /// After a pub/sub loss: read what the channel got meanwhile and deliver it in order.
    void catchUp(const std::string &channel)
    {
        Listen &l = listens.at(channel);
        l.needsCatchUp = false;
        // A name no client can use is a node-to-node channel (the Hub's reply routing): live
        // messages only, no history to read back and no subscriber to tell about a gap. What
        // it carried during the loss is lost (a publisher's wait for a reply times out).
        if (validateChannelName(channel))
            return;
        if (!l.last || options.history.ruleFor(channel).size == 0 || !commands->ready())
            return gap(channel);
        l.catchingUp = true;
        HistoryQuery query;
        query.since = l.last;
        readStream(channel, query, [this, channel](HistoryResult result) {
            auto it = listens.find(channel);
            if (it == listens.end() || !it->second.wanted || !it->second.catchingUp)
                return;
            if (result.error || !result.complete) {
                it->second.last.reset();
                gap(channel);
            }
            if (!result.error && !result.complete && !result.top.epoch.empty())
                it->second.last = result.top; // the subscribers recover; later messages continue from here
            if (!result.error && result.complete) {
                for (const Publication &p : result.publications) {
                    ++counters.recovered;
                    deliver(channel, p, result.top.epoch);
                }
            }
            it = listens.find(channel);
            if (it == listens.end())
                return;
            auto held = std::move(it->second.held);
            it->second.catchingUp = false;
            for (const auto &[p, epoch] : held)
                deliver(channel, p, epoch);
        });
    }

    void pubsubReady()
    {
        std::vector<std::string> names;
        for (auto &[name, l] : listens)
            names.push_back(name);
        for (const auto &name : names)
            sync(name);
    }

    void pubsubLost()
    {
        std::vector<std::string> names;
        for (auto &[name, l] : listens) {
            l.wire = Listen::Wire::Idle;
            l.catchingUp = false;
            l.held.clear();
            if (l.wanted)
                l.needsCatchUp = true;
            names.push_back(name);
        }
        for (const auto &name : names) {
            auto it = listens.find(name);
            if (it == listens.end())
                continue;
            // Reads waiting for a SUBSCRIBE run now; the catch-up after the reconnect covers the rest.
            auto waiting = std::move(it->second.waiting);
            sync(name);
            for (auto &read : waiting)
                read();
        }
    }
};

RedisBroker::RedisBroker(Timer &timer, RedisBrokerOptions options) : d(std::make_unique<Impl>(timer, std::move(options)))
{
    d->commands = std::make_unique<detail::RedisConnection>(timer, d->options, "commands", false);
    d->pubsub = std::make_unique<detail::RedisConnection>(timer, d->options, "pub/sub", true);
    d->commands->onReady = [this] { d->loadScripts(); };
    d->pubsub->onReady = [this] { d->pubsubReady(); };
    d->pubsub->onLost = [this](const std::string &) { d->pubsubLost(); };
    d->pubsub->onPush = [this](const redisReply &r) { d->onPush(r); };
}

RedisBroker::~RedisBroker()
{
    // Free the connections first: replies failing during the free must find the broker whole.
    d->pubsub.reset();
    d->commands.reset();
}

void RedisBroker::start()
{
    d->commands->start();
    d->pubsub->start();
}

bool RedisBroker::available() const
{
    return d->commands->ready() && d->pubsub->ready();
}

RedisBrokerCounters RedisBroker::counters() const
{
    RedisBrokerCounters c = d->counters;
    c.errors += d->commands->errors() + d->pubsub->errors();
    c.reconnects = d->commands->reconnects() + d->pubsub->reconnects();
    c.listening = 0;
    for (const auto &[name, l] : d->listens)
        c.listening += l.wire == Impl::Listen::Wire::Subscribed ? 1 : 0;
    return c;
}

const std::string &RedisBroker::nodeId() const
{
    return d->node;
}

void RedisBroker::channelsWithHistory(const HistoryChannelScan &limits,
                                      std::function<void(std::error_code, HistoryChannelList)> done)
{
    d->channelsWithHistory(limits, [done = std::move(done)](std::error_code error, HistoryChannelList list) {
        if (done)
            done(error, std::move(list));
    });
}

void RedisBroker::setHandler(BrokerHandler *handler)
{
    d->handler = handler;
}

void RedisBroker::subscribe(std::string_view channel)
{
    d->subscribe(channel);
}

void RedisBroker::unsubscribe(std::string_view channel)
{
    d->unsubscribe(channel);
}

void RedisBroker::publish(Publication publication, std::function<void(std::error_code, StreamPosition)> done)
{
    d->publish(std::move(publication), std::move(done));
}

IdempotencyCounters RedisBroker::idempotency() const
{
    return IdempotencyCounters{d->counters.duplicates, 0};
}

void RedisBroker::history(std::string_view channel, const HistoryQuery &query, std::function<void(HistoryResult)> done)
{
    d->history(std::string(channel), query, [done = std::move(done)](HistoryResult result) {
        if (done)
            done(std::move(result));
    });
}

} // namespace switchboard::redis
