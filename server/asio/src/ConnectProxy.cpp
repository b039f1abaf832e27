#include "ConnectProxy.h"

#include "Log.h"

#include <switchboard/JsonParse.h>
#include <switchboard/TopicFilter.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/json.hpp>

#include <algorithm>
#include <array>
#include <thread>

namespace switchboard::asio {

namespace net = boost::asio;
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
            return std::string(value->get_string()).substr(0, 200);
    }
    return {};
}

std::string jsonString(std::string_view text)
{
    return json::serialize(json::string_view(text.data(), text.size()));
}

} // namespace

struct ConnectProxy::Impl {
    Impl(ConnectProxyOptions &o, Metrics &m)
        : options(o), metrics(m), url(HttpUrl::parse(o.url, "--connect-proxy")), tls(backendTlsContextFor(url.tls, o.tls))
    {
    }

    ConnectProxyOptions &options;
    Metrics &metrics;
    HttpUrl url;
    std::shared_ptr<boost::asio::ssl::context> tls; // one for every request; null for http://
    net::io_context ioc{1};
    net::executor_work_guard<net::io_context::executor_type> work{net::make_work_guard(ioc)};
    std::atomic<std::size_t> inFlight{0};
    std::thread thread;
};

ConnectProxy::ConnectProxy(ConnectProxyOptions options, Metrics &metrics) : m_options(std::move(options))
{
    m_options.concurrency = std::max<std::size_t>(1, m_options.concurrency);
    d = std::make_unique<Impl>(m_options, metrics);
    d->thread = std::thread([this] { d->ioc.run(); });
}

ConnectProxy::~ConnectProxy()
{
    stop();
}

void ConnectProxy::stop()
{
    if (!d->thread.joinable())
        return;
    d->work.reset();
    d->ioc.stop();
    d->thread.join();
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
    const bool isObject = !result.body.empty() && isAcceptedJson(result.body)
        && [&] {
               boost::system::error_code ec;
               body = json::parse(result.body, ec);
               return !ec && body.is_object();
           }();
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
    Metrics &metrics = d->metrics;
    metrics.connectProxyRequests.fetch_add(1, std::memory_order_relaxed);
    // Reserve a slot; over the limit the connect is refused without touching the backend.
    if (d->inFlight.fetch_add(1) >= m_options.concurrency) {
        d->inFlight.fetch_sub(1);
        metrics.connectProxyBusy.fetch_add(1, std::memory_order_relaxed);
        log::limited(LogLevel::Info, "connect proxy busy",
                     "connect proxy: busy (" + std::to_string(m_options.concurrency) + " in flight), refused "
                         + describe(call));
        return false;
    }
    metrics.connectProxyInFlight.fetch_add(1, std::memory_order_relaxed);
    HttpPostRequest request;
    request.body = requestBody(call);
    request.timeout = m_options.timeout;
    request.maxAnswerBytes = m_options.maxAnswerBytes;
    request.tls = d->tls;
    request.signingSecret = m_options.signingSecret;
    const auto started = std::chrono::steady_clock::now();
    Impl *impl = d.get();
    net::post(d->ioc, [impl, request = std::move(request), call = std::move(call), done = std::move(done), started]() mutable {
        httpPost(impl->ioc, impl->url, std::move(request),
                 [impl, call = std::move(call), done = std::move(done), started](HttpPostResult result) {
                     impl->inFlight.fetch_sub(1);
                     Metrics &m = impl->metrics;
                     m.connectProxyInFlight.fetch_sub(1, std::memory_order_relaxed);
                     m.connectProxySeconds.observe(
                         std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
                     ConnectDecision decision = decisionOf(result);
                     if (decision.accepted) {
                         m.connectProxyAccepted.fetch_add(1, std::memory_order_relaxed);
                     } else if (!decision.unavailable) {
                         m.connectProxyRefused.fetch_add(1, std::memory_order_relaxed);
                     } else {
                         switch (result.outcome) {
                         case HttpPostResult::Outcome::Timeout: m.connectProxyTimeouts.fetch_add(1, std::memory_order_relaxed); break;
                         case HttpPostResult::Outcome::Unreachable: m.connectProxyFailedUnreachable.fetch_add(1, std::memory_order_relaxed); break;
                         case HttpPostResult::Outcome::BadAnswer: m.connectProxyFailedInvalid.fetch_add(1, std::memory_order_relaxed); break;
                         case HttpPostResult::Outcome::Answered:
                             (result.status >= 200 && result.status < 300 ? m.connectProxyFailedInvalid : m.connectProxyFailedStatus)
                                 .fetch_add(1, std::memory_order_relaxed);
                             break;
                         }
                         // The close itself is logged by the session; this line says what the backend did.
                         log::limited(LogLevel::Info, "connect proxy failed",
                                      "connect proxy: " + describe(call) + ": " + decision.reason
                                          + (result.outcome == HttpPostResult::Outcome::Answered
                                                 ? " (HTTP " + std::to_string(result.status) + ")"
                                                 : " (" + result.error + ")"));
                     }
                     done(std::move(decision));
                 });
    });
    return true;
}

} // namespace switchboard::asio
