#include "WebClient.h"

#include "switchboard/MessageEncoding.h"

#include <boost/json/serialize.hpp>

#include <emscripten/val.h>

#include <algorithm>
#include <vector>

using emscripten::val;

namespace switchboard::web {

namespace {

std::chrono::milliseconds msOption(const val &options, const char *name, std::chrono::milliseconds fallback)
{
    const val v = options[name];
    if (!v.isNumber())
        return fallback;
    const double ms = v.as<double>();
    return ms > 0 ? std::chrono::milliseconds(static_cast<std::int64_t>(ms)) : fallback;
}

ClientOptions makeOptions(const val &options)
{
    ClientOptions o;
    if (options.isUndefined() || options.isNull())
        return o;
    o.ackTimeout = msOption(options, "ackTimeout", o.ackTimeout);
    o.replyTimeout = msOption(options, "replyTimeout", o.replyTimeout);
    o.connectTimeout = msOption(options, "connectTimeout", o.connectTimeout);
    o.backoff.initial = msOption(options, "backoffInitial", o.backoff.initial);
    o.backoff.max = msOption(options, "backoffMax", o.backoff.max);
    const val failFast = options["failFast"];
    if (failFast.isTrue() || failFast.isFalse())
        o.failFast = failFast.as<bool>();
    const val limit = options["waitQueueLimit"];
    if (limit.isNumber() && limit.as<double>() >= 0)
        o.waitQueueLimit = static_cast<std::size_t>(limit.as<double>());
    const val name = options["name"];
    if (name.isString())
        o.clientName = name.as<std::string>();
    const val encoding = options["encoding"];
    if (encoding.isString() && encoding.as<std::string>() == "binary")
        o.encoding = WireEncoding::Binary;
    return o;
}

std::string memberInfo(const Member &member)
{
    return member.info.empty() ? std::string("null") : member.info;
}

} // namespace

WebClient::WebClient(val sink, val options)
    : m_sink(std::move(sink))
    , m_transport(m_executor)
    , m_session(m_transport, m_executor, m_timer, makeOptions(options))
{
    m_stateHook = m_session.onStateChanged([this](ClientState state) { emitState(state); });
    m_urlHook = m_session.onUrlChanged([this](const std::string &url) { m_sink(std::string("url"), url); });
    // The server subscribed (or unsubscribed) this client: the JavaScript side creates (or drops)
    // the Channel object first, then the channel's hooks report its state as for subscribe().
    m_serverSubscriptionHook = m_session.onServerSubscription([this](ClientChannel &ch, bool subscribed) {
        const std::string name = ch.name();
        if (subscribed) {
            m_sink(std::string("server-subscription"), name, true);
            attachHooks(ch);
        } else {
            m_channels.erase(name);
            m_sink(std::string("server-subscription"), name, false);
        }
    });
    // The JavaScript side filters by level (ConnectOptions.logLevel) or hands lines to its logger.
    m_session.setLogger([this](LogLevel level, std::string_view message) {
        m_sink(std::string("log"), std::string(logLevelName(level)), std::string(message));
    });
}

WebClient::~WebClient() = default;

void WebClient::emitState(ClientState state)
{
    const std::error_code error = m_session.lastError();
    m_sink(std::string("state"), std::string(clientStateName(state)), error.value(),
           error ? error.message() : std::string());
}

void WebClient::setTokenMode(int mode, std::string token)
{
    m_tokenMode = mode;
    m_token = std::move(token);
    if (mode == 0) {
        m_session.setTokenProvider({});
        return;
    }
    m_session.setTokenProvider([this](std::function<void(std::string)> deliver) {
        if (m_tokenMode == 1) {
            deliver(m_token);
            return;
        }
        // Only the newest request is answered: an older provider answer is stale.
        m_pendingDelivery = std::move(deliver);
        m_sink(std::string("token"), ++m_tokenGeneration);
    });
}

void WebClient::deliverToken(int generation, std::string token)
{
    if (generation != m_tokenGeneration || !m_pendingDelivery)
        return;
    auto deliver = std::move(m_pendingDelivery);
    m_pendingDelivery = nullptr;
    deliver(std::move(token));
}

void WebClient::connect(std::string url)
{
    m_session.setUrl(std::move(url));
    m_session.connect();
}

void WebClient::connectUrls(std::string urls)
{
    std::vector<std::string> endpoints;
    std::size_t start = 0;
    while (start <= urls.size()) {
        const std::size_t end = std::min(urls.find('\n', start), urls.size());
        if (end > start)
            endpoints.push_back(urls.substr(start, end - start));
        start = end + 1;
    }
    m_session.setUrls(std::move(endpoints));
    m_session.connect();
}

std::string WebClient::currentUrl() const
{
    return m_session.currentUrl();
}

void WebClient::close()
{
    m_session.close();
}

std::string WebClient::state() const
{
    return std::string(clientStateName(m_session.state()));
}

std::string WebClient::sessionId() const
{
    return m_session.sessionId();
}

std::string WebClient::userId() const
{
    return m_session.userId();
}

void WebClient::subscribe(std::string channel, std::string auth, std::string channelData, bool recover, bool latest)
{
    SubscribeOptions options;
    options.auth = std::move(auth);
    options.channelData = std::move(channelData);
    options.recover = recover;
    options.latest = latest;
    ClientChannel &ch = m_session.subscribe(channel, std::move(options));
    attachHooks(ch);
}

void WebClient::attachHooks(ClientChannel &ch)
{
    const std::string channel = ch.name();
    if (m_channels.find(channel) != m_channels.end())
        return;
    ChannelHooks hooks;
    hooks.messages = m_session.on(channel + ".*", [this, name = channel](const ClientEvent &e) {
        if (e.channel != name)
            return;
        val bytes = val::null();
        if (e.binary) // copied into a JS-owned array: the view dies with this call
            bytes = val::global("Uint8Array").new_(emscripten::typed_memory_view(e.binaryData.size(),
                reinterpret_cast<const unsigned char *>(e.binaryData.data())));
        m_sink(std::string("message"), std::string(e.channel), std::string(e.event),
               e.binary ? std::string("null") : boost::json::serialize(e.data),
               static_cast<double>(e.offset), static_cast<double>(e.timestampMs),
               std::string(e.sender), bytes, std::string(e.replyTo), e.latest);
    });
    ClientChannel *channelPtr = &ch;
    hooks.state = ch.onStateChanged([this, channelPtr] {
        const std::error_code error = channelPtr->lastError();
        m_sink(std::string("channel"), channelPtr->name(), channelPtr->subscribed(), channelPtr->recovered(),
               error.value(), error ? error.message() : std::string());
    });
    hooks.presence = ch.onPresenceChanged([this, channelPtr](std::string_view kind, const Member &member) {
        m_sink(std::string("presence"), channelPtr->name(), std::string(kind), member.userId, memberInfo(member));
    });
    m_channels.emplace(channel, std::move(hooks));
}

void WebClient::unsubscribe(std::string channel)
{
    m_channels.erase(channel); // the hooks go before the channel object does
    m_session.unsubscribe(channel);
}

std::string WebClient::members(std::string channel) const
{
    std::string out = "[";
    if (const ClientChannel *ch = m_session.channel(channel)) {
        bool first = true;
        for (const Member &member : ch->members()) {
            if (!first)
                out += ',';
            first = false;
            out += "{\"id\":";
            appendJsonString(out, member.userId);
            out += ",\"info\":";
            out += memberInfo(member);
            out += '}';
        }
    }
    out += ']';
    return out;
}

void WebClient::publish(std::string channel, std::string event, std::string json, bool skipSelf, bool compress,
                        std::string idempotencyKey, int requestId)
{
    std::function<void(std::error_code, AckInfo)> ack;
    if (requestId >= 0) {
        ack = [this, requestId](std::error_code error, AckInfo info) {
            m_sink(std::string("ack"), requestId, error.value(), error ? error.message() : std::string(),
                   static_cast<double>(info.offset));
        };
    }
    PublishOptions options;
    options.skipSelf = skipSelf;
    options.compress = compress;
    options.idempotencyKey = std::move(idempotencyKey);
    m_session.publish(channel, event, json, std::move(ack), options);
}

void WebClient::publishForReply(std::string channel, std::string event, std::string json, bool skipSelf,
                                bool compress, int timeoutMs, int requestId)
{
    PublishOptions options;
    options.skipSelf = skipSelf;
    options.compress = compress;
    if (timeoutMs > 0)
        options.timeout = std::chrono::milliseconds(timeoutMs);
    m_session.publishForReply(channel, event, json,
        [this, requestId](std::error_code error, const PublishReply &reply) {
            // One JSON text, so the sink call has the signature of "reply" (each new one costs
            // bundle bytes).
            std::string json = "{\"payload\":" + boost::json::serialize(reply.payload) + ",\"from\":";
            appendJsonString(json, reply.from);
            json += ",\"offset\":" + std::to_string(reply.offset) + "}";
            m_sink(std::string("answer"), requestId, error.value(), error ? error.message() : std::string(), json);
        },
        options);
}

void WebClient::reply(std::string replyTo, std::string json, int requestId)
{
    std::function<void(std::error_code)> done;
    if (requestId >= 0) {
        done = [this, requestId](std::error_code error) {
            m_sink(std::string("ack"), requestId, error.value(), error ? error.message() : std::string(), 0.0);
        };
    }
    m_session.reply(replyTo, json, std::move(done));
}

void WebClient::waitFor(std::string pattern, int timeoutMs, int requestId)
{
    m_session.waitFor(pattern, std::chrono::milliseconds(std::max(timeoutMs, 0)),
        [this, requestId](std::error_code error, const ClientEvent *e) {
            std::string json = "null";
            if (e) { // built by hand: cheaper in the bundle than a boost::json::object
                const auto field = [&json](const char *name, std::string_view text) {
                    json += json.size() > 1 ? ",\"" : "\"";
                    json.append(name).append("\":");
                    appendJsonString(json, text);
                };
                json = "{";
                field("key", e->key);
                field("channel", e->channel);
                field("event", e->event);
                field("sender", e->sender);
                field("replyTo", e->replyTo);
                json += ",\"data\":" + boost::json::serialize(e->data) + ",\"offset\":" + std::to_string(e->offset)
                    + ",\"ts\":" + std::to_string(e->timestampMs) + "}";
            }
            m_sink(std::string("event"), requestId, error.value(), error ? error.message() : std::string(), json);
        });
}

void WebClient::request(std::string topic, std::string json, int timeoutMs, int requestId)
{
    std::optional<std::chrono::milliseconds> timeout;
    if (timeoutMs > 0)
        timeout = std::chrono::milliseconds(timeoutMs);
    m_session.request(topic, json,
        [this, requestId](std::error_code error, const boost::json::value &reply) {
            m_sink(std::string("reply"), requestId, error.value(), error ? error.message() : std::string(),
                   boost::json::serialize(reply));
        },
        timeout);
}

void WebClient::ping(int timeoutMs, int requestId)
{
    std::optional<std::chrono::milliseconds> timeout;
    if (timeoutMs > 0)
        timeout = std::chrono::milliseconds(timeoutMs);
    m_session.ping(
        [this, requestId](std::error_code error, std::chrono::microseconds rtt) {
            m_sink(std::string("pong"), requestId, error.value(), error ? error.message() : std::string(),
                   static_cast<double>(rtt.count()) / 1000.0);
        },
        timeout);
}

double WebClient::lastRoundTripMs() const
{
    const auto rtt = m_session.lastRoundTrip();
    return rtt ? static_cast<double>(rtt->count()) / 1000.0 : -1.0;
}

std::string WebClient::wireEncoding() const
{
    return m_session.wireEncoding() == WireEncoding::Binary ? "binary" : "json";
}

double WebClient::bytesReceived() const
{
    return static_cast<double>(m_transport.bytesReceived());
}

double WebClient::pendingOperations() const
{
    return static_cast<double>(m_session.pendingOperations());
}

} // namespace switchboard::web
