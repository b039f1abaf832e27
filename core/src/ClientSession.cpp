#include "switchboard/ClientSession.h"

#include "client/ChannelSubscriptions.h"
#include "client/CloseErrors.h"
#include "client/FrameFields.h"
#include "client/IncomingFrames.h"
#include "client/OutgoingOperations.h"
#include "client/SessionContext.h"

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <string>
#include <utility>
#include <vector>

namespace switchboard {

namespace json = boost::json;
using namespace client;

// ---- ClientSession::Impl ----

/// The session: its shared state (client/SessionContext.h) and the connection's lifecycle
/// (connect, token, open, timeouts, retry and failover, close).
struct ClientSession::Impl : SessionContext {
    static constexpr int kWireVersion = 1; // docs/protocol.md
    Impl(ClientTransport &t, Executor &e, Timer &clock, ClientOptions o)
        : SessionContext(t, e, clock, std::move(o))
    {
        tokenExpiring = [this](std::int64_t inMs) {
            log(LogLevel::Info, [&] { return "the token expires in " + std::to_string(inMs) + " ms: refreshing it"; });
            refreshToken();
        };
    }

    // ---- token refresh (docs/protocol.md, "Token refresh") ----

    /// Asks the token provider and sends the token in `refresh` on this connection. Without a
    /// provider there is no token to renew: the server closes 3004 at the expiry and the session
    /// reconnects as after any close.
    void refreshToken()
    {
        if (state != ClientState::Connected || !welcomed)
            return;
        if (!tokenProvider) {
            log(LogLevel::Warning, [] { return std::string("cannot refresh the token: no token provider"); });
            return;
        }
        std::weak_ptr<bool> alive = life;
        const std::uint64_t id = connection;
        TokenProvider provider = tokenProvider; // the provider may replace itself
        provider([this, alive, id](std::string token) {
            if (alive.expired() || !connectionAlive(id) || !welcomed || token.empty())
                return;
            const std::uint64_t ackId =
                pending.add(PendingOperations::Kind::Ack, options.ackTimeout,
                            [this, alive](std::error_code error, const json::object *answer) {
                                if (alive.expired())
                                    return;
                                if (!error) {
                                    log(LogLevel::Info, [] { return std::string("token refreshed"); });
                                    return;
                                }
                                const std::string message =
                                    answer ? std::string(stringField(*answer, "message")) : error.message();
                                log(LogLevel::Warning, [&] { return "token refresh refused: " + message; });
                                emitError(error, "token refresh refused: " + message);
                            });
            send(json::object{{"op", "refresh"}, {"token", std::move(token)}, {"ackId", ackId}});
        });
    }

    TokenProvider tokenProvider;
    bool tokenPending = false;     ///< waiting for the token provider
    bool connectAfterClose = false; ///< connect() while the previous connection was closing
    std::uint64_t attempt = 0;
    TimerId retryTimer = 0;
    std::chrono::milliseconds retryDelay{0}; ///< of the last scheduleRetry(), for the log
    std::string pendingToken;      ///< for the `connect` frame, sent once the transport is open

    // The session's other jobs, each in its own file; they refer to the state above.
    ChannelSubscriptions subscriptions{*this};
    OutgoingOperations outgoing{*this};
    IncomingFrames incoming{*this, subscriptions};

    // ---- connecting ----

    void connect()
    {
        switch (state) {
        case ClientState::Connecting:
        case ClientState::Connected:
            return;
        case ClientState::Reconnecting:
            if (retryTimer != 0) { // skip the rest of the backoff wait
                cancelTimer(retryTimer);
                startAttempt();
            }
            return;
        case ClientState::Disconnected:
        case ClientState::Closed:
            break;
        }
        setState(ClientState::Connecting);
        if (state != ClientState::Connecting)
            return; // a state observer closed the session again
        if (transportActive) // the previous connection is still closing: one at a time
            connectAfterClose = true;
        else
            startAttempt();
    }

    void startAttempt()
    {
        const std::uint64_t id = ++attempt;
        cancelTimer(connectTimer);
        connectTimer = timer.start(options.connectTimeout, [this, id] { onConnectTimeout(id); });
        tokenPending = true;
        if (!tokenProvider) {
            openTransport({});
            return;
        }
        std::weak_ptr<bool> alive = life;
        // The provider may deliver now or later; only the current attempt's first token counts.
        TokenProvider provider = tokenProvider; // the provider may replace itself
        provider([this, alive, id](std::string token) {
            if (alive.expired() || id != attempt || !tokenPending)
                return;
            openTransport(std::move(token));
        });
    }

    void openTransport(std::string token)
    {
        tokenPending = false;
        if (state == ClientState::Closed)
            return;
        pendingToken = std::move(token);
        transportActive = true;
        transportOpen = false;
        welcomed = false;
        serverReason.clear();
        ++connection;
        log(LogLevel::Info, [&] { return "connecting to " + endpoints.current(); });
        transport.setSubprotocol(options.encoding == WireEncoding::Binary ? kBinarySubprotocol : std::string_view());
        transport.open(endpoints.current());
    }

    void onConnectTimeout(std::uint64_t id)
    {
        connectTimer = 0;
        if (id != attempt || welcomed)
            return;
        if (transportActive) {
            // The close comes back through onTransportClosed, which schedules the retry.
            retryOnClose = true;
            transport.close(static_cast<std::uint16_t>(DisconnectCode::ConnectTimeout), "connect timeout");
            return;
        }
        tokenPending = false;
        const bool moved = scheduleRetry();
        setState(ClientState::Reconnecting);
        emitError(make_error_code(Error::Timeout), "no token within the connect timeout");
        if (moved)
            notifyUrl();
    }

    /// Schedules the next attempt by the failover rule (client/EndpointRotation.h). True when
    /// the endpoint changed: the caller then runs notifyUrl() after its bookkeeping.
    bool scheduleRetry()
    {
        cancelTimer(retryTimer);
        const std::string previous = endpoints.current();
        retryDelay = endpoints.failed();
        retryTimer = timer.start(retryDelay, [this] {
            retryTimer = 0;
            if (state == ClientState::Reconnecting && !transportActive)
                startAttempt();
        });
        return endpoints.current() != previous;
    }

    /// User callbacks: the endpoint changed (failover or setUrls()) since the last notification.
    void notifyUrl()
    {
        if (!endpoints.takeChange())
            return;
        const std::string url = endpoints.current(); // an observer may call setUrls()
        urlObservers->notify(url);
    }

    void setUrls(std::vector<std::string> urls)
    {
        if (endpoints.replace(std::move(urls), transportActive || state == ClientState::Connected))
            notifyUrl();
    }

    // ---- transport events ----

    void onOpen()
    {
        if (!transportActive || transportOpen)
            return;
        transportOpen = true;
        binaryWire = transport.negotiatedSubprotocol() == kBinarySubprotocol;
        json::object frame;
        frame["op"] = "connect";
        frame["version"] = kWireVersion;
        frame["token"] = pendingToken;
        if (!options.clientName.empty())
            frame["name"] = options.clientName;
        pendingToken.clear();
        send(frame);
        // The first channels' subscribes go right behind: they are ready one round trip sooner.
        subscriptions.pipelineSubscribes();
    }

    void onClosed(std::uint16_t code, std::string_view reason)
    {
        if (!transportActive)
            return;
        transportActive = false;
        const bool wasOpen = transportOpen;
        const bool wasWelcomed = welcomed;
        transportOpen = welcomed = binaryWire = false;
        sessionId.clear();
        cancelTimer(connectTimer);
        heartbeat.stop();
        const bool retry = std::exchange(retryOnClose, false);
        const std::string closedUrl = endpoints.current();
        bool moved = false;
        const std::string why = reason.empty() ? serverReason : std::string(reason);

        // Bookkeeping first, user callbacks after: they may call back into the session.
        std::vector<PendingOperations::Completion> failed = pending.takeAll();
        const ChannelSubscriptions::ChannelRefs changed = subscriptions.markChannelsUnsubscribed();

        bool reconnect = false;
        std::error_code error;
        if (state == ClientState::Closed) {
            // close() was called: final.
        } else if (std::exchange(connectAfterClose, false)) {
            startAttempt();
        } else {
            reconnect = retry || shouldReconnect(code);
            if (retry) // we gave up on it: no welcome in time, or no pong
                error = make_error_code(Error::Timeout);
            else if (!wasWelcomed)
                error = errorForClose(code);
            else if (closeIsError(code))
                error = errorForClose(code);
            if (reconnect)
                moved = scheduleRetry();
            log(LogLevel::Info, [&] {
                std::string line = "connection to " + closedUrl + " closed: code " + std::to_string(code);
                if (!why.empty())
                    line += " (" + why + ")";
                if (!reconnect)
                    return line + "; not reconnecting";
                return line + "; reconnecting to " + endpoints.current() + " in " + std::to_string(retryDelay.count()) + " ms";
            });
            setState(reconnect ? ClientState::Reconnecting : ClientState::Closed);
        }

        for (auto &done : failed) {
            if (done)
                done(make_error_code(Error::NotConnected), nullptr);
        }
        if (state == ClientState::Closed) { // no connection is coming for the calls still waiting
            for (auto &fail : waiting.takeAll())
                fail(make_error_code(Error::NotConnected));
        }
        subscriptions.notifyChannelStates(changed);
        if (error) {
            std::string message = wasWelcomed ? "connection lost" : "connection failed";
            message += " (close code " + std::to_string(code) + (why.empty() ? "" : ": " + why) + ")";
            emitError(error, message);
        }
        if (wasOpen) {
            json::object data;
            data["code"] = code;
            data["reason"] = why;
            data["reconnect"] = reconnect;
            data["url"] = closedUrl;
            emitLifecycle("close", {}, json::value(std::move(data)));
        }
        if (moved)
            notifyUrl();
        if (state == ClientState::Closed) // after the close's own events, which a waitFor may want
            cancelEventWaits(false);
    }

    // ---- close ----

    void close()
    {
        connectAfterClose = false;
        if (state == ClientState::Closed && !transportActive)
            return;
        cancelTimer(retryTimer);
        cancelTimer(connectTimer);
        heartbeat.stop();
        tokenPending = false;
        retryOnClose = false;
        std::vector<PendingOperations::Completion> cancelled = pending.takeAll();
        std::vector<client::WaitingCalls::Fail> unsent = waiting.takeAll();
        const ChannelSubscriptions::ChannelRefs changed = subscriptions.markChannelsUnsubscribed();
        if (transportActive && state != ClientState::Closed)
            transport.close(kCloseNormal, "closed by client");
        // Never inside the caller's close(): acks and replies fail from the executor. The
        // completions only hold the user's callbacks (subscribe ones check `life`).
        for (auto &done : cancelled) {
            if (done)
                post([done = std::move(done)] { done(make_error_code(Error::Cancelled), nullptr); });
        }
        for (auto &fail : unsent)
            post([fail = std::move(fail)] { fail(make_error_code(Error::Cancelled)); });
        cancelEventWaits(true);
        setState(ClientState::Closed);
        subscriptions.notifyChannelStates(changed);
    }
};

// ---- ClientSession ----

ClientSession::ClientSession(ClientTransport &transport, Executor &executor, Timer &timer, ClientOptions options)
    : d(std::make_unique<Impl>(transport, executor, timer, std::move(options)))
{
    transport.setListener(this);
}

ClientSession::~ClientSession()
{
    d->life.reset();
    d->cancelTimer(d->retryTimer);
    d->cancelTimer(d->connectTimer);
    d->heartbeat.stop();
    d->transport.setListener(nullptr);
    if (d->transportActive)
        d->transport.close(kCloseNormal, "client destroyed");
    d->stateObservers->clear();
    d->urlObservers->clear();
    d->channels.clear();
    // Pending operations are dropped without running their callbacks: the session is going away
    // and they may not call into it. Call close() first to have them fail with Cancelled.
}

void ClientSession::setTokenProvider(TokenProvider provider) { d->tokenProvider = std::move(provider); }
void ClientSession::refreshToken() { d->refreshToken(); }
void ClientSession::setUrl(std::string url) { d->setUrls({std::move(url)}); }
void ClientSession::setUrls(std::vector<std::string> urls) { d->setUrls(std::move(urls)); }
const std::vector<std::string> &ClientSession::urls() const { return d->endpoints.urls(); }
const std::string &ClientSession::currentUrl() const { return d->endpoints.current(); }

ListenerHandle ClientSession::onUrlChanged(std::function<void(const std::string &)> fn) { return d->urlObservers->add(std::move(fn)); }
ListenerHandle ClientSession::onServerSubscription(std::function<void(ClientChannel &, bool)> fn)
{
    return d->serverSubscriptionObservers->add(std::move(fn));
}
void ClientSession::connect() { d->connect(); }
void ClientSession::close() { d->close(); }

ClientState ClientSession::state() const { return d->state; }
const std::string &ClientSession::sessionId() const { return d->sessionId; }
const std::string &ClientSession::userId() const { return d->userId; }
std::error_code ClientSession::lastError() const { return d->lastError; }

ListenerHandle ClientSession::onStateChanged(std::function<void(ClientState)> fn) { return d->stateObservers->add(std::move(fn)); }
ClientChannel &ClientSession::subscribe(const std::string &channel, SubscribeOptions options)
{
    return d->subscriptions.subscribe(channel, std::move(options));
}

void ClientSession::unsubscribe(const std::string &channel) { d->subscriptions.unsubscribe(channel); }
ClientChannel *ClientSession::channel(std::string_view name) const { return d->findChannel(name); }

void ClientSession::publish(std::string_view channel, std::string_view event, std::string_view jsonData,
                            std::function<void(std::error_code, AckInfo)> ack, bool skipSelf, bool compress)
{
    PublishOptions options;
    options.skipSelf = skipSelf;
    options.compress = compress;
    d->outgoing.publish(channel, event, jsonData, std::move(ack), options);
}

void ClientSession::publish(std::string_view channel, std::string_view event, std::string_view jsonData,
                            std::function<void(std::error_code, AckInfo)> ack, const PublishOptions &options)
{
    d->outgoing.publish(channel, event, jsonData, std::move(ack), options);
}

void ClientSession::publishForReply(std::string_view channel, std::string_view event, std::string_view jsonData,
                                    std::function<void(std::error_code, const PublishReply &)> reply, PublishOptions options)
{
    d->outgoing.publishForReply(channel, event, jsonData, std::move(reply), options);
}

void ClientSession::reply(std::string_view replyTo, std::string_view jsonPayload, std::function<void(std::error_code)> done)
{
    d->outgoing.reply(replyTo, jsonPayload, std::move(done));
}

void ClientSession::waitFor(std::string_view pattern, std::chrono::milliseconds timeout, EventWaits::Done done)
{
    d->waitFor(pattern, timeout, std::move(done));
}

void ClientSession::request(std::string_view topic, std::string_view jsonPayload,
                            std::function<void(std::error_code, const boost::json::value &)> reply,
                            std::optional<std::chrono::milliseconds> timeout)
{
    d->outgoing.request(topic, jsonPayload, std::move(reply), timeout);
}

void ClientSession::ping(std::function<void(std::error_code, std::chrono::microseconds)> done,
                         std::optional<std::chrono::milliseconds> timeout)
{
    d->outgoing.ping(std::move(done), timeout);
}

std::optional<std::chrono::microseconds> ClientSession::lastRoundTrip() const { return d->lastRoundTrip; }

ListenerHandle ClientSession::on(std::string_view pattern, ClientListener listener)
{
    return d->listeners->add(pattern, std::move(listener), false);
}

ListenerHandle ClientSession::once(std::string_view pattern, ClientListener listener)
{
    return d->listeners->add(pattern, std::move(listener), true);
}

std::size_t ClientSession::pendingOperations() const { return d->pending.waitingCount(); }
std::size_t ClientSession::waitingCalls() const { return d->waiting.size(); }
std::uint64_t ClientSession::publishRetries() const { return d->publishRetries; }
void ClientSession::setFailFast(bool failFast) { d->options.failFast = failFast; }
void ClientSession::setLogger(Logger logger) { d->options.logger = std::move(logger); }
void ClientSession::setWaitQueueLimit(std::size_t limit) { d->options.waitQueueLimit = limit; }
void ClientSession::setEncoding(WireEncoding encoding) { d->options.encoding = encoding; }
WireEncoding ClientSession::wireEncoding() const { return d->binaryWire ? WireEncoding::Binary : WireEncoding::Json; }

void ClientSession::onTransportOpen() { d->onOpen(); }
void ClientSession::onTransportMessage(std::string_view bytes, bool binary) { d->incoming.onMessage(bytes, binary); }
void ClientSession::onTransportClosed(std::uint16_t code, std::string_view reason) { d->onClosed(code, reason); }

} // namespace switchboard
