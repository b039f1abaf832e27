#include "SubscribeProxy.h"

#include "Log.h"

#include <switchboard/JsonParse.h>

#include <boost/json.hpp>

#include <atomic>
#include <chrono>

namespace switchboard::asio {

namespace json = boost::json;

namespace {

/// For logs: channel and user quoted and escaped (they may hold any character).
std::string describe(const SubscribeCall &call)
{
    return "channel " + json::serialize(json::string_view(call.channel)) + " of user "
        + json::serialize(json::string_view(call.user)) + " session " + call.session;
}

std::string jsonStringOrNull(const std::string &text)
{
    return text.empty() ? std::string("null") : json::serialize(json::string_view(text));
}

AuthDecision refused(Error code, std::string reason)
{
    AuthDecision decision;
    decision.refusal = code;
    decision.reason = std::move(reason);
    return decision;
}

} // namespace

SubscribeProxy::SubscribeProxy(SubscribeProxyOptions options, Metrics &metrics)
    : m_options(std::move(options)), m_metrics(metrics), m_client(backendClientOptions(m_options, "--subscribe-proxy"), metrics.subscribeProxy)
{
}

SubscribeProxy::~SubscribeProxy()
{
    stop();
}

void SubscribeProxy::stop()
{
    m_client.stop();
}

std::string SubscribeProxy::requestBody(const SubscribeCall &call)
{
    // User info and channel data are JSON text already checked by the token verifier / protocol;
    // spliced in as they are, the rest is escaped by Boost.JSON.
    std::string body = R"({"channel":)";
    body += json::serialize(json::string_view(call.channel));
    body += R"(,"type":)";
    body += call.type == ChannelType::Presence ? R"("presence")" : R"("private")";
    body += R"(,"user":)";
    body += jsonStringOrNull(call.user);
    body += R"(,"info":)";
    body += call.userInfo.empty() ? std::string("null") : call.userInfo;
    body += R"(,"session":)";
    body += json::serialize(json::string_view(call.session));
    body += R"(,"client":)";
    body += jsonStringOrNull(call.client);
    body += R"(,"auth":)";
    body += jsonStringOrNull(call.auth);
    body += R"(,"data":)";
    body += call.data.empty() ? std::string("null") : call.data;
    body += '}';
    return body;
}

AuthDecision SubscribeProxy::decisionOf(const HttpPostResult &result, const SubscribeCall &call)
{
    switch (result.outcome) {
    case HttpPostResult::Outcome::Unreachable: return refused(Error::BadGateway, "backend unreachable");
    case HttpPostResult::Outcome::BadAnswer: return refused(Error::BadGateway, "backend answered invalid HTTP");
    case HttpPostResult::Outcome::Timeout: return refused(Error::AuthorizationTimeout, "backend timed out");
    case HttpPostResult::Outcome::Answered: break;
    }
    const bool success = result.status >= 200 && result.status < 300;
    const bool denial = result.status == 401 || result.status == 403;
    if (!success && !denial)
        return refused(Error::BadGateway, "backend answered HTTP " + std::to_string(result.status));

    // The same JSON rules as client frames (depth, numbers), so the info is valid in frames.
    json::value body;
    if (!success || parseJson(result.body, body))
        body = nullptr;
    const json::object *object = body.if_object();
    std::string message = "subscribe proxy denied the join";
    if (object) {
        if (const auto *m = object->if_contains("message"); m && m->is_string() && !m->get_string().empty())
            message = std::string(m->get_string());
    }
    if (denial) {
        // A 401/403 body may be anything; its message is used when it is a JSON object.
        json::value denialBody;
        if (!parseJson(result.body, denialBody) && denialBody.is_object()) {
            if (const auto *m = denialBody.get_object().if_contains("message"); m && m->is_string() && !m->get_string().empty())
                message = std::string(m->get_string());
        }
        return refused(result.status == 401 ? Error::Unauthorized : Error::Forbidden, std::move(message));
    }
    const json::value *allow = object ? object->if_contains("allow") : nullptr;
    if (!allow || !allow->is_bool())
        return refused(Error::BadGateway, "backend answered invalid JSON");
    if (!allow->get_bool())
        return refused(Error::Forbidden, std::move(message));

    AuthDecision decision;
    decision.allowed = true;
    // `expiresIn` (seconds): the authorization ends then unless the client refreshes it.
    if (const json::value *expiresIn = object->if_contains("expiresIn"); expiresIn && !expiresIn->is_null()) {
        if (!expiresIn->is_number() || expiresIn->to_number<double>() <= 0 || expiresIn->to_number<double>() > 1e9)
            return refused(Error::BadGateway, "backend answered an invalid expiresIn");
        const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch()).count();
        decision.expiresAtMs = now + static_cast<std::int64_t>(expiresIn->to_number<double>() * 1000);
    }
    if (call.type == ChannelType::Presence) {
        const json::value *user = object->if_contains("user");
        if (user && user->is_string() && !user->get_string().empty())
            decision.memberUserId = std::string(user->get_string());
        else
            decision.memberUserId = call.user.empty() ? call.session : call.user;
        if (const json::value *info = object->if_contains("info"))
            decision.memberInfo = json::serialize(*info);
        else
            decision.memberInfo = call.userInfo.empty() ? std::string("null") : call.userInfo;
    }
    return decision;
}

AuthDecision SubscribeProxy::busyDecision()
{
    return refused(Error::NotConnected, "subscribe proxy busy");
}

bool SubscribeProxy::authorize(SubscribeCall call, std::function<void(AuthDecision)> done)
{
    std::string body = requestBody(call);
    const bool accepted = m_client.post(std::move(body), [this, call, done = std::move(done)](const HttpPostResult &result) {
        AuthDecision decision = decisionOf(result, call);
        const Error refusal = decision.refusal;
        if (decision.allowed) {
            m_metrics.subscribeProxyAllowed.fetch_add(1, std::memory_order_relaxed);
        } else if (refusal == Error::Forbidden || refusal == Error::Unauthorized) {
            m_metrics.subscribeProxyDenied.fetch_add(1, std::memory_order_relaxed);
        } else {
            m_client.countFailure(result);
            log::limited(LogLevel::Info, "subscribe proxy failed",
                         "subscribe proxy: " + describe(call) + ": " + std::to_string(static_cast<int>(refusal)) + " "
                             + decision.reason + (result.error.empty() ? std::string() : " (" + result.error + ")"));
        }
        done(std::move(decision));
    });
    if (!accepted) // over the limit: refused without touching the backend
        log::limited(LogLevel::Info, "subscribe proxy busy",
                     "subscribe proxy: busy (" + std::to_string(m_client.options().concurrency) + " in flight), refused " + describe(call));
    return accepted;
}

} // namespace switchboard::asio
