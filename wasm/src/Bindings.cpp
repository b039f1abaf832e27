// embind surface of the browser client: one class, plain strings and numbers. The JavaScript
// API (wasm/js/switchboard-api.js) builds channels, listeners and promises on top of it.
#include "WebClient.h"

#include <emscripten/bind.h>

EMSCRIPTEN_BINDINGS(switchboard_web)
{
    using switchboard::web::WebClient;
    emscripten::class_<WebClient>("WebClient")
        .constructor<emscripten::val, emscripten::val>()
        .function("setTokenMode", &WebClient::setTokenMode)
        .function("deliverToken", &WebClient::deliverToken)
        .function("connect", &WebClient::connect)
        .function("connectUrls", &WebClient::connectUrls)
        .function("currentUrl", &WebClient::currentUrl)
        .function("close", &WebClient::close)
        .function("state", &WebClient::state)
        .function("sessionId", &WebClient::sessionId)
        .function("userId", &WebClient::userId)
        .function("subscribe", &WebClient::subscribe)
        .function("unsubscribe", &WebClient::unsubscribe)
        .function("members", &WebClient::members)
        .function("publish", &WebClient::publish)
        .function("request", &WebClient::request)
        .function("publishForReply", &WebClient::publishForReply)
        .function("reply", &WebClient::reply)
        .function("waitFor", &WebClient::waitFor)
        .function("pendingOperations", &WebClient::pendingOperations)
        .function("wireEncoding", &WebClient::wireEncoding)
        .function("bytesReceived", &WebClient::bytesReceived)
        .function("ping", &WebClient::ping)
        .function("lastRoundTripMs", &WebClient::lastRoundTripMs);
}
