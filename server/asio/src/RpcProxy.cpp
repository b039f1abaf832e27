#include "RpcProxy.h"

#include "Log.h"

#include <switchboard/JsonParse.h>
#include <switchboard/websocket/Utf8Validator.h>

#include <boost/json.hpp>

namespace switchboard::asio {

namespace json = boost::json;

namespace {

/// For logs: topic and user quoted and escaped (they may hold any character), at most 100 bytes of topic.
std::string describe(const RpcCall &call)
{
    const std::string_view topic = websocket::utf8Prefix(call.topic, 100); // never half a character
    return "topic " + json::serialize(json::string_view(topic.data(), topic.size())) + " of user "
        + json::serialize(json::string_view(call.user)) + " session " + call.session;
}

} // namespace

namespace {

BackendClientOptions clientOptions(const RpcProxyOptions &o)
{
    return BackendClientOptions{o.url, "--rpc-proxy", o.timeout, o.concurrency, o.maxAnswerBytes, o.tls, o.signingSecret};
}

} // namespace

RpcProxy::RpcProxy(RpcProxyOptions options, Metrics &metrics)
    : m_options(std::move(options)), m_client(clientOptions(m_options), metrics.rpc)
{
}

RpcProxy::~RpcProxy()
{
    stop();
}

void RpcProxy::stop()
{
    m_client.stop();
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
    std::string body = requestBody(call);
    const bool accepted = m_client.post(std::move(body), [this, call, done = std::move(done)](const HttpPostResult &result) {
        RpcOutcome outcome = outcomeOf(result);
        if (!outcome.ok) {
            m_client.countFailure(result);
            log::limited(LogLevel::Info, "rpc failed",
                         "rpc proxy: " + describe(call) + ": " + std::to_string(outcome.status) + " " + outcome.message
                             + (result.error.empty() ? std::string() : " (" + result.error + ")"));
        }
        done(std::move(outcome));
    });
    if (!accepted) // over the limit: refused without touching the backend
        log::limited(LogLevel::Info, "rpc busy",
                     "rpc proxy: busy (" + std::to_string(m_client.options().concurrency) + " in flight), refused " + describe(call));
    return accepted;
}

} // namespace switchboard::asio
