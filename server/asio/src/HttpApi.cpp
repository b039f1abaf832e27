#include "HttpApi.h"
#include "IoShards.h"
#include "Log.h"

#include <switchboard/ChannelName.h>
#include <switchboard/ContentFilter.h>
#include <switchboard/HistoryChannels.h>
#include <switchboard/IdempotencyKey.h>
#include <switchboard/JsonParse.h>
#include <switchboard/MessageEncoding.h>

#include <boost/json.hpp>
#include <openssl/crypto.h>

#include <atomic>
#include <chrono>
#include <mutex>

namespace json = boost::json;

namespace switchboard::asio {

namespace {

Response jsonResponse(std::string body)
{
    body.push_back('\n');
    return makeResponse(http::status::ok, std::move(body), "application/json");
}

std::optional<std::string> param(const boost::urls::url_view &url, std::string_view key)
{
    const auto params = url.params();
    const auto it = params.find(key);
    if (it == params.end() || !(*it).has_value)
        return std::nullopt;
    return std::string((*it).value);
}

struct PublishItem {
    std::string channel;
    std::string event;
    std::string data; ///< compact JSON text
    bool compress = false; ///< deliver compressed where permessage-deflate was negotiated
    std::string idempotencyKey; ///< as sent (unscoped); empty: none
};

/// Appends the publications one JSON object describes ({channel | channels, event, data,
/// idempotencyKey}). `defaultKey`: the key when the object has none (the Idempotency-Key header).
std::string collectItems(const json::value &v, std::vector<PublishItem> &items, std::string_view defaultKey = {})
{
    if (!v.is_object())
        return "a publication must be a JSON object";
    const auto &o = v.as_object();
    std::vector<std::string> channels;
    if (const auto *c = o.if_contains("channel")) {
        if (!c->is_string())
            return "'channel' must be a string";
        channels.emplace_back(c->get_string());
    }
    if (const auto *cs = o.if_contains("channels")) {
        if (!cs->is_array())
            return "'channels' must be an array of strings";
        for (const auto &c : cs->get_array()) {
            if (!c.is_string())
                return "'channels' must be an array of strings";
            channels.emplace_back(c.get_string());
        }
    }
    if (channels.empty())
        return "'channel' or 'channels' is required";
    std::string event = "message";
    if (const auto *e = o.if_contains("event")) {
        if (!e->is_string())
            return "'event' must be a string";
        event = std::string(e->get_string());
    }
    bool compress = false;
    if (const auto *c = o.if_contains("compress"); c && !c->is_null()) {
        if (!c->is_bool())
            return "'compress' must be a boolean";
        compress = c->get_bool();
    }
    std::string key(defaultKey);
    if (const auto *k = o.if_contains("idempotencyKey"); k && !k->is_null()) {
        if (!k->is_string())
            return "'idempotencyKey' must be a string";
        key = std::string(k->get_string());
        if (!isValidIdempotencyKey(key))
            return "invalid idempotencyKey: 1 to 64 printable ASCII characters, no space";
    }
    const auto *data = o.if_contains("data");
    const std::string dataText = data ? json::serialize(*data) : "null";
    for (auto &channel : channels)
        items.push_back({std::move(channel), event, dataText, compress, key});
    return {};
}

/// One info line per second at most for refused bodies, so a flood cannot flood the log.
bool mayLogRefusal()
{
    static std::atomic<std::int64_t> lastSecond{0};
    const std::int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
        std::chrono::steady_clock::now().time_since_epoch()).count();
    std::int64_t last = lastSecond.load(std::memory_order_relaxed);
    return now != last && lastSecond.compare_exchange_strong(last, now, std::memory_order_relaxed);
}

void publish(ServerContext &ctx, const Request &req, Respond respond)
{
    // parseJson refuses numbers that would reach subscribers as `Infinity` or rounded (422).
    json::value body;
    if (const auto problem = parseJson(req.body(), body)) {
        if (problem->kind != JsonProblem::Kind::NumberOutOfRange)
            return respond(errorResponse(http::status::bad_request, "body is " + problem->message));
        ctx.metrics.apiNumbersOutOfRange.fetch_add(1, std::memory_order_relaxed);
        if (mayLogRefusal())
            log::info("HTTP API publish refused (422): ", problem->message);
        return respond(errorResponse(http::status::unprocessable_entity, 422, problem->message));
    }
    std::vector<PublishItem> items;
    std::string problem;
    if (body.is_object() && body.as_object().contains("publications")) {
        const auto &list = body.as_object().at("publications");
        if (!list.is_array() || list.get_array().empty())
            problem = "'publications' must be a non-empty array";
        else
            for (const auto &p : list.get_array()) {
                if (problem.empty())
                    problem = collectItems(p, items);
            }
    } else {
        // The Idempotency-Key header names the key of a single publication (a batch names one
        // per publication, in its body).
        const auto header = req.find("Idempotency-Key");
        const std::string headerKey = header == req.end() ? std::string() : std::string(header->value());
        if (header != req.end() && !isValidIdempotencyKey(headerKey))
            problem = "invalid Idempotency-Key header: 1 to 64 printable ASCII characters, no space";
        else
            problem = collectItems(body, items, headerKey);
    }
    if (!problem.empty())
        return respond(errorResponse(http::status::bad_request, 400, problem));
    for (const auto &item : items) {
        if (validateChannelName(item.channel))
            return respond(errorResponse(http::status::unprocessable_entity, 422, "invalid channel name: " + item.channel));
        if (validateEventName(item.event))
            return respond(errorResponse(http::status::unprocessable_entity, 422, "invalid event name: " + item.event));
    }

    // Results arrive through `done` callbacks (synchronously with the memory engine, later with a
    // network broker); the response goes out when the last one is in.
    struct Pending {
        std::mutex mutex;
        std::vector<std::string> results;
        std::size_t remaining;
        bool unavailable = false; ///< the engine refused one (Redis unreachable): answer 503
        Respond respond;
    };
    auto pending = std::make_shared<Pending>();
    pending->results.resize(items.size());
    pending->remaining = items.size();
    pending->respond = std::move(respond);
    ctx.metrics.apiPublications.fetch_add(items.size(), std::memory_order_relaxed);
    ctx.core.locked([&] {
        for (std::size_t i = 0; i < items.size(); ++i) {
            Publication publication;
            publication.channel = items[i].channel;
            publication.event = items[i].event;
            publication.data = std::move(items[i].data);
            publication.compress = items[i].compress;
            if (!items[i].idempotencyKey.empty())
                publication.idempotencyKey = serverIdempotencyKey(items[i].idempotencyKey);
            publication.timestampMs = ctx.core.timer().wallClockMs();
            const auto started = std::chrono::steady_clock::now();
            ctx.core.hub().publish(std::move(publication), [pending, i, channel = items[i].channel](std::error_code error, StreamPosition position) {
                std::string r = "{\"channel\":";
                appendJsonString(r, channel);
                const bool unavailable = error == make_error_code(Error::NotConnected);
                if (error) {
                    r += ",\"error\":{\"code\":" + std::to_string(error.value()) + ",\"message\":";
                    appendJsonString(r, error.message());
                    r += "}}";
                } else {
                    r += ",\"offset\":" + std::to_string(position.offset) + ",\"epoch\":";
                    appendJsonString(r, position.epoch);
                    r += "}";
                }
                Respond respond;
                std::string body;
                {
                    std::lock_guard lock(pending->mutex);
                    pending->results[i] = std::move(r);
                    pending->unavailable = pending->unavailable || unavailable;
                    if (--pending->remaining != 0)
                        return;
                    body = "{\"publications\":[";
                    for (std::size_t k = 0; k < pending->results.size(); ++k) {
                        if (k)
                            body += ',';
                        body += pending->results[k];
                    }
                    body += "]}";
                    respond = std::move(pending->respond);
                }
                // Nothing refused by the engine is stored: the caller may retry the whole request.
                if (pending->unavailable) {
                    body.push_back('\n');
                    return respond(makeResponse(http::status::service_unavailable, std::move(body), "application/json"));
                }
                respond(jsonResponse(std::move(body)));
            });
            ctx.metrics.fanoutSeconds.observe(
                std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
        }
    });
}

/// POST /api/subscribe and /api/unsubscribe: the server subscribes a session, or every session
/// of a user on this node, to a channel (Hub::subscribeSession / subscribeUser) or ends it.
/// Body `{"channel":..,"user":..}` or `{"channel":..,"session":..}`, and for subscribe an
/// optional `filter` (as in a WebSocket subscribe). Answers `{"sessions":N}`.
void changeSubscription(ServerContext &ctx, const Request &req, bool subscribe, Respond respond)
{
    const std::string_view action = subscribe ? "subscribe" : "unsubscribe";
    std::string who; // for the log line: user or session, once known
    auto refuse = [&](http::status status, int code, const std::string &message) {
        ctx.metrics.apiSubscriptionRefusals.fetch_add(1, std::memory_order_relaxed);
        if (mayLogRefusal())
            log::info("HTTP API ", action, " refused (", static_cast<int>(status), ")", who, ": ", message);
        respond(errorResponse(status, code, message));
    };
    json::value body;
    if (const auto problem = parseJson(req.body(), body))
        return refuse(http::status::bad_request, 400, "body is " + problem->message);
    if (!body.is_object())
        return refuse(http::status::bad_request, 400, "body must be a JSON object");
    const json::object &o = body.get_object();
    const auto *channel = o.if_contains("channel");
    if (!channel || !channel->is_string())
        return refuse(http::status::bad_request, 400, "'channel' (a string) is required");
    const auto *user = o.if_contains("user");
    const auto *session = o.if_contains("session");
    if (!user == !session)
        return refuse(http::status::bad_request, 400, "give either 'user' or 'session'");
    const json::value &target = user ? *user : *session;
    if (!target.is_string() || target.get_string().empty())
        return refuse(http::status::bad_request, 400, user ? "'user' must be a non-empty string" : "'session' must be a non-empty string");
    const std::string targetId(target.get_string());
    who = (user ? " user " : " session ") + targetId;
    ServerSubscribeOptions options;
    if (const auto *filter = o.if_contains("filter")) {
        std::string problem;
        auto parsed = subscribe ? ContentFilter::fromJson(*filter, problem) : std::nullopt;
        if (!parsed)
            return refuse(http::status::bad_request, 400, subscribe ? "invalid filter: " + problem : "'filter' is for subscribe only");
        options.filter = std::make_shared<const ContentFilter>(std::move(*parsed));
    }
    const std::string name(channel->get_string());
    if (validateChannelName(name))
        return refuse(http::status::unprocessable_entity, 422, "invalid channel name: " + name);

    const ServerSubscriptionResult result = ctx.core.locked([&] {
        Hub &hub = ctx.core.hub();
        if (subscribe)
            return user ? hub.subscribeUser(targetId, name, options) : hub.subscribeSession(targetId, name, options);
        return user ? hub.unsubscribeUser(targetId, name) : hub.unsubscribeSession(targetId, name);
    });
    if (result.error == make_error_code(Error::NotFound))
        return refuse(http::status::not_found, 404, "no such session on this node");
    if (result.error == make_error_code(Error::Closed))
        return refuse(http::status::service_unavailable, 410, "shutting down");
    if (result.error == make_error_code(Error::ChannelLimit))
        return refuse(http::status::conflict, 431, "the session is at its channel limit");
    if (result.error == make_error_code(Error::AlreadySubscribed))
        return refuse(http::status::conflict, 409, "the session's own subscribe of this channel is in progress");
    if (result.error == make_error_code(Error::InvalidName))
        return refuse(http::status::unprocessable_entity, 422, "invalid channel name: " + name);
    if (result.error)
        return refuse(http::status::bad_request, result.error.value(), result.error.message());
    ctx.metrics.apiSubscriptionChanges.fetch_add(1, std::memory_order_relaxed);
    respond(jsonResponse("{\"sessions\":" + std::to_string(result.sessions) + "}"));
}

/// The JSON of /api/channels: `stats` in order, and whether the history listing was cut.
std::string channelsBody(const std::vector<ChannelStats> &stats, bool truncated)
{
    std::string body = "{\"channels\":[";
    bool first = true;
    for (const auto &c : stats) {
        if (!first)
            body += ',';
        first = false;
        body += "{\"name\":";
        appendJsonString(body, c.name);
        body += ",\"type\":";
        appendJsonString(body, channelTypeName(c.type));
        body += ",\"subscribers\":" + std::to_string(c.subscribers) + ",\"published\":" + std::to_string(c.published) + "}";
    }
    body += "],\"truncated\":";
    body += truncated ? "true" : "false";
    body += "}";
    return body;
}

void channels(ServerContext &ctx, Respond respond)
{
    // Channels with subscribers (with Redis: the cluster's, answered later from Redis) and the
    // channels that hold history with no subscriber (0 subscribers, 0 published); with Redis
    // those are found by a bounded SCAN of the history streams and "truncated" says when it
    // stopped at its bound. The Pusher API's channel list stays the occupied channels only.
    ctx.core.locked([&] {
        ctx.core.channelsWithHistory([&ctx, respond = std::move(respond)](std::error_code error, std::vector<std::string> withHistory,
                                                                          bool truncated) mutable {
            if (error)
                return respond(errorResponse(http::status::service_unavailable, 503, error.message()));
            ctx.core.channels([respond = std::move(respond), withHistory = std::move(withHistory), truncated](
                                  std::error_code listError, std::vector<ChannelStats> stats) mutable {
                if (listError)
                    return respond(errorResponse(http::status::service_unavailable, 503, listError.message()));
                addHistoryOnlyChannels(stats, std::move(withHistory));
                respond(jsonResponse(channelsBody(stats, truncated)));
            });
        });
    });
}

void presence(ServerContext &ctx, const std::string &channel, Respond respond)
{
    if (validateChannelName(channel))
        return respond(errorResponse(http::status::unprocessable_entity, 422, "invalid channel name"));
    if (channelTypeOf(channel) != ChannelType::Presence)
        return respond(errorResponse(http::status::bad_request, 400, "not a presence channel (presence- prefix)"));
    ctx.core.locked([&] {
        ctx.core.hub().members(channel, [respond = std::move(respond), channel](std::vector<Member> members) {
            std::string body = "{\"channel\":";
            appendJsonString(body, channel);
            body += ",\"members\":[";
            for (std::size_t i = 0; i < members.size(); ++i) {
                if (i)
                    body += ',';
                body += "{\"id\":";
                appendJsonString(body, members[i].userId);
                body += ",\"info\":";
                body += members[i].info.empty() ? "null" : members[i].info;
                body += ",\"connections\":" + std::to_string(members[i].connections) + "}";
            }
            body += "]}";
            respond(jsonResponse(std::move(body)));
        });
    });
}

void history(ServerContext &ctx, const boost::urls::url_view &url, Respond respond)
{
    const auto channel = param(url, "channel");
    if (!channel || validateChannelName(*channel))
        return respond(errorResponse(http::status::unprocessable_entity, 422, "missing or invalid 'channel'"));
    HistoryQuery query;
    try {
        if (const auto since = param(url, "since")) {
            query.since = StreamPosition{std::stoull(*since), param(url, "epoch").value_or(std::string())};
        }
        if (const auto limit = param(url, "limit"))
            query.limit = std::stoull(*limit);
    } catch (const std::logic_error &) {
        return respond(errorResponse(http::status::bad_request, 400, "'since' and 'limit' must be numbers"));
    }
    ctx.core.locked([&] {
        ctx.core.hub().history(*channel, query, [respond = std::move(respond), channel = *channel](HistoryResult result) {
            if (result.error)
                return respond(errorResponse(http::status::bad_request, result.error.value(), result.error.message()));
            std::string body = "{\"channel\":";
            appendJsonString(body, channel);
            body += ",\"epoch\":";
            appendJsonString(body, result.top.epoch);
            body += ",\"offset\":" + std::to_string(result.top.offset);
            body += ",\"complete\":";
            body += result.complete ? "true" : "false";
            body += ",\"publications\":[";
            for (std::size_t i = 0; i < result.publications.size(); ++i) {
                if (i)
                    body += ',';
                appendPublicationObject(body, result.publications[i]);
            }
            body += "]}";
            respond(jsonResponse(std::move(body)));
        });
    });
}

} // namespace

bool hasApiKey(const ServerContext &ctx, const Request &req)
{
    std::string_view given;
    if (const auto it = req.find("X-API-Key"); it != req.end()) {
        given = it->value();
    } else if (const auto auth = req.find(http::field::authorization); auth != req.end()) {
        const std::string_view value = auth->value();
        constexpr std::string_view bearer = "Bearer ";
        if (value.size() > bearer.size() && value.substr(0, bearer.size()) == bearer)
            given = value.substr(bearer.size());
    }
    const std::string &key = ctx.apiKey;
    return !key.empty() && given.size() == key.size() && CRYPTO_memcmp(given.data(), key.data(), key.size()) == 0;
}

void handleApi(ServerContext &ctx, const Request &req, const boost::urls::url_view &url, Respond respond)
{
    if (!hasApiKey(ctx, req)) {
        ctx.metrics.apiAuthFailures.fetch_add(1, std::memory_order_relaxed);
        Response res = errorResponse(http::status::unauthorized, "missing or wrong API key");
        res.set(http::field::www_authenticate, "Bearer");
        return respond(std::move(res));
    }
    const std::string path(url.path());
    const auto method = req.method();
    auto expect = [&](http::verb verb) {
        if (method == verb)
            return true;
        Response res = errorResponse(http::status::method_not_allowed, "method not allowed");
        res.set(http::field::allow, std::string(http::to_string(verb)));
        respond(std::move(res));
        return false;
    };
    if (path == "/api/publish") {
        if (expect(http::verb::post))
            publish(ctx, req, std::move(respond));
    } else if (path == "/api/subscribe" || path == "/api/unsubscribe") {
        if (expect(http::verb::post))
            changeSubscription(ctx, req, path == "/api/subscribe", std::move(respond));
    } else if (path == "/api/channels") {
        if (expect(http::verb::get))
            channels(ctx, std::move(respond));
    } else if (path == "/api/presence") {
        if (expect(http::verb::get))
            presence(ctx, param(url, "channel").value_or(std::string()), std::move(respond));
    } else if (path == "/api/history") {
        if (expect(http::verb::get))
            history(ctx, url, std::move(respond));
    } else {
        respond(errorResponse(http::status::not_found, "unknown API endpoint"));
    }
}

Response metricsResponse(ServerContext &ctx)
{
    std::string engine;
    std::string pusher;
    const auto [hub, protocol] = ctx.core.locked([&] {
        ctx.core.renderEngineMetrics(engine);
        if (const PusherProtocol *p = ctx.core.pusher())
            Metrics::renderPusherMetrics(pusher, p->counters(), p->connectionCount());
        if (ctx.core.pusher())
            ctx.metrics.renderPusherApiMetrics(pusher);
        return std::pair(ctx.core.hub().counters(), ctx.core.protocol().counters());
    });
    return makeResponse(http::status::ok, ctx.metrics.render(hub, protocol, ctx.shards ? ctx.shards->writeTotals() : ThreadWriteCounters::Totals{}) + engine + pusher, "text/plain; version=0.0.4; charset=utf-8");
}

Response healthResponse(ServerContext &ctx)
{
    if (ctx.shuttingDown.load())
        return makeResponse(http::status::service_unavailable, "{\"status\":\"shutting down\"}\n", "application/json");
    // Sharded Redis: 503 only when no shard is up. While some are down the node still serves the
    // other shards' channels (refusing the rest per publish), and every node is equally affected,
    // so a load balancer must not drain them all: "degraded" with the shards down.
    const EngineShards shards = ctx.core.locked([&] { return ctx.core.engineShards(); });
    if (shards.total > 0 && shards.down.size() == shards.total)
        return makeResponse(http::status::service_unavailable, "{\"status\":\"engine unavailable\"}\n", "application/json");
    if (!shards.down.empty()) {
        std::string down;
        for (const std::size_t shard : shards.down)
            down += (down.empty() ? "" : ",") + std::to_string(shard);
        return makeResponse(http::status::ok,
                            "{\"status\":\"degraded\",\"shardsDown\":[" + down + "],\"connections\":" +
                                std::to_string(ctx.connections()) + "}\n",
                            "application/json");
    }
    return makeResponse(http::status::ok,
                        "{\"status\":\"ok\",\"connections\":" + std::to_string(ctx.connections()) + "}\n",
                        "application/json");
}

} // namespace switchboard::asio
