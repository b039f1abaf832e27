#include "RpcProxy.h"

#include "Log.h"

#include <switchboard/JsonParse.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/json.hpp>

#include <thread>

namespace switchboard::asio {

namespace net = boost::asio;
namespace json = boost::json;

namespace {

/// For logs: topic and user quoted and escaped (they may hold any character), at most 100 bytes of topic.
std::string describe(const RpcCall &call)
{
    const std::string_view topic = std::string_view(call.topic).substr(0, 100);
    return "topic " + json::serialize(json::string_view(topic.data(), topic.size())) + " of user "
        + json::serialize(json::string_view(call.user)) + " session " + call.session;
}

} // namespace

struct RpcProxy::Impl {
    Impl(RpcProxyOptions &o, Metrics &m)
        : options(o), metrics(m), url(HttpUrl::parse(o.url, "--rpc-proxy")),
          tls(backendTlsContextFor(url.tls, o.tls))
    {
    }

    RpcProxyOptions &options;
    Metrics &metrics;
    HttpUrl url;
    std::shared_ptr<boost::asio::ssl::context> tls; // one for every request; null for http://
    net::io_context ioc{1};
    net::executor_work_guard<net::io_context::executor_type> work{net::make_work_guard(ioc)};
    std::atomic<std::size_t> inFlight{0};
    std::thread thread;
};

RpcProxy::RpcProxy(RpcProxyOptions options, Metrics &metrics) : m_options(std::move(options))
{
    m_options.concurrency = std::max<std::size_t>(1, m_options.concurrency);
    d = std::make_unique<Impl>(m_options, metrics);
    d->thread = std::thread([this] { d->ioc.run(); });
}

RpcProxy::~RpcProxy()
{
    stop();
}

void RpcProxy::stop()
{
    if (!d->thread.joinable())
        return;
    d->work.reset();
    d->ioc.stop();
    d->thread.join();
}

std::string RpcProxy::requestBody(const RpcCall &call)
{
    // The payload and user info are JSON text already checked by the protocol / token verifier;
    // spliced in as they are, the rest is escaped by Boost.JSON.
    std::string body = R"({"topic":)";
    body += json::serialize(json::string_view(call.topic));
    body += R"(,"payload":)";
    body += call.payload.empty() ? std::string("null") : call.payload;
    body += R"(,"user":)";
    body += call.user.empty() ? std::string("null") : json::serialize(json::string_view(call.user));
    body += R"(,"session":)";
    body += json::serialize(json::string_view(call.session));
    body += R"(,"info":)";
    body += call.userInfo.empty() ? std::string("null") : call.userInfo;
    body += R"(,"client":)";
    body += call.client.empty() ? std::string("null") : json::serialize(json::string_view(call.client));
    body += R"(,"reply":)";
    body += call.expectsReply ? "true" : "false";
    body += '}';
    return body;
}

RpcOutcome RpcProxy::outcomeOf(const HttpPostResult &result)
{
    RpcOutcome out;
    switch (result.outcome) {
    case HttpPostResult::Outcome::Unreachable:
        out.status = 502;
        out.message = "backend unreachable";
        return out;
    case HttpPostResult::Outcome::BadAnswer:
        out.status = 502;
        out.message = "backend answered invalid HTTP";
        return out;
    case HttpPostResult::Outcome::Timeout:
        out.status = 504;
        out.message = "backend timed out";
        return out;
    case HttpPostResult::Outcome::Answered:
        break;
    }
    if (result.status >= 200 && result.status < 300) {
        // The same JSON rules as client frames (depth, numbers), so the reply frame is valid.
        if (!result.body.empty() && !isAcceptedJson(result.body)) {
            out.status = 502;
            out.message = "backend answered invalid JSON";
            return out;
        }
        out.ok = true;
        out.payload = result.body.empty() ? std::string("null") : result.body;
        return out;
    }
    boost::system::error_code ec;
    const json::value body = json::parse(result.body, ec);
    out.status = static_cast<int>(result.status);
    out.message = "backend answered HTTP " + std::to_string(result.status);
    if (!ec && body.is_object()) {
        const auto &object = body.get_object();
        if (const auto *message = object.if_contains("message"); message && message->is_string())
            out.message = std::string(message->get_string());
        if (const auto *trace = object.if_contains("trace"); trace && trace->is_string())
            out.trace = std::string(trace->get_string());
    }
    return out;
}

RpcOutcome RpcProxy::busyOutcome()
{
    RpcOutcome busy;
    busy.status = 503;
    busy.message = "rpc proxy busy";
    return busy;
}

bool RpcProxy::call(RpcCall call, std::function<void(RpcOutcome)> done)
{
    Metrics &metrics = d->metrics;
    metrics.rpcRequests.fetch_add(1, std::memory_order_relaxed);
    // Reserve a slot; over the limit the request is refused without touching the backend.
    if (d->inFlight.fetch_add(1) >= m_options.concurrency) {
        d->inFlight.fetch_sub(1);
        metrics.rpcBusy.fetch_add(1, std::memory_order_relaxed);
        log::limited(LogLevel::Info, "rpc busy",
                     "rpc proxy: busy (" + std::to_string(m_options.concurrency) + " in flight), refused "
                         + describe(call));
        return false;
    }
    metrics.rpcInFlight.fetch_add(1, std::memory_order_relaxed);
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
                     m.rpcInFlight.fetch_sub(1, std::memory_order_relaxed);
                     m.rpcSeconds.observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
                     RpcOutcome outcome = outcomeOf(result);
                     if (!outcome.ok) {
                         switch (result.outcome) {
                         case HttpPostResult::Outcome::Timeout: m.rpcTimeouts.fetch_add(1, std::memory_order_relaxed); break;
                         case HttpPostResult::Outcome::Unreachable: m.rpcFailedUnreachable.fetch_add(1, std::memory_order_relaxed); break;
                         case HttpPostResult::Outcome::BadAnswer: m.rpcFailedInvalid.fetch_add(1, std::memory_order_relaxed); break;
                         case HttpPostResult::Outcome::Answered:
                             (result.status >= 200 && result.status < 300 ? m.rpcFailedInvalid : m.rpcFailedStatus)
                                 .fetch_add(1, std::memory_order_relaxed);
                             break;
                         }
                         log::limited(LogLevel::Info, "rpc failed",
                                      "rpc proxy: " + describe(call) + ": " + std::to_string(outcome.status) + " "
                                          + outcome.message
                                          + (result.error.empty() ? std::string() : " (" + result.error + ")"));
                     }
                     done(std::move(outcome));
                 });
    });
    return true;
}

} // namespace switchboard::asio
