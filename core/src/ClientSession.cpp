#include "switchboard/ClientSession.h"
#include "switchboard/MessageEncoding.h"

#include "client/ChannelSubscriptions.h"
#include "client/CloseErrors.h"
#include "client/FrameFields.h"
#include "client/OutgoingOperations.h"
#include "client/SessionContext.h"
#include "Utf8.h"

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <charconv>
#include <map>
#include <utility>

namespace switchboard {

namespace json = boost::json;
using namespace client;

std::string_view clientStateName(ClientState state) noexcept
{
    switch (state) {
    case ClientState::Disconnected: return "disconnected";
    case ClientState::Connecting: return "connecting";
    case ClientState::Connected: return "connected";
    case ClientState::Reconnecting: return "reconnecting";
    case ClientState::Closed: return "closed";
    }
    return "unknown";
}

namespace {

constexpr int kWireVersion = 1; // docs/protocol.md

} // namespace

// ---- ClientSession::Impl ----

/// The session: its shared state (client/SessionContext.h) and the connection's lifecycle
/// (connect, token, open, timeouts, retry and failover, close).
struct ClientSession::Impl : SessionContext {
    Impl(ClientTransport &t, Executor &e, Timer &clock, ClientOptions o)
        : SessionContext(t, e, clock, std::move(o))
    {
    }

    TokenProvider tokenProvider;
    bool tokenPending = false;     ///< waiting for the token provider
    bool connectAfterClose = false; ///< connect() while the previous connection was closing
    std::uint64_t attempt = 0;
    TimerId retryTimer = 0;
    std::chrono::milliseconds retryDelay{0}; ///< of the last scheduleRetry(), for the log

    ChannelSubscriptions subscriptions{*this};
    OutgoingOperations outgoing{*this};

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
        transport.open(endpoints.current());
    }
    std::string pendingToken;

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
        json::object frame;
        frame["op"] = "connect";
        frame["version"] = kWireVersion;
        frame["token"] = pendingToken;
        if (!options.clientName.empty())
            frame["name"] = options.clientName;
        pendingToken.clear();
        send(frame);
    }

    void onClosed(std::uint16_t code, std::string_view reason)
    {
        if (!transportActive)
            return;
        transportActive = false;
        const bool wasOpen = transportOpen;
        const bool wasWelcomed = welcomed;
        transportOpen = welcomed = false;
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
    }

    void onMessage(std::string_view bytes, bool binary)
    {
        if (!transportActive || !transportOpen || state == ClientState::Closed)
            return;
        heartbeat.received();
        if (binary) {
            onBinary(bytes);
            return;
        }
        // Server frames nest a publication's data deeper than the publish frame did (subscribed
        // -> publications -> data), so allow more than a client frame's 32 levels.
        json::value root;
        if (parseJson(bytes, root, JsonParseOptions{128}) || !root.is_object()) {
            emitError(make_error_code(Error::BadRequest), "unreadable frame from the server");
            return;
        }
        const json::object &frame = root.get_object();
        const std::string_view op = stringField(frame, "op");
        if (!welcomed) {
            // Before welcome only welcome, error and disconnect mean something.
            if (op == "welcome")
                onWelcome(root);
            else if (op == "error")
                onError(root);
            else if (op == "disconnect")
                serverReason = std::string(stringField(frame, "reason"));
            return;
        }
        if (op == "message")
            onPublication(stringField(frame, "channel"), frame, false);
        else if (op == "subscribed")
            onSubscribed(frame);
        else if (op == "unsubscribed")
            onUnsubscribed(frame);
        else if (op == "presence")
            onPresence(frame);
        else if (op == "ack")
            onAck(frame);
        else if (op == "reply")
            onReply(frame);
        else if (op == "error")
            onError(root);
        else if (op == "pong")
            onPong(frame);
        else if (op == "ping")
            send(json::object{{"op", "pong"}});
        else if (op == "disconnect")
            serverReason = std::string(stringField(frame, "reason"));
        // unsubscribed and ops of later protocol versions need nothing.
    }

    void onWelcome(const json::value &root)
    {
        const json::object &frame = root.get_object();
        const std::uint64_t id = connection;
        welcomed = true;
        cancelTimer(connectTimer);
        endpoints.welcomed();
        sessionId = std::string(stringField(frame, "session"));
        userId = std::string(stringField(frame, "user"));
        const std::chrono::milliseconds pingInterval(std::max<std::int64_t>(intField(frame, "ping", 0), 0));
        log(LogLevel::Info, [&] {
            return "connected to " + endpoints.current() + ": session " + sessionId
                + (userId.empty() ? std::string(", anonymous") : ", user " + userId);
        });
        heartbeat.start(pingInterval, options.pongTimeout);
        subscriptions.resubscribeAll();
        waiting.startAll(); // before anything a state observer sends
        setState(ClientState::Connected);
        if (connectionAlive(id))
            emitLifecycle("session.started", {}, root);
    }

    void onSubscribed(const json::object &frame)
    {
        const std::string_view name = stringField(frame, "channel");
        ChannelState *ch = findChannel(name);
        bool byServer = false;
        if (!ch) {
            if (!boolField(frame, "server") || name.empty() || !detail::isValidUtf8(name))
                return; // unsubscribed meanwhile
            // The server subscribed this session: the channel becomes the client's own.
            auto owned = std::make_unique<ChannelState>(std::string(name), SubscribeOptions{}, ++lastChannelSerial);
            ch = owned.get();
            channels.emplace(std::string(name), std::move(owned));
            byServer = true;
            log(LogLevel::Info, [&] { return "the server subscribed this session to " + std::string(name); });
        }
        const std::uint64_t ackId = ackIdOf(frame);
        if (ackId != 0 && ackId != ch->pendingAckId)
            return; // answer to an earlier subscribe of the same name
        const std::uint64_t id = connection;
        const std::uint64_t serial = ch->serial;
        pending.complete(ch->pendingAckId, {}, &frame);
        ch->pendingAckId = 0;
        ch->isSubscribed = true;
        ch->error = {};
        ch->wasRecovered = ch->recoverySent && boolField(frame, "recovered");
        // Recovered or not, the stream continues from the top the server reports.
        ch->streamPosition = StreamPosition{uintField(frame, "offset"), std::string(stringField(frame, "epoch"))};
        ch->hasPosition = true;
        ch->recoveryHigh = 0;
        const json::value *publications = frame.if_contains("publications");
        std::size_t missed = 0;
        if (publications && publications->is_array()) {
            for (const json::value &p : publications->get_array()) {
                if (p.is_object())
                    ch->recoveryHigh = std::max(ch->recoveryHigh, uintField(p.get_object(), "offset"));
            }
            missed = publications->get_array().size();
        }
        if (ch->recoverySent && !ch->wasRecovered) {
            log(LogLevel::Warning, [&] {
                return "subscribed to " + std::string(name) + " without full recovery: publications may be missing ("
                    + std::to_string(missed) + " replayed, continuing from offset " + std::to_string(ch->streamPosition.offset) + ")";
            });
        } else {
            log(LogLevel::Debug, [&] {
                return "subscribed to " + std::string(name) + " at offset " + std::to_string(ch->streamPosition.offset)
                    + (ch->recoverySent ? ", recovered " + std::to_string(missed) : std::string());
            });
        }
        if (byServer) {
            serverSubscriptionObservers->notify(*ch, true);
            if (!connectionAlive(id) || !(ch = findChannel(name, serial)))
                return;
        }
        ch->stateObservers->notify();
        if (!publications || !publications->is_array())
            return;
        // Missed publications, oldest first, before any live message of this channel.
        for (const json::value &p : publications->get_array()) {
            if (!connectionAlive(id) || !(ch = findChannel(name, serial)))
                return;
            if (p.is_object())
                onPublication(name, p.get_object(), true);
        }
    }

    /// `unsubscribed` answers the client's own unsubscribe (nothing to do: the channel is gone)
    /// or, with `server: true`, tells that the server ended a subscription.
    void onUnsubscribed(const json::object &frame)
    {
        if (!boolField(frame, "server"))
            return;
        auto it = channels.find(stringField(frame, "channel"));
        if (it == channels.end())
            return;
        std::unique_ptr<ChannelState> ch = std::move(it->second);
        channels.erase(it);
        log(LogLevel::Info, [&] { return "the server unsubscribed this session from " + ch->name(); });
        if (ch->pendingAckId != 0)
            pending.complete(std::exchange(ch->pendingAckId, 0), make_error_code(Error::Cancelled), nullptr);
        ch->isSubscribed = false;
        ch->stateObservers->notify();
        serverSubscriptionObservers->notify(*ch, false);
    }

    void onPublication(std::string_view channel, const json::object &message, bool recovered)
    {
        ChannelState *ch = findChannel(channel);
        if (!ch)
            return;
        const std::uint64_t offset = uintField(message, "offset");
        if (!recovered && offset != 0 && offset <= ch->recoveryHigh)
            return; // already delivered from the recovery list
        if (offset > ch->streamPosition.offset)
            ch->streamPosition.offset = offset;
        const std::string_view event = stringField(message, "event");
        const json::value *data = message.if_contains("data");
        std::string key;
        key.reserve(channel.size() + 1 + event.size());
        key.append(channel).append(1, '.').append(event);
        const ClientEvent ev{.key = key, .channel = channel, .event = event, .data = data ? *data : nullValue(),
                             .offset = offset, .timestampMs = intField(message, "ts", 0),
                             .sender = stringField(message, "sender")};
        listeners->dispatchMessage(ev);
    }

    void onBinary(std::string_view bytes)
    {
        const std::optional<BinaryFrameView> frame = decodeBinaryFrame(bytes);
        if (!frame) {
            emitError(make_error_code(Error::BadRequest), "unreadable binary frame from the server");
            return;
        }
        if (!findChannel(frame->channel))
            return;
        std::string key;
        key.append(frame->channel).append(1, '.').append(frame->event);
        const ClientEvent ev{.key = key, .channel = frame->channel, .event = frame->event, .data = nullValue(),
                             .binary = true, .binaryData = frame->bytes};
        listeners->dispatchMessage(ev);
    }

    void onPresence(const json::object &frame)
    {
        const std::string_view channel = stringField(frame, "channel");
        const std::string_view event = stringField(frame, "event");
        ChannelState *ch = findChannel(channel);
        if (!ch || event.substr(0, 9) != "presence:")
            return;
        const std::string_view kind = event.substr(9);
        const std::uint64_t serial = ch->serial;
        const json::value *payload = nullptr;
        Member member;
        if (!ch->applyPresence(kind, frame, payload, member))
            return;
        ch->presenceObservers->notify(kind, member);
        if (!findChannel(channel, serial))
            return;
        std::string key;
        key.append(channel).append(1, '.').append(event);
        const ClientEvent ev{.key = key, .channel = channel, .event = event, .data = payload ? *payload : nullValue()};
        listeners->dispatchMessage(ev);
    }

    // ---- acks, replies, errors ----

    void onAck(const json::object &frame)
    {
        const std::uint64_t id = ackIdOf(frame);
        const PendingOperations::Kind *kind = pending.kindOf(id);
        if (!kind)
            return; // late (timed out) or not ours
        if (*kind == PendingOperations::Kind::Reply)
            pending.markAcked(id);
        else if (*kind == PendingOperations::Kind::Ack)
            pending.complete(id, {}, &frame);
    }

    void onReply(const json::object &frame)
    {
        const std::uint64_t id = ackIdOf(frame);
        const PendingOperations::Kind *kind = pending.kindOf(id);
        if (!kind || *kind != PendingOperations::Kind::Reply)
            return;
        std::error_code error;
        if (stringField(frame, "topic") == "error") {
            std::int64_t status = 500;
            if (const json::value *payload = frame.if_contains("payload"); payload && payload->is_object())
                status = intField(payload->get_object(), "status", 500);
            error = std::error_code(static_cast<int>(status), errorCategory());
        }
        pending.complete(id, error, &frame);
    }

    /// A pong times the ping whose ackId it echoes; one without ackId, or with one nobody waits
    /// for (timed out, cancelled, not ours), only counted as liveness in onMessage.
    void onPong(const json::object &frame)
    {
        const std::uint64_t id = ackIdOf(frame);
        if (id == 0)
            return;
        if (const auto rtt = heartbeat.answered(id)) {
            lastRoundTrip = rtt;
            return;
        }
        const PendingOperations::Kind *kind = pending.kindOf(id);
        if (kind && *kind == PendingOperations::Kind::Ping)
            pending.complete(id, {}, &frame);
    }

    void onError(const json::value &root)
    {
        const json::object &frame = root.get_object();
        const std::int64_t code = intField(frame, "code", static_cast<int>(Error::BadRequest));
        const std::error_code error(static_cast<int>(code), errorCategory());
        const std::uint64_t id = ackIdOf(frame);
        if (id != 0 && pending.complete(id, error, &frame))
            return;
        if (id != 0 && pending.issued(id))
            return; // answer to an operation that already timed out, or nobody waits for
        emitError(error, stringField(frame, "message"), stringField(frame, "channel"), &root);
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
void ClientSession::setUrl(std::string url) { d->setUrls({std::move(url)}); }
void ClientSession::setUrls(std::vector<std::string> urls) { d->setUrls(std::move(urls)); }
const std::vector<std::string> &ClientSession::urls() const { return d->endpoints.urls(); }
const std::string &ClientSession::currentUrl() const { return d->endpoints.current(); }

ListenerHandle ClientSession::onUrlChanged(std::function<void(const std::string &)> fn)
{
    return d->urlObservers->add(std::move(fn));
}

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

ListenerHandle ClientSession::onStateChanged(std::function<void(ClientState)> fn)
{
    return d->stateObservers->add(std::move(fn));
}

ClientChannel &ClientSession::subscribe(const std::string &channel, SubscribeOptions options)
{
    return d->subscriptions.subscribe(channel, std::move(options));
}

void ClientSession::unsubscribe(const std::string &channel) { d->subscriptions.unsubscribe(channel); }
ClientChannel *ClientSession::channel(std::string_view name) const { return d->findChannel(name); }

void ClientSession::publish(std::string_view channel, std::string_view event, std::string_view jsonData,
                            std::function<void(std::error_code, AckInfo)> ack, bool skipSelf, bool compress)
{
    d->outgoing.publish(channel, event, jsonData, std::move(ack), skipSelf, compress);
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
void ClientSession::setFailFast(bool failFast) { d->options.failFast = failFast; }
void ClientSession::setLogger(Logger logger) { d->options.logger = std::move(logger); }
void ClientSession::setWaitQueueLimit(std::size_t limit) { d->options.waitQueueLimit = limit; }

void ClientSession::onTransportOpen() { d->onOpen(); }
void ClientSession::onTransportMessage(std::string_view bytes, bool binary) { d->onMessage(bytes, binary); }
void ClientSession::onTransportClosed(std::uint16_t code, std::string_view reason) { d->onClosed(code, reason); }

} // namespace switchboard
