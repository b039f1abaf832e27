#include "switchboard/PusherProtocol.h"

#include "switchboard/ChannelName.h"
#include "switchboard/JsonParse.h"
#include "switchboard/PusherFrames.h"
#include "switchboard/PusherNames.h"

#include "RandomId.h"
#include "RateLimiter.h"
#include "Utf8.h"

#include <boost/json/serialize.hpp>

#include <map>
#include <set>
#include <unordered_map>

namespace switchboard {

std::uint16_t pusherCloseCode(std::uint16_t nativeCode) noexcept
{
    using DC = DisconnectCode;
    if (nativeCode >= 4000 || nativeCode < 3000)
        return nativeCode;
    switch (static_cast<DC>(nativeCode)) {
    case DC::IdleTimeout:
    case DC::InsufficientState: return pusher_code::Reconnect;
    case DC::Shutdown:
    case DC::SlowConsumer:
    case DC::ServerFull:
    case DC::Flood:
    case DC::AuthUnavailable:
    case DC::ConnectTimeout: return pusher_code::OverCapacity;
    default: break;
    }
    return nativeCode >= 3500 ? pusher_code::Unauthorized : pusher_code::OverCapacity;
}

namespace {

/// What the Hub sees of a Pusher connection: native frames in, Pusher frames to the transport.
class PusherSession final : public Session {
public:
    explicit PusherSession(std::shared_ptr<Session> transport) : m_transport(std::move(transport)) {}

    SendOutcome send(const SharedFrame &frame) override
    {
        // Publications and presence changes are translated once per frame and shared; other
        // native frames (none reach a Pusher session in normal operation: the protocol answers
        // its own subscribes) have no Pusher form and are dropped.
        const SharedFrame &translated =
            frame->pusher.getOrBuild([&] { return translateToPusher(*frame); });
        if (!translated)
            return SendResult::Ok;
        return m_transport->send(translated);
    }
    void close(DisconnectCode code, std::string_view reason) override
    {
        const std::uint16_t pusher = pusherCloseCode(static_cast<std::uint16_t>(code));
        m_transport->send(encodePusherError(pusher, reason));
        m_transport->close(static_cast<DisconnectCode>(pusher), reason);
    }
    void attached(std::string_view sessionId, std::string_view userId) override
    {
        m_transport->attached(sessionId, userId);
    }
    Session &transport() { return *m_transport; }

private:
    std::shared_ptr<Session> m_transport;
};

struct Connection {
    PusherProtocol::ConnectionHandle handle = 0;
    const PusherApp *app = nullptr;
    std::shared_ptr<PusherSession> session;
    std::string socketId;
    std::set<std::string, std::less<>> subscribed; ///< Pusher names, subscription succeeded
    std::set<std::string, std::less<>> joining;    ///< Pusher names, join in progress
    detail::RateLimiter ops;          ///< against Impl::opsLimit
    detail::RateLimiter clientEvents; ///< against Impl::clientEventsLimit
    int violations = 0;
    std::chrono::milliseconds lastActivity{0};
    std::chrono::milliseconds pingSentAt{0};
    bool awaitingPong = false;
    bool closing = false;
    TimerId timer = 0;
    /// Presence channel (Pusher name) -> the user_id its signed channel_data names (the user_id of
    /// its client events there, in their publication and in client_event webhooks).
    std::map<std::string, std::string, std::less<>> presenceUsers;
};

std::string_view stringMember(const boost::json::object &object, std::string_view key)
{
    const boost::json::value *value = object.if_contains(key);
    if (!value || !value->is_string())
        return {};
    return value->get_string();
}

} // namespace

struct PusherProtocol::Impl : std::enable_shared_from_this<PusherProtocol::Impl> {
    Hub &hub;
    Timer &timer;
    std::vector<PusherApp> apps;
    HmacSha256 hmac;
    PusherOptions options;
    detail::RateLimit opsLimit{options.opsPerSecond, options.opsBurst};
    detail::RateLimit clientEventsLimit{options.clientEventsPerSecond, options.clientEventBurst};
    PusherCounters counters;
    PusherClientEventHook clientEventHook;
    std::unordered_map<ConnectionHandle, std::unique_ptr<Connection>> connections;
    ConnectionHandle nextHandle = 0;

    Impl(Hub &h, Timer &t, std::vector<PusherApp> a, HmacSha256 m, PusherOptions o)
        : hub(h), timer(t), apps(std::move(a)), hmac(std::move(m)), options(o)
    {
    }

    Connection *find(ConnectionHandle handle)
    {
        const auto it = connections.find(handle);
        return it == connections.end() ? nullptr : it->second.get();
    }

    void send(Connection &c, const SharedFrame &frame) { c.session->transport().send(frame); }

    /// pusher:error for bad input or a refusal; logged by the transport (rate-limited there).
    void refuse(Connection &c, std::optional<int> code, std::string_view message, Error logCode)
    {
        ++counters.errors;
        send(c, encodePusherError(code, message));
        c.session->transport().refused(logCode, message);
    }

    /// A refusal that counts towards the flood close.
    void violation(Connection &c)
    {
        if (++c.violations < options.violationsBeforeClose || c.closing)
            return;
        ++counters.floodDisconnects;
        closeConnection(c, pusher_code::OverCapacity, "too many refused frames");
    }

    void closeConnection(Connection &c, int code, std::string_view reason)
    {
        if (c.closing)
            return;
        c.closing = true;
        send(c, encodePusherError(code, reason));
        c.session->transport().close(static_cast<DisconnectCode>(code), reason);
    }

    void armActivity(Connection &c, std::chrono::milliseconds delay)
    {
        std::weak_ptr<Impl> weak = weak_from_this();
        const ConnectionHandle handle = c.handle;
        c.timer = timer.start(std::max(delay, std::chrono::milliseconds(1)), [weak, handle] {
            if (auto self = weak.lock())
                self->onActivityTimer(handle);
        });
    }

    void onActivityTimer(ConnectionHandle handle)
    {
        Connection *c = find(handle);
        if (!c || c->closing)
            return;
        c->timer = 0;
        const auto now = timer.now();
        if (c->awaitingPong) {
            const auto waited = now - c->pingSentAt;
            if (waited >= options.pongTimeout) {
                ++counters.pongTimeouts;
                closeConnection(*c, pusher_code::PongNotReceived, "Pong reply not received");
                return;
            }
            return armActivity(*c, options.pongTimeout - waited);
        }
        const auto idle = now - c->lastActivity;
        const std::chrono::milliseconds timeout = options.activityTimeout;
        if (idle < timeout)
            return armActivity(*c, timeout - idle);
        ++counters.pingsSent;
        c->awaitingPong = true;
        c->pingSentAt = now;
        send(*c, encodePusherPing());
        armActivity(*c, options.pongTimeout);
    }

    ConnectionHandle open(std::shared_ptr<Session> transport, std::string_view appKey,
                          std::optional<std::string_view> protocol)
    {
        auto refuseOpen = [&](int code, std::string_view message) -> ConnectionHandle {
            ++counters.errors;
            transport->send(encodePusherError(code, message));
            transport->refused(Error::BadRequest, message);
            transport->close(static_cast<DisconnectCode>(code), message);
            return 0;
        };
        const PusherApp *app = appByKey(appKey);
        if (!app) {
            ++counters.unknownApps;
            return refuseOpen(pusher_code::AppNotFound, "App key " + detail::shownText(appKey) + " not in this cluster");
        }
        if (!protocol || protocol->empty()) {
            ++counters.unsupportedProtocol;
            return refuseOpen(pusher_code::NoProtocol, "No protocol version supplied");
        }
        if (*protocol != "7") {
            ++counters.unsupportedProtocol;
            return refuseOpen(pusher_code::UnsupportedProtocol,
                              "Unsupported protocol version " + detail::shownText(*protocol) + " (7 is supported)");
        }
        auto c = std::make_unique<Connection>(Connection{
            ++nextHandle, app, std::make_shared<PusherSession>(std::move(transport)), {}, {}, {},
            detail::RateLimiter(opsLimit, timer.now()), detail::RateLimiter(clientEventsLimit, timer.now())});
        // The socket id is the Hub session id, so that a server publish's `except` (Laravel's
        // toOthers) names the connection the way pusher-js reports it.
        for (int attempt = 0; attempt < 4 && c->socketId.empty(); ++attempt) {
            std::string proposed = detail::randomDigits(9) + '.' + detail::randomDigits(9);
            std::string id = hub.attach(c->session, Principal{}, "pusher", proposed);
            if (id.empty())
                break; // the Hub is closed
            if (id == proposed)
                c->socketId = std::move(id);
            else
                hub.detach(id); // taken: a random hex id is no Pusher socket id
        }
        if (c->socketId.empty()) {
            ++counters.errors;
            Session &t = c->session->transport();
            t.send(encodePusherError(pusher_code::OverCapacity, "server shutting down"));
            t.close(static_cast<DisconnectCode>(pusher_code::OverCapacity), "server shutting down");
            return 0;
        }
        std::weak_ptr<Impl> weak = weak_from_this();
        const PusherApp appCopy = *app;
        const std::string socketId = c->socketId;
        const ConnectionHandle newHandle = c->handle;
        hub.setSessionAuthorizer(socketId, [weak, appCopy, socketId, newHandle](const AuthRequest &request, AuthAnswer answer) {
            auto self = weak.lock();
            AuthDecision decision = self ? self->authorize(appCopy, socketId, request) : AuthDecision{};
            if (decision.allowed && !decision.memberUserId.empty()) {
                Connection *connection = self->find(newHandle);
                const auto channel = pusherChannelName(appCopy.id, request.channel);
                if (connection && channel)
                    connection->presenceUsers[*channel] = decision.memberUserId;
            }
            answer(std::move(decision));
        });
        ++counters.connections;
        c->lastActivity = timer.now();
        send(*c, encodePusherConnectionEstablished(c->socketId, static_cast<int>(options.activityTimeout.count())));
        armActivity(*c, options.activityTimeout);
        const ConnectionHandle handle = c->handle;
        connections.emplace(handle, std::move(c));
        return handle;
    }

    /// The session authorizer of a Pusher connection: the app's signature decides.
    AuthDecision authorize(const PusherApp &app, std::string_view socketId, const AuthRequest &request) const
    {
        AuthDecision decision;
        const auto channel = pusherChannelName(app.id, request.channel);
        if (!channel) {
            decision.refusal = Error::Forbidden;
            decision.reason = "channel is not in this app";
            return decision;
        }
        const std::string_view channelData = request.type == ChannelType::Presence ? request.channelData : std::string_view{};
        if (!verifyPusherAuth(hmac, app.key, app.secret, socketId, *channel, channelData, request.auth)) {
            decision.reason = "Invalid signature: expected HMAC SHA256 hex digest of " + pusherStringToSign(socketId, *channel, channelData);
            return decision;
        }
        if (request.type == ChannelType::Presence) {
            boost::json::value parsed;
            const boost::json::object *object = nullptr;
            if (!parseJson(channelData, parsed, JsonParseOptions{options.maxNestingDepth}))
                object = parsed.if_object();
            const boost::json::value *userId = object ? object->if_contains("user_id") : nullptr;
            if (userId && userId->is_string())
                decision.memberUserId = std::string(userId->get_string());
            else if (userId && (userId->is_int64() || userId->is_uint64()))
                decision.memberUserId = boost::json::serialize(*userId);
            if (decision.memberUserId.empty()) {
                decision.refusal = Error::BadRequest;
                decision.reason = "channel_data must be a JSON object with a user_id";
                return decision;
            }
            const boost::json::value *info = object->if_contains("user_info");
            decision.memberInfo = info ? boost::json::serialize(*info) : std::string("null");
        }
        decision.allowed = true;
        return decision;
    }

    const PusherApp *appByKey(std::string_view key) const
    {
        for (const PusherApp &app : apps) {
            if (app.key == key)
                return &app;
        }
        return nullptr;
    }

    void receive(ConnectionHandle handle, std::string_view bytes, bool binary)
    {
        Connection *c = find(handle);
        if (!c || c->closing)
            return;
        ++counters.framesIn;
        hub.countFrameIn();
        const auto now = timer.now();
        c->lastActivity = now;
        c->awaitingPong = false;
        if (!c->ops.tryConsume(opsLimit, now)) {
            ++counters.rateLimited;
            refuse(*c, std::nullopt, "rate limit exceeded", Error::RateLimited);
            return violation(*c);
        }
        if (binary)
            return malformed(*c, "binary frames are not part of the Pusher protocol");
        boost::json::value parsed;
        if (auto problem = parseJson(bytes, parsed, JsonParseOptions{options.maxNestingDepth}))
            return malformed(*c, "malformed frame: " + problem->message);
        const boost::json::object *frame = parsed.if_object();
        const std::string_view event = frame ? stringMember(*frame, "event") : std::string_view{};
        if (event.empty())
            return malformed(*c, "a frame is a JSON object with an \"event\" string");
        // `data` is an object from pusher-js, a JSON string from some other clients.
        boost::json::value dataHolder;
        const boost::json::value *data = frame->if_contains("data");
        if (data && data->is_string() && !event.starts_with("client-")) {
            if (!parseJson(data->get_string(), dataHolder, JsonParseOptions{options.maxNestingDepth}))
                data = &dataHolder;
        }
        const boost::json::object *dataObject = data ? data->if_object() : nullptr;
        if (event == "pusher:ping")
            return send(*c, encodePusherPong());
        if (event == "pusher:pong")
            return;
        if (event == "pusher:subscribe") {
            if (!dataObject)
                return malformed(*c, "pusher:subscribe needs data {\"channel\":..}");
            return subscribe(*c, stringMember(*dataObject, "channel"), stringMember(*dataObject, "auth"),
                             stringMember(*dataObject, "channel_data"));
        }
        if (event == "pusher:unsubscribe") {
            if (!dataObject)
                return malformed(*c, "pusher:unsubscribe needs data {\"channel\":..}");
            return unsubscribe(*c, stringMember(*dataObject, "channel"));
        }
        if (event.starts_with("client-"))
            return clientEvent(*c, event, stringMember(*frame, "channel"), data);
        refuse(*c, std::nullopt, "unsupported event " + std::string(event), Error::BadRequest);
    }

    void malformed(Connection &c, std::string_view message)
    {
        ++counters.malformed;
        refuse(c, std::nullopt, message, Error::BadRequest);
        violation(c);
    }

    void subscriptionError(Connection &c, std::string_view channel, std::string_view type, std::string_view error,
                           int status, Error logCode)
    {
        ++counters.subscriptionErrors;
        send(c, encodePusherSubscriptionError(channel, type, error, status));
        c.session->transport().refused(logCode, error);
    }

    void subscribe(Connection &c, std::string_view channel, std::string_view auth, std::string_view channelData)
    {
        if (validatePusherChannelName(channel))
            return subscriptionError(c, channel, "InvalidChannel",
                                     "channel names are 1-164 characters of A-Z a-z 0-9 _ - = @ , . ;", 400,
                                     Error::InvalidName);
        if (c.subscribed.contains(channel) || c.joining.contains(channel))
            return; // pusher-js subscribes once; a repeat changes nothing
        c.joining.emplace(channel);
        std::weak_ptr<Impl> weak = weak_from_this();
        const ConnectionHandle handle = c.handle;
        JoinRequest request;
        request.auth = auth;
        request.channelData = channelData;
        hub.join(c.socketId, nativeChannelName(c.app->id, channel), request,
                 [weak, handle, name = std::string(channel)](JoinResult result) {
                     if (auto self = weak.lock())
                         self->joined(handle, name, std::move(result));
                 });
    }

    void joined(ConnectionHandle handle, const std::string &channel, JoinResult result)
    {
        Connection *c = find(handle);
        if (!c)
            return;
        c->joining.erase(channel);
        if (result.error == Error::Cancelled || c->closing)
            return;
        if (result.error) {
            const bool auth = result.error == Error::Unauthorized || result.error == Error::Forbidden;
            const int status = result.error.category() == errorCategory() ? result.error.value() : 500;
            const std::string message = result.message.empty() ? result.error.message() : result.message;
            return subscriptionError(*c, channel, auth ? "AuthError" : "SubscriptionError", message, status,
                                     static_cast<Error>(status));
        }
        c->subscribed.emplace(channel);
        if (result.type == ChannelType::Presence)
            send(*c, encodePusherPresenceSucceeded(channel, result.roster));
        else
            send(*c, encodePusherSubscriptionSucceeded(channel));
    }

    void unsubscribe(Connection &c, std::string_view channel)
    {
        if (validatePusherChannelName(channel))
            return malformed(c, "pusher:unsubscribe of an invalid channel name");
        if (auto it = c.subscribed.find(channel); it != c.subscribed.end())
            c.subscribed.erase(it);
        if (auto it = c.joining.find(channel); it != c.joining.end())
            c.joining.erase(it);
        hub.leave(c.socketId, nativeChannelName(c.app->id, channel));
    }

    void clientEvent(Connection &c, std::string_view event, std::string_view channel, const boost::json::value *data)
    {
        if (channelTypeOf(channel) == ChannelType::Public) {
            ++counters.clientEventsRefused;
            return refuse(c, std::nullopt, "Client events are only supported on private and presence channels",
                          Error::Forbidden);
        }
        if (!c.subscribed.contains(channel)) {
            ++counters.clientEventsRefused;
            return refuse(c, std::nullopt, "Client event on a channel this connection is not subscribed to",
                          Error::Forbidden);
        }
        if (!c.clientEvents.tryConsume(clientEventsLimit, timer.now())) {
            ++counters.clientEventsRateLimited;
            refuse(c, pusher_code::ClientEventRateLimit, "Client event rejected due to rate limit", Error::RateLimited);
            return violation(c);
        }
        Publication publication;
        publication.channel = nativeChannelName(c.app->id, channel);
        publication.event = nativeEventName(event);
        publication.data = data ? nativeData(*data) : std::string("null");
        publication.sender = c.socketId;
        publication.exceptSession = c.socketId; // never echoed to the sender
        // On a presence channel the event carries its sender's user_id, as on Pusher: in the
        // publication, so that every node (Redis) and a replay from history show it.
        const auto user = c.presenceUsers.find(channel);
        if (user != c.presenceUsers.end())
            publication.senderUserId = user->second;
        ++counters.clientEvents;
        if (clientEventHook) {
            PusherClientEvent seen;
            seen.appId = c.app->id;
            seen.channel = channel;
            seen.event = event;
            const std::string text = !data ? std::string("null") : data->is_string() ? std::string(data->get_string())
                                                                                      : boost::json::serialize(*data);
            seen.data = text;
            seen.socketId = c.socketId;
            seen.userId = publication.senderUserId;
            clientEventHook(seen);
        }
        std::weak_ptr<Impl> weak = weak_from_this();
        const ConnectionHandle handle = c.handle;
        hub.publish(std::move(publication), [weak, handle](std::error_code error, StreamPosition) {
            if (!error)
                return;
            auto self = weak.lock();
            Connection *connection = self ? self->find(handle) : nullptr;
            if (connection && !connection->closing)
                self->refuse(*connection, std::nullopt, "client event refused: " + error.message(), Error::BadRequest);
        });
    }

    void closed(ConnectionHandle handle, std::uint16_t code, std::string_view reason)
    {
        const auto it = connections.find(handle);
        if (it == connections.end())
            return;
        std::unique_ptr<Connection> c = std::move(it->second);
        connections.erase(it);
        if (c->timer)
            timer.cancel(c->timer);
        hub.detach(c->socketId, code, reason);
    }

    void closeAll(std::string_view reason)
    {
        std::vector<ConnectionHandle> handles;
        for (const auto &[handle, c] : connections)
            handles.push_back(handle);
        for (ConnectionHandle handle : handles) {
            if (Connection *c = find(handle))
                closeConnection(*c, pusher_code::OverCapacity, reason);
        }
    }
};

PusherProtocol::PusherProtocol(Hub &hub, Timer &timer, std::vector<PusherApp> apps, HmacSha256 hmac,
                               PusherOptions options)
    : d(std::make_shared<Impl>(hub, timer, std::move(apps), std::move(hmac), options))
{
}

PusherProtocol::~PusherProtocol()
{
    for (auto &[handle, c] : d->connections) {
        if (c->timer)
            d->timer.cancel(c->timer);
        d->hub.detach(c->socketId);
    }
}

PusherProtocol::ConnectionHandle PusherProtocol::open(std::shared_ptr<Session> transport, std::string_view appKey,
                                                      std::optional<std::string_view> protocol)
{
    return d->open(std::move(transport), appKey, protocol);
}

void PusherProtocol::receive(ConnectionHandle connection, std::string_view bytes, bool binary)
{
    try {
        d->receive(connection, bytes, binary);
    } catch (const std::exception &) {
        // Only allocation failures get here; the connection is closed rather than left half-served.
        if (Connection *c = d->find(connection))
            d->closeConnection(*c, pusher_code::Reconnect, "internal error");
    }
}

void PusherProtocol::closed(ConnectionHandle connection, std::uint16_t code, std::string_view reason)
{
    d->closed(connection, code, reason);
}

void PusherProtocol::closeAll(std::string_view reason)
{
    d->closeAll(reason);
}

std::string PusherProtocol::socketId(ConnectionHandle connection) const
{
    const Connection *c = d->find(connection);
    return c ? c->socketId : std::string();
}

const PusherApp *PusherProtocol::appByKey(std::string_view key) const
{
    return d->appByKey(key);
}

const PusherCounters &PusherProtocol::counters() const
{
    return d->counters;
}

const PusherOptions &PusherProtocol::options() const
{
    return d->options;
}

void PusherProtocol::setClientEventHook(PusherClientEventHook hook)
{
    d->clientEventHook = std::move(hook);
}

std::size_t PusherProtocol::connectionCount() const
{
    return d->connections.size();
}

} // namespace switchboard
