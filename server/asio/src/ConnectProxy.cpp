#include "ConnectProxy.h"

#include "Log.h"

#include <switchboard/JsonParse.h>
#include <switchboard/TopicFilter.h>
#include <switchboard/websocket/Utf8Validator.h>

#include <boost/json.hpp>

#include <algorithm>
#include <array>

namespace switchboard::asio {

namespace json = boost::json;

namespace {

/// User ids longer than this are not ids: the answer is invalid.
constexpr std::size_t kMaxUserBytes = 256;

/// For logs: the peer and the session the connect would have had.
std::string describe(const ConnectCall &call)
{
    return "peer " + (call.remote.empty() ? std::string("?") : call.remote) + " session " + call.session;
}

ConnectDecision unavailable(std::string reason)
{
    ConnectDecision decision;
    decision.accepted = false;
    decision.unavailable = true;
    decision.reason = std::move(reason);
    return decision;
}

ConnectDecision refused(std::string reason)
{
    ConnectDecision decision;
    decision.accepted = false;
    decision.reason = reason.empty() ? std::string("refused by the connect proxy") : std::move(reason);
    return decision;
}

/// The "reason" or "message" string of a JSON object body, else empty.
std::string reasonOf(const json::object &object)
{
    for (const char *key : {"reason", "message"}) {
        if (const auto *value = object.if_contains(key); value && value->is_string())
            return std::string(websocket::utf8Prefix(value->get_string(), 200)); // parsed: valid UTF-8
    }
    return {};
}

std::string jsonString(std::string_view text)
{
    return json::serialize(json::string_view(text.data(), text.size()));
}

} // namespace

ConnectProxy::ConnectProxy(ConnectProxyOptions options, Metrics &metrics)
    : m_options(std::move(options)), m_metrics(metrics), m_client(backendClientOptions(m_options, "--connect-proxy"), metrics.connectProxy)
{
}

ConnectProxy::~ConnectProxy()
{
    stop();
}

void ConnectProxy::stop()
{
    m_client.stop();
}

bool ConnectProxy::forwardsHeader(std::string_view name)
{
    static constexpr std::array<std::string_view, 12> kForwarded = {
        "authorization", "cookie", "origin", "referer", "user-agent", "accept-language",
        "sec-websocket-protocol", "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host",
        "x-real-ip", "forwarded"};
    return std::find(kForwarded.begin(), kForwarded.end(), name) != kForwarded.end();
}

std::string ConnectProxy::requestBody(const ConnectCall &call)
{
    // `data` is JSON text already checked by the protocol; the rest is escaped by Boost.JSON.
    std::string body = R"({"session":)";
    body += jsonString(call.session);
    body += R"(,"client":)";
    body += call.client.empty() ? std::string("null") : jsonString(call.client);
    body += R"(,"token":)";
    body += call.token.empty() ? std::string("null") : jsonString(call.token);
    body += R"(,"data":)";
    body += call.data.empty() ? std::string("null") : call.data;
    body += R"(,"headers":{)";
    bool first = true;
    for (const auto &[name, value] : call.headers) {
        if (!first)
            body += ',';
        first = false;
        body += jsonString(name);
        body += ':';
        body += jsonString(value);
    }
    body += R"(},"transport":)";
    body += jsonString(call.transport);
    body += R"(,"remote":)";
    body += call.remote.empty() ? std::string("null") : jsonString(call.remote);
    if (call.refresh)
        body += R"(,"refresh":true)";
    body += '}';
    return body;
}

ConnectDecision ConnectProxy::decisionOf(const HttpPostResult &result)
{
    switch (result.outcome) {
    case HttpPostResult::Outcome::Unreachable:
    case HttpPostResult::Outcome::BadAnswer:
        return unavailable("connect proxy unavailable");
    case HttpPostResult::Outcome::Timeout:
        return unavailable("connect proxy timed out");
    case HttpPostResult::Outcome::Answered:
        break;
    }
    // The same JSON rules as client frames (depth, numbers): the info reaches presence frames.
    json::value body;
    const bool isObject = !result.body.empty() && !parseJson(result.body, body) && body.is_object();
    if (result.status == 401 || result.status == 403)
        return refused(isObject ? reasonOf(body.get_object()) : std::string());
    if (result.status < 200 || result.status >= 300)
        return unavailable("connect proxy unavailable");
    if (!isObject)
        return unavailable("connect proxy answered invalid JSON");
    const json::object &object = body.get_object();
    if (const auto *allow = object.if_contains("allow"); allow && allow->is_bool() && !allow->get_bool())
        return refused(reasonOf(object));
    const auto *user = object.if_contains("user");
    if (!user || !user->is_string() || user->get_string().size() > kMaxUserBytes)
        return unavailable("connect proxy answered without a valid user");
    ConnectDecision decision;
    decision.principal.userId = std::string(user->get_string());
    if (const auto *info = object.if_contains("info"); info && !info->is_null())
        decision.principal.userInfo = json::serialize(*info);
    if (const auto *channels = object.if_contains("channels"); channels && !channels->is_null()) {
        if (!channels->is_array())
            return unavailable("connect proxy answered invalid channels");
        for (const auto &pattern : channels->get_array()) {
            if (!pattern.is_string() || validateTopicFilter(pattern.get_string()))
                return unavailable("connect proxy answered invalid channels");
            decision.principal.channelPatterns.emplace_back(pattern.get_string());
        }
    }
    return decision;
}

ConnectDecision ConnectProxy::busyDecision()
{
    return unavailable("connect proxy busy");
}

bool ConnectProxy::call(ConnectCall call, std::function<void(ConnectDecision)> done)
{
    std::string body = requestBody(call);
    const bool accepted = m_client.post(std::move(body), [this, call, done = std::move(done)](const HttpPostResult &result) {
        ConnectDecision decision = decisionOf(result);
        if (decision.accepted) {
            m_metrics.connectProxyAccepted.fetch_add(1, std::memory_order_relaxed);
        } else if (!decision.unavailable) {
            m_metrics.connectProxyRefused.fetch_add(1, std::memory_order_relaxed);
        } else {
            m_client.countFailure(result);
            // The close itself is logged by the session; this line says what the backend did.
            log::limited(LogLevel::Info, "connect proxy failed",
                         "connect proxy: " + describe(call) + ": " + decision.reason
                             + (result.outcome == HttpPostResult::Outcome::Answered ? " (HTTP " + std::to_string(result.status) + ")"
                                                                                    : " (" + result.error + ")"));
        }
        done(std::move(decision));
    });
    if (!accepted) // over the limit: refused without touching the backend
        log::limited(LogLevel::Info, "connect proxy busy",
                     "connect proxy: busy (" + std::to_string(m_client.options().concurrency) + " in flight), refused " + describe(call));
    return accepted;
}

} // namespace switchboard::asio
