#include "PusherHttpApi.h"
#include "Log.h"
#include "RequestSigner.h"

#include <switchboard/ChannelName.h>
#include <switchboard/JsonParse.h>
#include <switchboard/MessageEncoding.h>
#include <switchboard/PusherNames.h>
#include <switchboard/PusherSignature.h>

#include <boost/json.hpp>
#include <openssl/evp.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <vector>

namespace json = boost::json;

namespace switchboard::asio {

namespace {

/// Pusher's documented limits.
constexpr std::int64_t kTimestampWindowSeconds = 600;
constexpr std::size_t kMaxBatchEvents = 10;
constexpr std::size_t kMaxChannelsPerEvent = 100;
constexpr std::size_t kMaxEventNameLength = 200;

std::string md5Hex(std::string_view data)
{
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    if (EVP_Digest(data.data(), data.size(), digest, &length, EVP_md5(), nullptr) != 1)
        return {};
    return toHex(std::string_view(reinterpret_cast<const char *>(digest), length));
}

std::string lowercase(std::string_view text)
{
    std::string out(text);
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    return out;
}

/// A refusal: the status, what the log and the caller are told.
struct Refusal {
    http::status status;
    std::string message;
};

/// One event of an events or batch_events body, checked and mapped to native names.
struct Event {
    std::vector<std::string> nativeChannels;
    std::string nativeEvent;
    std::string nativeData;
    std::string exceptSession;
};

bool isSocketId(std::string_view id)
{
    const auto dot = id.find('.');
    if (dot == std::string_view::npos || dot == 0 || dot + 1 == id.size())
        return false;
    return std::all_of(id.begin(), id.end(), [&, i = std::size_t(0)](char c) mutable {
        return i++ == dot || (c >= '0' && c <= '9');
    });
}

/// Reads one event object ({name, data, channels | channel, socket_id}); nullopt and `refusal`
/// set when it cannot be delivered as asked.
std::optional<Event> readEvent(const json::value &value, const PusherApp &app, std::size_t maxDataBytes, Refusal &refusal)
{
    auto refuse = [&](http::status status, std::string message) {
        refusal = {status, std::move(message)};
        return std::nullopt;
    };
    if (!value.is_object())
        return refuse(http::status::bad_request, "an event must be a JSON object");
    const json::object &o = value.get_object();
    const json::value *name = o.if_contains("name");
    if (!name || !name->is_string() || name->get_string().empty() || name->get_string().size() > kMaxEventNameLength)
        return refuse(http::status::bad_request, "'name' must be a string of 1-200 characters");
    const json::value *data = o.if_contains("data");
    if (!data || !data->is_string())
        return refuse(http::status::bad_request, "'data' must be a string");
    if (data->get_string().size() > maxDataBytes)
        return refuse(http::status::payload_too_large,
                      "event data is " + std::to_string(data->get_string().size()) + " bytes, over the limit of "
                          + std::to_string(maxDataBytes));
    std::vector<std::string_view> channels;
    if (const json::value *list = o.if_contains("channels")) {
        if (!list->is_array())
            return refuse(http::status::bad_request, "'channels' must be an array of strings");
        for (const json::value &c : list->get_array()) {
            if (!c.is_string())
                return refuse(http::status::bad_request, "'channels' must be an array of strings");
            channels.emplace_back(c.get_string());
        }
    }
    if (const json::value *one = o.if_contains("channel")) {
        if (!one->is_string())
            return refuse(http::status::bad_request, "'channel' must be a string");
        channels.emplace_back(one->get_string());
    }
    if (channels.empty() || channels.size() > kMaxChannelsPerEvent)
        return refuse(http::status::bad_request, "an event needs 1-100 channels ('channels' or 'channel')");
    Event event;
    for (const std::string_view channel : channels) {
        std::string native = nativeChannelName(app.id, channel);
        if (validatePusherChannelName(channel) || validateChannelName(native))
            return refuse(http::status::bad_request, "invalid channel name: " + std::string(channel));
        event.nativeChannels.push_back(std::move(native));
    }
    event.nativeEvent = nativeEventName(name->get_string());
    if (validateEventName(event.nativeEvent))
        return refuse(http::status::bad_request, "invalid event name");
    event.nativeData = nativeData(*data);
    if (const json::value *socket = o.if_contains("socket_id"); socket && !socket->is_null()) {
        if (!socket->is_string() || !isSocketId(socket->get_string()))
            return refuse(http::status::bad_request, "'socket_id' must be a socket id N.N");
        event.exceptSession = std::string(socket->get_string());
    }
    return event;
}

/// The `info` query parameter, split at commas.
std::set<std::string, std::less<>> infoAttributes(const boost::urls::url_view &url)
{
    std::set<std::string, std::less<>> out;
    const auto params = url.params();
    const auto it = params.find("info");
    if (it == params.end())
        return out;
    const std::string value((*it).value);
    std::size_t start = 0;
    while (start <= value.size()) {
        const std::size_t end = std::min(value.find(',', start), value.size());
        if (end > start)
            out.emplace(value.substr(start, end - start));
        start = end + 1;
    }
    return out;
}

Response json200(std::string body)
{
    return makeResponse(http::status::ok, std::move(body), "application/json");
}

class Handler {
public:
    Handler(ServerContext &ctx, const Request &req, const boost::urls::url_view &url, std::string_view peer, Respond respond)
        : m_ctx(ctx), m_req(req), m_url(url), m_peer(peer), m_respond(std::move(respond))
    {
    }

    void run()
    {
        const auto segments = m_url.segments();
        std::vector<std::string> parts(segments.begin(), segments.end());
        if (parts.size() < 3 || parts[0] != "apps")
            return refuse(m_ctx.metrics.pusherApiBadRequests, {http::status::not_found, "unknown Pusher API endpoint"});
        const auto &apps = m_ctx.config.pusherApps;
        const auto app = std::find_if(apps.begin(), apps.end(), [&](const PusherApp &a) { return a.id == parts[1]; });
        if (app == apps.end())
            return refuse(m_ctx.metrics.pusherApiUnknownApps, {http::status::not_found, "unknown app id"});
        m_app = &*app;
        const auto now = std::chrono::duration_cast<std::chrono::seconds>(
            std::chrono::system_clock::now().time_since_epoch()).count();
        if (auto problem = pusherRequestProblem(app->key, app->secret, std::string_view(m_req.method_string()), m_url,
                                                m_req.body(), now))
            return refuse(m_ctx.metrics.pusherApiAuthFailures, {http::status::unauthorized, std::move(*problem)});

        const std::string &what = parts[2];
        if (parts.size() == 3 && what == "events") {
            if (method(http::verb::post))
                events(false);
        } else if (parts.size() == 3 && what == "batch_events") {
            if (method(http::verb::post))
                events(true);
        } else if (parts.size() == 3 && what == "channels") {
            if (method(http::verb::get))
                channelList();
        } else if (parts.size() == 4 && what == "channels") {
            if (method(http::verb::get))
                channel(parts[3]);
        } else if (parts.size() == 5 && what == "channels" && parts[4] == "users") {
            if (method(http::verb::get))
                users(parts[3]);
        } else {
            refuse(m_ctx.metrics.pusherApiBadRequests, {http::status::not_found, "unknown Pusher API endpoint"});
        }
    }

private:
    void answer(Response response)
    {
        m_ctx.metrics.pusherApiRequests.fetch_add(1, std::memory_order_relaxed);
        m_respond(std::move(response));
    }

    void refuse(Metrics::Counter &counter, Refusal refusal)
    {
        counter.fetch_add(1, std::memory_order_relaxed);
        log::refusal("pusher api", m_peer, {},
                     std::to_string(static_cast<int>(refusal.status)) + " " + std::string(m_url.path()) + ": "
                         + refusal.message);
        answer(errorResponse(refusal.status, refusal.message));
    }

    bool method(http::verb verb)
    {
        if (m_req.method() == verb)
            return true;
        Response res = errorResponse(http::status::method_not_allowed, "method not allowed");
        res.set(http::field::allow, std::string(http::to_string(verb)));
        answer(std::move(res));
        return false;
    }

    /// POST events and batch_events: every event is checked before any is published, so a
    /// refused request delivers nothing.
    void events(bool batch)
    {
        json::value body;
        if (const auto problem = parseJson(m_req.body(), body))
            return refuse(m_ctx.metrics.pusherApiBadRequests, {http::status::bad_request, "body is " + problem->message});
        std::vector<const json::value *> items;
        if (batch) {
            const json::value *list = body.is_object() ? body.get_object().if_contains("batch") : nullptr;
            if (!list || !list->is_array() || list->get_array().empty())
                return refuse(m_ctx.metrics.pusherApiBadRequests, {http::status::bad_request, "'batch' must be a non-empty array"});
            if (list->get_array().size() > kMaxBatchEvents)
                return refuse(m_ctx.metrics.pusherApiBadRequests,
                              {http::status::bad_request, "a batch holds at most 10 events, got "
                                                              + std::to_string(list->get_array().size())});
            for (const json::value &item : list->get_array())
                items.push_back(&item);
        } else {
            items.push_back(&body);
        }
        std::vector<Event> events;
        for (const json::value *item : items) {
            Refusal refusal;
            auto event = readEvent(*item, *m_app, m_ctx.config.pusherMaxEventBytes, refusal);
            if (!event)
                return refuse(refusal.status == http::status::payload_too_large ? m_ctx.metrics.pusherApiTooLarge
                                                                                : m_ctx.metrics.pusherApiBadRequests,
                              std::move(refusal));
            events.push_back(std::move(*event));
        }
        publish(std::move(events), batch);
    }

    void publish(std::vector<Event> events, bool batch)
    {
        std::size_t total = 0;
        for (const Event &e : events)
            total += e.nativeChannels.size();
        // Results arrive through `done` (at once with the memory engine, later with Redis); the
        // answer goes out with the last one.
        struct Pending {
            std::mutex mutex;
            std::size_t remaining;
            bool failed = false;
            Respond respond;
        };
        auto pending = std::make_shared<Pending>();
        pending->remaining = total;
        pending->respond = std::move(m_respond);
        std::string answerBody;
        if (batch) {
            answerBody = "{\"batch\":[";
            for (std::size_t i = 0; i < events.size(); ++i)
                answerBody += i ? ",{}" : "{}";
            answerBody += "]}";
        } else {
            answerBody = "{}";
        }
        m_ctx.metrics.pusherApiRequests.fetch_add(1, std::memory_order_relaxed);
        m_ctx.metrics.pusherApiEvents.fetch_add(total, std::memory_order_relaxed);
        m_ctx.core.locked([&] {
            for (Event &event : events) {
                for (const std::string &channel : event.nativeChannels) {
                    Publication publication;
                    publication.channel = channel;
                    publication.event = event.nativeEvent;
                    publication.data = event.nativeData;
                    publication.exceptSession = event.exceptSession;
                    publication.timestampMs = m_ctx.core.timer().wallClockMs();
                    m_ctx.core.hub().publish(std::move(publication), [pending, answerBody](std::error_code error, StreamPosition) {
                        Respond respond;
                        bool failed = false;
                        {
                            std::lock_guard lock(pending->mutex);
                            pending->failed = pending->failed || static_cast<bool>(error);
                            if (--pending->remaining != 0)
                                return;
                            respond = std::move(pending->respond);
                            failed = pending->failed;
                        }
                        if (failed)
                            return respond(errorResponse(http::status::service_unavailable, "the engine refused a publication"));
                        respond(json200(answerBody));
                    });
                }
            }
        });
    }

    std::optional<std::string> pusherName(const std::string &native) const
    {
        return pusherChannelName(m_app->id, native);
    }

    /// GET channels?filter_by_prefix=P&info=user_count,subscription_count
    void channelList()
    {
        const auto params = m_url.params();
        std::string prefix;
        if (const auto it = params.find("filter_by_prefix"); it != params.end())
            prefix = (*it).value;
        const auto info = infoAttributes(m_url);
        for (const std::string &attribute : info) {
            if (attribute != "user_count" && attribute != "subscription_count")
                return refuse(m_ctx.metrics.pusherApiBadRequests, {http::status::bad_request, "unknown info attribute: " + attribute});
        }
        const bool userCount = info.count("user_count") != 0;
        if (userCount && prefix.rfind("presence-", 0) != 0)
            return refuse(m_ctx.metrics.pusherApiBadRequests,
                          {http::status::bad_request, "info=user_count needs filter_by_prefix=presence-"});
        const bool subscriptionCount = info.count("subscription_count") != 0;
        m_ctx.metrics.pusherApiRequests.fetch_add(1, std::memory_order_relaxed);
        ServerContext &ctx = m_ctx;
        const std::string appId = m_app->id;
        ctx.core.locked([&] {
            ctx.core.channels([&ctx, appId, prefix, userCount, subscriptionCount, respond = std::move(m_respond)](
                                  std::error_code error, std::vector<ChannelStats> stats) {
                if (error)
                    return respond(errorResponse(http::status::service_unavailable, error.message()));
                // name -> attributes; the user counts of presence channels arrive through members().
                struct List {
                    std::mutex mutex;
                    std::map<std::string, std::string> attributes;
                    std::size_t remaining = 1;
                    Respond respond;
                    void finishOne()
                    {
                        std::string body;
                        Respond r;
                        {
                            std::lock_guard lock(mutex);
                            if (--remaining != 0)
                                return;
                            body = "{\"channels\":{";
                            bool first = true;
                            for (const auto &[name, attrs] : attributes) {
                                body += first ? "" : ",";
                                first = false;
                                appendJsonString(body, name);
                                body += ":{" + attrs + "}";
                            }
                            body += "}}";
                            r = std::move(respond);
                        }
                        r(json200(std::move(body)));
                    }
                };
                auto list = std::make_shared<List>();
                list->respond = std::move(respond);
                for (const ChannelStats &c : stats) {
                    const auto name = pusherChannelName(appId, c.name);
                    if (!name || c.subscribers == 0 || name->rfind(prefix, 0) != 0)
                        continue;
                    std::string attrs;
                    if (subscriptionCount)
                        attrs = "\"subscription_count\":" + std::to_string(c.subscribers);
                    {
                        std::lock_guard lock(list->mutex);
                        list->attributes[*name] = attrs;
                    }
                    if (userCount && c.type == ChannelType::Presence) {
                        {
                            std::lock_guard lock(list->mutex);
                            ++list->remaining;
                        }
                        ctx.core.hub().members(c.name, [list, name = *name](std::vector<Member> members) {
                            {
                                std::lock_guard lock(list->mutex);
                                std::string &a = list->attributes[name];
                                a += (a.empty() ? "" : ",") + std::string("\"user_count\":") + std::to_string(members.size());
                            }
                            list->finishOne();
                        });
                    }
                }
                list->finishOne();
            });
        });
    }

    /// GET channels/NAME?info=user_count,subscription_count
    void channel(const std::string &name)
    {
        if (validatePusherChannelName(name))
            return refuse(m_ctx.metrics.pusherApiBadRequests, {http::status::bad_request, "invalid channel name"});
        const auto info = infoAttributes(m_url);
        for (const std::string &attribute : info) {
            if (attribute != "user_count" && attribute != "subscription_count")
                return refuse(m_ctx.metrics.pusherApiBadRequests, {http::status::bad_request, "unknown info attribute: " + attribute});
        }
        const std::string native = nativeChannelName(m_app->id, name);
        const bool presence = channelTypeOf(native) == ChannelType::Presence;
        const bool userCount = info.count("user_count") != 0;
        if (userCount && !presence)
            return refuse(m_ctx.metrics.pusherApiBadRequests, {http::status::bad_request, "info=user_count is for presence channels"});
        const bool subscriptionCount = info.count("subscription_count") != 0;
        m_ctx.metrics.pusherApiRequests.fetch_add(1, std::memory_order_relaxed);
        ServerContext &ctx = m_ctx;
        ctx.core.locked([&] {
            ctx.core.channels([&ctx, native, userCount, subscriptionCount, respond = std::move(m_respond)](
                                  std::error_code error, std::vector<ChannelStats> stats) {
                if (error)
                    return respond(errorResponse(http::status::service_unavailable, error.message()));
                std::size_t subscribers = 0;
                for (const ChannelStats &c : stats) {
                    if (c.name == native)
                        subscribers += c.subscribers;
                }
                std::string body = std::string("{\"occupied\":") + (subscribers ? "true" : "false");
                if (subscriptionCount)
                    body += ",\"subscription_count\":" + std::to_string(subscribers);
                if (!userCount)
                    return respond(json200(body + "}"));
                ctx.core.hub().members(native, [respond, body](std::vector<Member> members) {
                    respond(json200(body + ",\"user_count\":" + std::to_string(members.size()) + "}"));
                });
            });
        });
    }

    /// GET channels/NAME/users (presence channels)
    void users(const std::string &name)
    {
        if (validatePusherChannelName(name))
            return refuse(m_ctx.metrics.pusherApiBadRequests, {http::status::bad_request, "invalid channel name"});
        const std::string native = nativeChannelName(m_app->id, name);
        if (channelTypeOf(native) != ChannelType::Presence)
            return refuse(m_ctx.metrics.pusherApiBadRequests, {http::status::bad_request, "users are listed for presence channels only"});
        m_ctx.metrics.pusherApiRequests.fetch_add(1, std::memory_order_relaxed);
        m_ctx.core.locked([&] {
            m_ctx.core.hub().members(native, [respond = std::move(m_respond)](std::vector<Member> members) {
                std::string body = "{\"users\":[";
                for (std::size_t i = 0; i < members.size(); ++i) {
                    body += i ? ",{\"id\":" : "{\"id\":";
                    appendJsonString(body, members[i].userId);
                    body += '}';
                }
                body += "]}";
                respond(json200(std::move(body)));
            });
        });
    }

    ServerContext &m_ctx;
    const Request &m_req;
    const boost::urls::url_view &m_url;
    std::string_view m_peer;
    Respond m_respond;
    const PusherApp *m_app = nullptr;
};

} // namespace

bool isPusherApiPath(const ServerContext &ctx, std::string_view path)
{
    return !ctx.config.pusherApps.empty() && path.rfind("/apps/", 0) == 0;
}

std::optional<std::string> pusherRequestProblem(std::string_view key, std::string_view secret, std::string_view method,
                                                const boost::urls::url_view &url, std::string_view body,
                                                std::int64_t nowSeconds)
{
    std::map<std::string, std::string, std::less<>> query;
    std::optional<std::string> signature;
    for (const auto &param : url.params()) {
        std::string name = lowercase(param.key);
        if (name == "auth_signature") {
            if (signature)
                return "auth_signature given twice";
            signature = lowercase(param.value);
            continue;
        }
        if (!query.emplace(std::move(name), std::string(param.value)).second)
            return "query parameter " + lowercase(param.key) + " given twice";
    }
    const auto find = [&](std::string_view name) -> const std::string * {
        const auto it = query.find(name);
        return it == query.end() ? nullptr : &it->second;
    };
    if (!signature)
        return "auth_signature missing";
    const std::string *givenKey = find("auth_key");
    if (!givenKey || !constantTimeEquals(*givenKey, key))
        return "auth_key missing or not this app's key";
    const std::string *version = find("auth_version");
    if (!version || *version != "1.0")
        return "auth_version must be 1.0";
    const std::string *timestamp = find("auth_timestamp");
    std::int64_t seconds = 0;
    if (!timestamp
        || std::from_chars(timestamp->data(), timestamp->data() + timestamp->size(), seconds).ptr
               != timestamp->data() + timestamp->size())
        return "auth_timestamp missing or not a number";
    if (seconds < nowSeconds - kTimestampWindowSeconds || seconds > nowSeconds + kTimestampWindowSeconds)
        return "auth_timestamp more than 600 s from the server's clock";
    const std::string *bodyMd5 = find("body_md5");
    if (!body.empty() && !bodyMd5)
        return "body_md5 missing";
    if (bodyMd5 && lowercase(*bodyMd5) != md5Hex(body))
        return "body_md5 does not match the body";
    std::string toSign(method);
    toSign += '\n';
    toSign += std::string_view(url.encoded_path());
    toSign += '\n';
    bool first = true;
    for (const auto &[name, value] : query) {
        if (!first)
            toSign += '&';
        first = false;
        toSign += name;
        toSign += '=';
        toSign += value;
    }
    if (!constantTimeEquals(hmacSha256Hex(secret, toSign), *signature))
        return "auth_signature does not match";
    return std::nullopt;
}

void handlePusherApi(ServerContext &ctx, const Request &req, const boost::urls::url_view &url, std::string_view peer,
                     Respond respond)
{
    Handler(ctx, req, url, peer, std::move(respond)).run();
}

} // namespace switchboard::asio
