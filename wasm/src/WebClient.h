#pragma once
// WebClient: the object the JavaScript API drives. Owns a ClientSession with its browser
// transport, executor and timer, and reports everything through one JavaScript `sink` function.

#include "BrowserExecutor.h"
#include "BrowserTimer.h"
#include "WebSocketTransport.h"

#include "switchboard/ClientSession.h"

#include <emscripten/val.h>

#include <functional>
#include <map>
#include <string>

namespace switchboard::web {

/// Sink calls, `sink(kind, ...)` (strings unless noted; JSON travels as text):
///   ("state", state, errorCode:number, errorMessage)
///   ("token", generation:number)                       ask the token provider, answer deliverToken
///   ("message", channel, event, dataJson, offset:number, ts:number, sender, bytes:Uint8Array|null, replyTo,
///                                                      latest:bool)
///   ("channel", channel, subscribed:bool, recovered:bool, errorCode:number, errorMessage)
///   ("presence", channel, kind, userId, infoJson)      kind: subscription_succeeded, member_added, member_removed
///   ("ack", requestId:number, errorCode:number, errorMessage, offset:number)
///   ("reply", requestId:number, errorCode:number, errorMessage, payloadJson)
///   ("pong", requestId:number, errorCode:number, errorMessage, roundTripMs:number)
///   ("answer", requestId:number, errorCode:number, errorMessage, replyJson)
///                                                      a subscriber's reply to publishForReply: {payload, from, offset}
///   ("event", requestId:number, errorCode:number, errorMessage, eventJson)   waitFor's event:
///                                                      {key, channel, event, data, offset, ts, sender, replyTo}
///   ("url", currentUrl)                                 failover moved to another endpoint
/// The sink runs on the browser event loop (never inside a WebClient call except `close`, which
/// fails pending acks and replies at once) and may call back into the WebClient.
/// Thread safety: main browser thread only.
class WebClient {
public:
    /// `options`: {ackTimeout, replyTimeout, connectTimeout, backoffInitial, backoffMax, name} (ms).
    WebClient(emscripten::val sink, emscripten::val options);
    ~WebClient();
    WebClient(const WebClient &) = delete;
    WebClient &operator=(const WebClient &) = delete;

    /// mode 0: anonymous, 1: the fixed `token`, 2: ask the sink ("token") before every connect.
    void setTokenMode(int mode, std::string token);
    void deliverToken(int generation, std::string token);

    void connect(std::string url);
    /// Failover: `urls` are the endpoints, one per line, tried in turn (ClientSession::setUrls).
    void connectUrls(std::string urls);
    std::string currentUrl() const;
    void close();
    std::string state() const;
    std::string sessionId() const;
    std::string userId() const;

    void subscribe(std::string channel, std::string auth, std::string channelData, bool recover, bool latest);
    void unsubscribe(std::string channel);
    /// Roster as JSON text: [{"id":..,"info":..}].
    std::string members(std::string channel) const;
    /// requestId < 0: no ack wanted. `idempotencyKey` empty: with an ack, a random one
    /// (ClientSession::publish: a publish whose ack was lost with the connection is sent again).
    void publish(std::string channel, std::string event, std::string json, bool skipSelf, bool compress,
                 std::string idempotencyKey, int requestId);
    /// Publish with wantReply (ClientSession::publishForReply); answers with an "answer" sink
    /// call. timeoutMs <= 0: the session's replyTimeout.
    void publishForReply(std::string channel, std::string event, std::string json, bool skipSelf, bool compress,
                         int timeoutMs, int requestId);
    /// Answers a message's replyTo token; requestId >= 0: an "ack" sink call when handed on.
    void reply(std::string replyTo, std::string json, int requestId);
    /// The next event matching `pattern` (ClientSession::waitFor); answers with an "event" sink call.
    void waitFor(std::string pattern, int timeoutMs, int requestId);
    /// timeoutMs <= 0: the session's replyTimeout.
    void request(std::string topic, std::string json, int timeoutMs, int requestId);
    double pendingOperations() const;
    /// "binary" when the open connection negotiated the binary encoding, else "json".
    std::string wireEncoding() const;
    /// Bytes of WebSocket messages received since the client was made (payloads, no headers).
    double bytesReceived() const;
    /// Measures a round trip (ClientSession::ping); answers with a "pong" sink call.
    /// timeoutMs <= 0: the session's pongTimeout.
    void ping(int timeoutMs, int requestId);
    /// The last round trip in fractional milliseconds (ping or heartbeat); -1 before the first.
    double lastRoundTripMs() const;

private:
    struct ChannelHooks {
        ListenerHandle messages;
        ListenerHandle state;
        ListenerHandle presence;
    };
    void emitState(ClientState state);
    /// Forwards the channel's messages, state and presence to the JavaScript side (once).
    void attachHooks(ClientChannel &channel);

    emscripten::val m_sink;
    BrowserExecutor m_executor;
    BrowserTimer m_timer;
    WebSocketTransport m_transport;
    ClientSession m_session;
    ListenerHandle m_stateHook;
    ListenerHandle m_urlHook;
    ListenerHandle m_serverSubscriptionHook;
    std::map<std::string, ChannelHooks, std::less<>> m_channels; // destroyed before m_session
    std::string m_token;
    int m_tokenMode = 0;
    int m_tokenGeneration = 0;
    std::function<void(std::string)> m_pendingDelivery;
};

} // namespace switchboard::web
