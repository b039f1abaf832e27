#include "switchboard/ServerProtocol.h"

#include "BinaryEncodingSession.h"
#include "ClientFrame.h"
#include "RandomId.h"
#include "RateLimiter.h"
#include "Utf8.h"

#include "switchboard/ContentFilter.h"
#include "switchboard/ControlFrames.h"
#include "switchboard/IdempotencyKey.h"
#include "switchboard/JsonParse.h"
#include "switchboard/MessageEncoding.h"
#include "switchboard/Topic.h"

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <cassert>
#include <cstdint>
#include <deque>
#include <exception>
#include <limits>
#include <map>
#include <utility>
#include <vector>

namespace switchboard {

namespace json = boost::json;
using detail::ClientFrame;
using detail::ClientOp;
using detail::FrameProblem;

namespace {

/// RFC 6455 limits a close reason to 123 bytes; cut on a UTF-8 boundary.
std::string_view closeReason(std::string_view reason)
{
    constexpr std::size_t kMax = 123;
    return reason.size() <= kMax ? reason : detail::validUtf8Prefix(reason.substr(0, kMax));
}

/// Maps an error from the Hub or a Broker to the code of an error frame.
Error frameErrorOf(std::error_code error)
{
    if (error.category() == errorCategory())
        return static_cast<Error>(error.value());
    if (error.category() == topicErrorCategory())
        return Error::InvalidName;
    return Error::Internal;
}

/// A violation counter that forgets old violations: occasional bursts from a well-behaved
/// client never add up to a disconnect, a sustained flood does.
constexpr std::chrono::milliseconds kRateViolationMemory{10'000};

std::string_view joinErrorMessage(Error code)
{
    switch (code) {
    case Error::Unauthorized: return "not authorized to join this channel";
    case Error::Forbidden: return "joining this channel is not allowed";
    case Error::InvalidName: return "invalid channel name";
    case Error::ChannelLimit: return "too many channels for this session";
    case Error::AlreadySubscribed: return "already subscribed";
    default: return errorName(code);
    }
}

} // namespace

struct ServerProtocol::Impl {
    /// AwaitingConnect -> (Authenticating ->) Connected -> Closing; any state -> Closing.
    /// Free: the slot of a closed connection, until a new one takes it.
    enum class State : std::uint8_t { AwaitingConnect, Authenticating, Connected, Closing, Free };

    /// A connection's state from open() until its early frames are replayed after `welcome`.
    struct Connecting {
        ConnectionInfo info;           ///< for the authenticator
        std::string clientName;        ///< the connect frame's `name`, until the Hub has it
        std::string plannedId;         ///< Authenticating: the session id the authenticator was told
        TimerId connectTimer = 0;      ///< the deadline of the connect frame (limits.connectTimeout)
        TimerId authTimer = 0;         ///< Authenticating: the authenticator's deadline
        std::vector<std::string> early; ///< Authenticating: frames to handle after welcome, in order
        std::size_t earlyBytes = 0;
    };

    /// One per open connection, in its slot (`connections`). Ordered so that it has no holes:
    /// every idle connection keeps one.
    struct Connection {
        Connection() = default; // a free slot's
        Connection(ConnectionHandle h, std::shared_ptr<Session> s, detail::RateLimiter l)
            : handle(h), session(std::move(s)), connecting(std::make_unique<Connecting>()), limiter(l)
        {
        }
        /// While Connected: the Hub's copy of the session id (Hub::attachedId), which lives until
        /// the protocol detaches the session; empty before, and cleared when it detaches.
        std::string_view sessionId() const { return {sessionIdData, sessionIdSize}; }
        void setSessionId(std::string_view id)
        {
            // The ids this protocol attaches are its own or the Hub's, 32 characters.
            assert(id.size() <= std::numeric_limits<std::uint16_t>::max());
            sessionIdData = id.data();
            sessionIdSize = static_cast<std::uint16_t>(id.size());
        }

        ConnectionHandle handle = 0;
        std::shared_ptr<Session> session;
        const char *sessionIdData = nullptr; // with sessionIdSize: a view in 10 bytes, not 16
        // Its principal and client name are the Hub's (Hub::principal, Hub::clientName), not
        // copied here.
        TimerId expiryTimer = 0;         // the token's `expiring` hint, then its expiry
        /// What only the way to `welcome` needs, released once the frames kept meanwhile are
        /// handled: an idle connected session pays nothing for it.
        std::unique_ptr<Connecting> connecting;
        detail::RateLimiter limiter;     // against Impl::opsLimit
        /// When the last rate violation happened (32 bits, like the limiter's refill time: right
        /// for the 10 s that matter).
        detail::MsStamp lastRateViolationMs = 0;
        std::uint16_t sessionIdSize = 0;
        State state = State::AwaitingConnect;
        WireEncoding encoding = WireEncoding::Json;
        // Counted up to their limits (ProtocolLimits), which a 16-bit count covers: a limit set
        // higher acts as 65 535.
        std::uint16_t rateViolations = 0;
        std::uint16_t malformed = 0;
    };
    // 72 bytes, in a deque's block with six others: no heap block of its own.
    static_assert(sizeof(Connection) <= 72, "every idle connection keeps one: see docs/benchmarks.md, Footprint");

    /// One more of `count`, short of its type's limit.
    static std::uint16_t countedUp(std::uint16_t count)
    {
        return count == std::numeric_limits<std::uint16_t>::max() ? count : static_cast<std::uint16_t>(count + 1);
    }

    /// The Responder handed to request handlers. Holds no reference to the connection: the
    /// answer finds it by handle, or is dropped when it is gone.
    class PendingResponder final : public Responder {
    public:
        PendingResponder(std::weak_ptr<Impl *> anchor, ConnectionHandle handle, std::string topic, AckId ackId)
            : m_anchor(std::move(anchor)), m_handle(handle), m_topic(std::move(topic)), m_ackId(std::move(ackId))
        {
        }
        void reply(std::string jsonPayload) override;
        void fail(std::string message, int status, std::string trace) override;

    private:
        std::weak_ptr<Impl *> m_anchor;
        ConnectionHandle m_handle;
        std::string m_topic;
        AckId m_ackId;
        bool m_answered = false;
    };

    Impl(Hub &h, Timer &t, ServerProtocolOptions o)
        : hub(h), timer(t), options(std::move(o)), opsLimit(options.limits.opsPerSecond, options.limits.opsBurst)
    {
    }

    Hub &hub;
    Timer &timer;
    ServerProtocolOptions options;
    detail::RateLimit opsLimit; ///< every connection's operations (limits.opsPerSecond, opsBurst)
    AsyncConnectAuthenticator authenticator;
    std::map<std::string, RequestHandler, std::less<>> handlers;
    RequestHandler defaultHandler; ///< topics without a handler of their own; empty: 404
    /// The connections in slots: a deque grows by blocks and never moves its elements, so a
    /// connection has no heap block, map node, key or bucket of its own. A handle is its slot
    /// (low 32 bits) and the slot's use count (high 32 bits, never 0): the handle of a closed
    /// connection finds nothing, even once the slot holds another. The deque does not shrink: a
    /// closed connection's slot waits for the next one (72 bytes per slot at the peak count).
    std::deque<Connection> connections;
    std::vector<std::uint32_t> freeSlots; ///< of closed connections, taken again first
    ProtocolCounters counters;
    /// Callbacks that may outlive the protocol (Hub joins, responders) hold a weak reference.
    std::shared_ptr<Impl *> anchor = std::make_shared<Impl *>(this);

    Connection *find(ConnectionHandle handle)
    {
        const std::uint64_t slot = handle & 0xffff'ffffu;
        if (slot >= connections.size())
            return nullptr;
        Connection &connection = connections[slot];
        return connection.handle == handle && connection.state != State::Free ? &connection : nullptr;
    }

    /// A new connection in a free slot (or a new one), with its handle.
    Connection &add(std::shared_ptr<Session> session)
    {
        if (freeSlots.empty()) {
            const auto slot = static_cast<std::uint32_t>(connections.size());
            const ConnectionHandle handle = (ConnectionHandle(1) << 32) | slot;
            return connections.emplace_back(handle, std::move(session), detail::RateLimiter(opsLimit, timer.now()));
        }
        const std::uint32_t slot = freeSlots.back();
        freeSlots.pop_back();
        Connection &connection = connections[slot];
        std::uint32_t uses = static_cast<std::uint32_t>(connection.handle >> 32) + 1;
        if (uses == 0)
            uses = 1; // never handle 0
        connection = Connection((ConnectionHandle(uses) << 32) | slot, std::move(session),
                                detail::RateLimiter(opsLimit, timer.now()));
        return connection;
    }

    /// Takes a connection out of its slot, which is free from then on.
    Connection remove(Connection &connection)
    {
        Connection gone = std::move(connection);
        connection = Connection();
        connection.handle = gone.handle; // its use count, for the slot's next handle
        connection.state = State::Free;
        freeSlots.push_back(static_cast<std::uint32_t>(gone.handle & 0xffff'ffffu));
        return gone;
    }

    // ---- sending ------------------------------------------------------------------------------

    void send(Connection &connection, const SharedFrame &frame)
    {
        // Once attached, frames go through the Hub so its counters and slow-consumer policy
        // cover control frames as well as broadcasts.
        if (connection.state == State::Connected)
            hub.sendTo(connection.sessionId(), frame);
        else
            connection.session->send(frame);
    }

    void sendError(Connection &connection, Error code, std::string_view message, const AckId &ackId,
                   std::string_view channel = {})
    {
        ++counters.protocolErrors;
        const std::shared_ptr<Session> session = connection.session; // the send may detach
        send(connection, encodeErrorFrame(code, message, ackId, channel));
        session->refused(code, message);
    }

    /// Sends `disconnect`, closes the WebSocket and leaves the Hub. Further frames are ignored
    /// until the transport reports closed().
    void disconnect(ConnectionHandle handle, DisconnectCode code, std::string_view reason)
    {
        Connection *connection = find(handle);
        if (!connection || connection->state == State::Closing)
            return;
        const bool wasAttached = connection->state == State::Connected;
        connection->state = State::Closing;
        cancelTimers(*connection);
        const std::shared_ptr<Session> session = connection->session;
        const std::string sessionId(connection->sessionId()); // detach() ends the Hub's copy
        connection->setSessionId({});
        session->send(encodeDisconnectFrame(code, reason));
        session->close(code, closeReason(reason));
        if (wasAttached)
            hub.detach(sessionId, static_cast<std::uint16_t>(code), reason);
    }

    void cancelTimers(Connection &connection)
    {
        if (connection.connecting && connection.connecting->connectTimer) {
            timer.cancel(connection.connecting->connectTimer);
            connection.connecting->connectTimer = 0;
        }
        if (connection.expiryTimer) {
            timer.cancel(connection.expiryTimer);
            connection.expiryTimer = 0;
        }
        if (connection.connecting && connection.connecting->authTimer) {
            timer.cancel(connection.connecting->authTimer);
            connection.connecting->authTimer = 0;
        }
    }

    // ---- violations ---------------------------------------------------------------------------

    /// A frame that could not be understood: error frame, and close 3500 when it keeps happening.
    void malformed(Connection &connection, Error code, std::string_view message, const AckId &ackId)
    {
        sendError(connection, code, message, ackId);
        if (options.limits.malformedBeforeClose > 0
            && (connection.malformed = countedUp(connection.malformed)) >= options.limits.malformedBeforeClose) {
            ++counters.malformedDisconnects;
            disconnect(connection.handle, DisconnectCode::BadProtocol, "too many malformed frames");
        }
    }

    /// Returns false (after answering) when the connection is over its rate.
    bool admit(Connection &connection, const AckId &ackId)
    {
        if (connection.limiter.tryConsume(opsLimit, timer.now()))
            return true;
        sendError(connection, Error::RateLimited, "too many operations per second", ackId);
        overRate(connection);
        return false;
    }

    /// One operation over the rate: counted, and close 3005 when it keeps happening.
    void overRate(Connection &connection)
    {
        const auto now = timer.now();
        ++counters.rateLimited;
        const detail::MsStamp nowMs = detail::msStamp(now);
        if (connection.rateViolations > 0
            && std::chrono::milliseconds(detail::msBetween(connection.lastRateViolationMs, nowMs)) > kRateViolationMemory)
            connection.rateViolations = 0;
        connection.lastRateViolationMs = nowMs;
        if (options.limits.rateViolationsBeforeClose > 0
            && (connection.rateViolations = countedUp(connection.rateViolations)) >= options.limits.rateViolationsBeforeClose) {
            ++counters.floodDisconnects;
            disconnect(connection.handle, DisconnectCode::Flood, "flood");
        }
    }

    bool receiveControl(ConnectionHandle handle)
    {
        Connection *connection = find(handle);
        if (!connection)
            return false;
        ++counters.controlFramesIn;
        if (connection->state == State::Closing)
            return false;
        if (connection->limiter.tryConsume(opsLimit, timer.now()))
            return true;
        ++counters.controlRateLimited; // no error frame: answering would feed the flood
        overRate(*connection);
        return false;
    }

    // ---- frames -------------------------------------------------------------------------------

    void receive(ConnectionHandle handle, std::string_view bytes, bool binary)
    {
        Connection *connection = find(handle);
        if (!connection)
            return;
        ++counters.framesIn;
        counters.bytesIn += bytes.size();
        hub.countFrameIn();
        if (connection->state == State::Closing)
            return;

        if (bytes.size() > options.limits.maxFrameBytes) {
            ++counters.oversizeFrames;
            disconnect(handle, DisconnectCode::MessageTooBig, "frame too large");
            return;
        }
        if (binary) {
            if (connection->encoding != WireEncoding::Binary) {
                malformed(*connection, Error::BadRequest, "binary frames are not accepted from clients", {});
                return;
            }
            if (!isBinaryProtocolFrame(bytes)) {
                malformed(*connection, Error::BadRequest, "binary frame is not a protocol frame of switchboard.v1.binary", {});
                return;
            }
        } else if (!detail::isValidUtf8(bytes)) {
            ++counters.invalidUtf8;
            disconnect(handle, DisconnectCode::InvalidPayload, "invalid UTF-8");
            return;
        }

        // Parsed values live in a per-frame arena; everything is released in one go.
        unsigned char buffer[4096];
        json::monotonic_resource arena(buffer, sizeof buffer);
        const json::storage_ptr storage(&arena);
        json::value root(storage);
        ClientFrame frame;
        if (std::optional<FrameProblem> problem =
                detail::parseClientFrame(bytes, binary, options.limits.maxNestingDepth, root, frame)) {
            if (problem->numberOutOfRange)
                ++counters.numbersOutOfRange;
            malformed(*connection, problem->code, problem->message, frame.ackId);
            return;
        }
        if (!admit(*connection, frame.ackId))
            return;

        if (connection->state == State::AwaitingConnect) {
            if (frame.op == ClientOp::Connect)
                onConnect(*connection, frame);
            else
                malformed(*connection, Error::BadRequest, "send 'connect' first", frame.ackId);
            return;
        }
        if (connection->state == State::Authenticating) {
            keepEarly(*connection, frame, bytes);
            return;
        }
        dispatch(*connection, frame);
    }

    /// A frame that arrived while its connection's `connect` is being authenticated: kept for
    /// after welcome (already parsed and admitted by the rate limit), within the bounds.
    void keepEarly(Connection &connection, const ClientFrame &frame, std::string_view bytes)
    {
        if (frame.op == ClientOp::Connect) {
            malformed(connection, Error::BadRequest, "already connecting", frame.ackId);
            return;
        }
        const auto &limits = options.limits;
        Connecting &connecting = *connection.connecting; // Authenticating: still there
        if (connecting.early.size() >= limits.maxFramesWhileAuthenticating
            || connecting.earlyBytes + bytes.size() > limits.maxBytesWhileAuthenticating) {
            ++counters.earlyFramesRefused;
            sendError(connection, Error::RateLimited, "too many frames before welcome", frame.ackId);
            overRate(connection);
            return;
        }
        connecting.earlyBytes += bytes.size();
        connecting.early.emplace_back(bytes);
    }

    /// Handles the frames kept while authenticating, in order, once welcome is sent. Each was
    /// counted and admitted when it arrived; the connection may close on any of them.
    void replayEarly(ConnectionHandle handle)
    {
        Connection *connection = find(handle);
        if (!connection || connection->state != State::Connected)
            return;
        // Connected: new frames are dispatched as they come, nothing joins the kept ones.
        const std::unique_ptr<Connecting> connecting = std::move(connection->connecting);
        for (const std::string &bytes : connecting->early) {
            connection = find(handle);
            if (!connection || connection->state != State::Connected)
                return;
            unsigned char buffer[4096];
            json::monotonic_resource arena(buffer, sizeof buffer);
            const json::storage_ptr storage(&arena);
            json::value root(storage);
            ClientFrame frame;
            // A kept binary frame is a protocol frame (checked when it arrived), whose tag no JSON
            // text can start with.
            const bool binary = connection->encoding == WireEncoding::Binary && isBinaryProtocolFrame(bytes);
            if (detail::parseClientFrame(bytes, binary, options.limits.maxNestingDepth, root, frame))
                continue; // cannot happen: it parsed when it arrived
            dispatch(*connection, frame);
        }
    }

    /// A well-formed, admitted frame of a connected session.
    void dispatch(Connection &connection, const ClientFrame &frame)
    {
        switch (frame.op) {
        case ClientOp::Connect:
            malformed(connection, Error::BadRequest, "already connected", frame.ackId);
            return;
        case ClientOp::Subscribe:
            onSubscribe(connection, frame);
            return;
        case ClientOp::Unsubscribe:
            onUnsubscribe(connection, frame);
            return;
        case ClientOp::Publish:
            onPublish(connection, frame);
            return;
        case ClientOp::Request:
            onRequest(connection, frame);
            return;
        case ClientOp::Reply:
            onReply(connection, frame);
            return;
        case ClientOp::Ping:
            send(connection, encodePongFrame(frame.ackId));
            return;
        case ClientOp::Pong:
            return;
        case ClientOp::Refresh:
            onRefresh(connection, frame);
            return;
        }
    }

    /// The Hub is closed (shutting down): a new session would not be served.
    void refuseClosed(ConnectionHandle handle)
    {
        ++counters.shutdownRefusals;
        disconnect(handle, DisconnectCode::Shutdown, "server shutting down");
    }

    void onConnect(Connection &connection, const ClientFrame &frame)
    {
        const ConnectionHandle handle = connection.handle;
        if (hub.isClosed())
            return refuseClosed(handle);
        if (frame.version != kProtocolVersion) {
            disconnect(handle, DisconnectCode::UnsupportedVersion,
                       "unsupported protocol version (this server speaks 1)");
            return;
        }
        // The connect frame arrived: its deadline is over; the authenticator's starts.
        if (connection.connecting && connection.connecting->connectTimer) {
            timer.cancel(connection.connecting->connectTimer);
            connection.connecting->connectTimer = 0;
        }
        connection.connecting->clientName.assign(frame.name);
        if (!authenticator) {
            connection.state = State::Authenticating;
            onAuthenticated(handle, ConnectDecision{});
            return;
        }
        connection.state = State::Authenticating;
        connection.connecting->plannedId = detail::randomHex(16);
        const std::string data = frame.body ? json::serialize(*frame.body) : std::string();
        auto answered = std::make_shared<bool>(false);
        ConnectAnswer answer = [anchor = std::weak_ptr<Impl *>(anchor), handle, answered](ConnectDecision decision) {
            if (*answered)
                return;
            *answered = true;
            if (const auto self = anchor.lock())
                (*self)->onAuthenticated(handle, std::move(decision));
        };
        // The authenticator is user code: it may answer inside the call, or close the connection.
        const ConnectionInfo info = connection.connecting->info;
        const std::string plannedId = connection.connecting->plannedId;
        const ConnectRequest request{frame.token, frame.name, data, plannedId, info};
        askAuthenticator(request, answer);
        Connection *current = find(handle);
        if (current && current->state == State::Authenticating && options.limits.connectAuthTimeout.count() > 0) {
            current->connecting->authTimer = timer.start(options.limits.connectAuthTimeout, [this, handle] {
                Connection *c = find(handle);
                if (c && c->connecting) {
                    c->connecting->authTimer = 0;
                    if (c->state == State::Authenticating) {
                        ++counters.connectAuthTimeouts;
                        disconnect(handle, DisconnectCode::AuthUnavailable, "authentication timed out");
                    }
                }
            });
        }
    }

    /// Runs the authenticator (user code): one that throws before answering refuses.
    void askAuthenticator(const ConnectRequest &request, const ConnectAnswer &answer)
    {
        try {
            authenticator(request, answer);
        } catch (const std::exception &e) {
            answer(ConnectDecision{false, {}, std::string("authentication failed: ") + e.what(), 0});
        } catch (...) {
            answer(ConnectDecision{false, {}, "authentication failed", 0});
        }
    }

    /// The authenticator's decision for a connection in Authenticating (ignored otherwise: it
    /// closed, or the deadline refused it).
    void onAuthenticated(ConnectionHandle handle, ConnectDecision decision)
    {
        Connection *current = find(handle);
        if (!current || current->state != State::Authenticating)
            return;
        if (current->connecting->authTimer) {
            timer.cancel(current->connecting->authTimer);
            current->connecting->authTimer = 0;
        }
        if (!decision.accepted && decision.unavailable) {
            ++counters.connectAuthUnavailable;
            disconnect(handle, DisconnectCode::AuthUnavailable,
                       decision.reason.empty() ? std::string_view("authentication unavailable") : std::string_view(decision.reason));
            return;
        }
        if (!decision.accepted && decision.expired) {
            // A genuine token that is too old: the client fetches a fresh one and reconnects.
            ++counters.tokenExpirations;
            disconnect(handle, DisconnectCode::TokenExpired, "token expired");
            return;
        }
        if (!decision.accepted) {
            ++counters.authFailures;
            hub.countAuthFailure();
            disconnect(handle, DisconnectCode::InvalidToken,
                       decision.reason.empty() ? std::string_view("invalid token") : std::string_view(decision.reason));
            return;
        }
        std::int64_t remainingMs = 0;
        if (decision.expiresAtMs != 0) {
            remainingMs = decision.expiresAtMs - timer.wallClockMs();
            if (remainingMs <= 0) {
                ++counters.tokenExpirations;
                disconnect(handle, DisconnectCode::TokenExpired, "token expired");
                return;
            }
        }
        const std::string id = hub.attach(current->session, std::move(decision.principal), current->connecting->clientName,
                                          current->connecting->plannedId);
        if (id.empty()) // closed meanwhile (the authenticator is user code)
            return refuseClosed(handle);
        current->setSessionId(hub.attachedId(id));
        current->state = State::Connected;
        armExpiry(*current, decision.expiresAtMs);
        const Principal *attached = hub.principal(current->sessionId());
        send(*current, encodeWelcomeFrame(current->sessionId(), options.limits.pingInterval,
                                          attached ? std::string_view(attached->userId) : std::string_view()));
        replayEarly(handle);
    }

    /// Schedules the token's `expiring` hint and its expiry (close 3004), replacing what was
    /// scheduled; 0: the session does not expire.
    void armExpiry(Connection &connection, std::int64_t expiresAtMs)
    {
        if (connection.expiryTimer) {
            timer.cancel(connection.expiryTimer);
            connection.expiryTimer = 0;
        }
        if (expiresAtMs == 0)
            return;
        const std::int64_t remainingMs = expiresAtMs - timer.wallClockMs();
        const std::int64_t hintLeadMs = std::min<std::int64_t>(options.limits.tokenRefreshHint.count(), remainingMs / 2);
        const ConnectionHandle handle = connection.handle;
        if (hintLeadMs <= 0) {
            connection.expiryTimer = timer.start(std::chrono::milliseconds(std::max<std::int64_t>(remainingMs, 0)),
                                                 [this, handle] { expire(handle); });
            return;
        }
        // The expiry travels with the hint's timer: re-arming cancels it first, so a hint that
        // fires is the current expiry's.
        connection.expiryTimer = timer.start(std::chrono::milliseconds(remainingMs - hintLeadMs), [this, handle, expiresAtMs] {
            Connection *c = find(handle);
            if (!c)
                return;
            c->expiryTimer = 0;
            if (c->state != State::Connected)
                return;
            const std::int64_t leftMs = expiresAtMs - timer.wallClockMs();
            ++counters.tokenRefreshHints;
            send(*c, encodeExpiringFrame(leftMs));
            if ((c = find(handle)) && c->state == State::Connected && !c->expiryTimer)
                c->expiryTimer = timer.start(std::chrono::milliseconds(std::max<std::int64_t>(leftMs, 0)),
                                             [this, handle] { expire(handle); });
        });
    }

    void expire(ConnectionHandle handle)
    {
        Connection *c = find(handle);
        if (!c)
            return;
        c->expiryTimer = 0;
        if (c->state == State::Connected) {
            ++counters.tokenExpirations;
            disconnect(handle, DisconnectCode::TokenExpired, "token expired");
        }
    }

    /// `refresh`: the authenticator decides the new token as it decided the connect's; accepted
    /// for the same user, its expiry replaces the session's. A refusal leaves the session as it
    /// was (it still closes 3004 at the old expiry).
    void onRefresh(Connection &connection, const ClientFrame &frame)
    {
        if (!frame.channel.empty())
            return onRefreshChannel(connection, frame);
        const ConnectionHandle handle = connection.handle;
        if (!authenticator) { // every connection is anonymous and none expires
            ++counters.tokenRefreshes;
            send(connection, encodeAckFrame(frame.ackId));
            return;
        }
        auto answered = std::make_shared<bool>(false);
        ConnectAnswer answer = [anchor = std::weak_ptr<Impl *>(anchor), handle, answered,
                                ackId = frame.ackId](ConnectDecision decision) {
            if (*answered)
                return;
            *answered = true;
            if (const auto self = anchor.lock())
                (*self)->onRefreshed(handle, ackId, std::move(decision));
        };
        static const ConnectionInfo kNoConnectionInfo{};
        const std::string sessionId(connection.sessionId());
        const std::string clientName(hub.clientName(sessionId));
        const ConnectRequest request{frame.token, clientName, {}, sessionId, kNoConnectionInfo, true};
        askAuthenticator(request, answer);
    }

    /// `refresh` with a channel: the Hub asks the authorizer again with the new `auth`.
    void onRefreshChannel(Connection &connection, const ClientFrame &frame)
    {
        if (validateChannelName(frame.channel)) {
            sendError(connection, Error::InvalidName, "invalid channel name", frame.ackId, frame.channel);
            return;
        }
        hub.refreshAuthorization(
            connection.sessionId(), frame.channel, frame.auth,
            [anchor = std::weak_ptr<Impl *>(anchor), handle = connection.handle, ackId = frame.ackId,
             channel = std::string(frame.channel)](std::error_code error, std::string reason) {
                const auto self = anchor.lock();
                if (!self)
                    return;
                Connection *c = (*self)->find(handle);
                if (!c || c->state != State::Connected)
                    return;
                if (!error)
                    return (*self)->send(*c, encodeAckFrame(ackId));
                const Error code = frameErrorOf(error);
                (*self)->sendError(*c, code, reason.empty() ? (code == Error::NotFound ? "not subscribed" : errorName(code))
                                                            : std::string_view(reason),
                                   ackId, channel);
            });
    }

    void onRefreshed(ConnectionHandle handle, const AckId &ackId, ConnectDecision decision)
    {
        Connection *connection = find(handle);
        if (!connection || connection->state != State::Connected)
            return;
        auto refuse = [&](Error code, std::string_view reason) {
            ++counters.tokenRefreshFailures;
            sendError(*connection, code, reason, ackId);
        };
        if (!decision.accepted) {
            if (decision.unavailable)
                return refuse(Error::BadGateway, decision.reason.empty() ? std::string_view("authentication unavailable")
                                                                            : std::string_view(decision.reason));
            return refuse(Error::Unauthorized, decision.expired ? std::string_view("token expired")
                                               : decision.reason.empty() ? std::string_view("invalid token")
                                                                         : std::string_view(decision.reason));
        }
        const Principal *principal = hub.principal(connection->sessionId());
        if (!principal || principal->userId != decision.principal.userId)
            return refuse(Error::Forbidden, "the token is for another user");
        if (decision.expiresAtMs != 0 && decision.expiresAtMs <= timer.wallClockMs())
            return refuse(Error::Unauthorized, "token expired");
        ++counters.tokenRefreshes;
        armExpiry(*connection, decision.expiresAtMs);
        send(*connection, encodeAckFrame(ackId));
    }

    void onSubscribe(Connection &connection, const ClientFrame &frame)
    {
        JoinRequest request;
        if (frame.filter) {
            std::string problem;
            std::optional<ContentFilter> filter = ContentFilter::fromJson(*frame.filter, problem);
            if (!filter) {
                ++counters.invalidFilters;
                sendError(connection, Error::BadRequest, "invalid filter: " + problem, frame.ackId, frame.channel);
                return;
            }
            request.filter = std::make_shared<const ContentFilter>(std::move(*filter));
        }
        request.auth = frame.auth;
        request.channelData = frame.channelData;
        request.recover = frame.recover;
        request.latest = frame.latest;
        const bool recoverAsked = frame.recover.has_value();
        hub.join(connection.sessionId(), frame.channel, request,
                 [anchor = std::weak_ptr<Impl *>(anchor), handle = connection.handle,
                  channel = std::string(frame.channel), ackId = frame.ackId, recoverAsked](JoinResult result) {
                     if (const auto self = anchor.lock())
                         (*self)->onJoined(handle, channel, ackId, recoverAsked, std::move(result));
                 });
    }

    void onJoined(ConnectionHandle handle, const std::string &channel, const AckId &ackId,
                  bool recoverAsked, JoinResult result)
    {
        Connection *connection = find(handle);
        if (!connection || connection->state != State::Connected)
            return;
        if (result.error) {
            const Error code = frameErrorOf(result.error);
            if (code == Error::Unauthorized || code == Error::Forbidden)
                ++counters.authFailures;
            sendError(*connection, code, result.message.empty() ? joinErrorMessage(code) : std::string_view(result.message),
                      ackId, channel);
            return;
        }
        SubscribedInfo info;
        info.channel = channel;
        info.type = result.type;
        info.position = result.position;
        if (recoverAsked || result.recoveryRequested)
            info.recovered = result.recovered;
        info.publications = &result.missed;
        send(*connection, encodeSubscribedFrame(info, ackId));
        // The newest publication (subscribe `latest`) right after `subscribed`, before anything
        // live: the Hub adds the subscriber, then sends what arrived during the join.
        if (result.latest && (connection = find(handle)) && connection->state == State::Connected) {
            send(*connection, encodeLatestMessageFrame(*result.latest, result.position.epoch));
        }
        if (result.type == ChannelType::Presence) {
            if ((connection = find(handle)) && connection->state == State::Connected)
                send(*connection, encodePresenceRosterFrame(channel, result.roster));
            // The others heard member_added for the newcomer; so does the newcomer (after the
            // roster, which already lists it), as clients of the seed protocols expect.
            if (result.announced && (connection = find(handle)) && connection->state == State::Connected)
                send(*connection, encodePresenceChangeFrame("presence:member_added", channel, result.member));
        }
    }

    void onUnsubscribe(Connection &connection, const ClientFrame &frame)
    {
        if (validateChannelName(frame.channel)) {
            sendError(connection, Error::InvalidName, "invalid channel name", frame.ackId, frame.channel);
            return;
        }
        // Unsubscribing from a channel the session is not in is not an error (idempotent).
        if (const std::error_code error = hub.leave(connection.sessionId(), frame.channel);
            error && error != make_error_code(Error::NotFound)) {
            const Error code = frameErrorOf(error);
            sendError(connection, code, code == Error::NotFound ? "not subscribed" : errorName(code),
                      frame.ackId, frame.channel);
            return;
        }
        send(connection, encodeUnsubscribedFrame(frame.channel, frame.ackId));
    }

    void onPublish(Connection &connection, const ClientFrame &frame)
    {
        if (auto error = validateChannelName(frame.channel)) {
            sendError(connection, Error::InvalidName, "invalid channel name", frame.ackId, frame.channel);
            return;
        }
        if (auto error = validateEventName(frame.event)) {
            sendError(connection, Error::InvalidName, "invalid event name", frame.ackId, frame.channel);
            return;
        }
        if (frame.hasIdempotencyKey && !isValidIdempotencyKey(frame.idempotencyKey)) {
            ++counters.invalidIdempotencyKeys;
            sendError(connection, Error::BadRequest,
                      "invalid idempotencyKey: 1 to 64 printable ASCII characters, no space", frame.ackId,
                      frame.channel);
            return;
        }
        const bool subscribed = hub.isSubscribed(connection.sessionId(), frame.channel);
        switch (options.clientPublish) {
        case ClientPublishPolicy::Never:
            sendError(connection, Error::Forbidden, "clients may not publish", frame.ackId, frame.channel);
            return;
        case ClientPublishPolicy::SubscribedOnly:
            if (!subscribed) {
                sendError(connection, Error::Forbidden, "publish requires a subscription", frame.ackId,
                          frame.channel);
                return;
            }
            break;
        case ClientPublishPolicy::Always:
            // Private and presence channels are guarded by the authorizer at join: never let a
            // client write into one it could not join.
            if (!subscribed && channelTypeOf(frame.channel) != ChannelType::Public) {
                sendError(connection, Error::Forbidden, "publish requires a subscription", frame.ackId,
                          frame.channel);
                return;
            }
            break;
        }

        Publication publication;
        publication.channel.assign(frame.channel);
        publication.event.assign(frame.event);
        publication.data = json::serialize(*frame.body); // the one serialization of the payload
        publication.timestampMs = timer.wallClockMs();
        publication.sender = connection.sessionId();
        if (frame.skipSelf)
            publication.exceptSession = connection.sessionId();
        publication.compress = frame.compress;
        if (frame.hasIdempotencyKey) {
            const Principal *principal = hub.principal(connection.sessionId());
            publication.idempotencyKey =
                userIdempotencyKey(principal ? std::string_view(principal->userId) : std::string_view(), frame.idempotencyKey);
        }
        if (frame.wantReply) {
            // One token per publication: the one encoded frame goes to every subscriber.
            if (const std::error_code error =
                    hub.openReplySlot(connection.sessionId(), publication.channel, frame.ackId, publication.replyTo)) {
                const Error code = frameErrorOf(error);
                sendError(connection, code,
                          code == Error::RateLimited ? "too many publications waiting for a reply" : errorName(code),
                          frame.ackId, frame.channel);
                return;
            }
        }

        std::function<void(std::error_code, StreamPosition)> done;
        if (frame.ackId.present()) {
            done = [anchor = std::weak_ptr<Impl *>(anchor), handle = connection.handle, ackId = frame.ackId,
                    channel = publication.channel, replyTo = publication.replyTo](std::error_code error,
                                                                                  StreamPosition position) {
                if (const auto self = anchor.lock()) {
                    if (error && !replyTo.empty())
                        (*self)->hub.cancelReplySlot(replyTo); // nobody will see the token
                    (*self)->onPublished(handle, ackId, channel, error, position);
                }
            };
        } else {
            // Without an ackId only failures are reported.
            done = [anchor = std::weak_ptr<Impl *>(anchor), handle = connection.handle,
                    channel = publication.channel](std::error_code error, StreamPosition) {
                if (!error)
                    return;
                if (const auto self = anchor.lock())
                    (*self)->onPublished(handle, AckId{}, channel, error, {});
            };
        }
        hub.publish(std::move(publication), std::move(done));
    }

    void onPublished(ConnectionHandle handle, const AckId &ackId, const std::string &channel,
                     std::error_code error, const StreamPosition &position)
    {
        Connection *connection = find(handle);
        if (!connection || connection->state != State::Connected)
            return;
        if (error) {
            const Error code = frameErrorOf(error);
            sendError(*connection, code, std::string("publish failed: ") + error.message(), ackId, channel);
            return;
        }
        send(*connection, encodeAckFrame(ackId, position.offset));
    }

    void onRequest(Connection &connection, const ClientFrame &frame)
    {
        ++counters.requests;
        const ConnectionHandle handle = connection.handle;
        // Without an ackId the request is fire-and-forget: the handler runs, the client hears
        // nothing (no ack, no reply, no error reply).
        const bool expectsReply = frame.ackId.present();
        // Gateway ack first (WaitForAck), the handler's outcome follows as a reply (WaitForReply).
        if (expectsReply)
            send(connection, encodeAckFrame(frame.ackId));
        const auto it = handlers.find(frame.topic);
        if (it == handlers.end() && !defaultHandler) {
            if (Connection *c = find(handle); expectsReply && c && c->state == State::Connected)
                send(*c, encodeErrorReplyFrame("no handler for topic '" + std::string(frame.topic) + "'",
                                               static_cast<int>(Error::NotFound), {}, frame.ackId));
            return;
        }
        // Copied: the handler may replace itself.
        const RequestHandler handler = it != handlers.end() ? it->second : defaultHandler;
        const std::string payload = frame.body ? json::serialize(*frame.body) : std::string("null");
        const std::string sessionId(connection.sessionId());
        const Principal *attached = hub.principal(sessionId);
        const Principal principal = attached ? *attached : Principal{};
        auto responder = std::make_shared<PendingResponder>(anchor, handle, std::string(frame.topic), frame.ackId);
        const std::string clientName(hub.clientName(sessionId));
        const RequestContext context{sessionId, principal, frame.topic, payload, expectsReply, clientName};
        try {
            handler(context, responder);
        } catch (const std::exception &e) {
            responder->fail(std::string("handler failed: ") + e.what(), static_cast<int>(Error::Internal), {});
        } catch (...) {
            responder->fail("handler failed", static_cast<int>(Error::Internal), {});
        }
    }

    /// A reply to a publication (docs/protocol.md, "Replies between clients").
    void onReply(Connection &connection, const ClientFrame &frame)
    {
        std::string payload = frame.body ? json::serialize(*frame.body) : std::string("null");
        auto done = [anchor = std::weak_ptr<Impl *>(anchor), handle = connection.handle,
                     ackId = frame.ackId](std::error_code error) {
            if (const auto self = anchor.lock())
                (*self)->onReplied(handle, ackId, error);
        };
        hub.reply(connection.sessionId(), frame.replyTo, std::move(payload), std::move(done));
    }

    void onReplied(ConnectionHandle handle, const AckId &ackId, std::error_code error)
    {
        Connection *connection = find(handle);
        if (!connection || connection->state != State::Connected)
            return;
        if (error) {
            const Error code = frameErrorOf(error);
            if (code == Error::BadRequest)
                malformed(*connection, code, "field 'replyTo' is not a reply token", ackId);
            else
                sendError(*connection, code, std::string("reply failed: ") + error.message(), ackId);
            return;
        }
        if (ackId.present())
            send(*connection, encodeAckFrame(ackId));
    }

    void deliverReply(ConnectionHandle handle, const std::string &topic, const AckId &ackId,
                      std::string payload)
    {
        Connection *connection = find(handle);
        if (!connection || connection->state != State::Connected || !ackId.present())
            return; // the client is gone, or asked for no answer: the answer is dropped
        if (payload.empty())
            payload = "null";
        // Handlers hand over JSON text; never forward text that would break the client's parser.
        if (!isAcceptedJson(payload)) {
            send(*connection, encodeErrorReplyFrame("handler replied with invalid JSON",
                                                    static_cast<int>(Error::Internal), {}, ackId));
            return;
        }
        send(*connection, encodeReplyFrame(topic, payload, ackId));
    }

    void deliverFailure(ConnectionHandle handle, const AckId &ackId, const std::string &message,
                        int status, const std::string &trace)
    {
        Connection *connection = find(handle);
        if (!connection || connection->state != State::Connected || !ackId.present())
            return;
        send(*connection, encodeErrorReplyFrame(message, status, trace, ackId));
    }
};

void ServerProtocol::Impl::PendingResponder::reply(std::string jsonPayload)
{
    if (m_answered)
        return;
    m_answered = true;
    if (const auto self = m_anchor.lock())
        (*self)->deliverReply(m_handle, m_topic, m_ackId, std::move(jsonPayload));
}

void ServerProtocol::Impl::PendingResponder::fail(std::string message, int status, std::string trace)
{
    if (m_answered)
        return;
    m_answered = true;
    if (const auto self = m_anchor.lock())
        (*self)->deliverFailure(m_handle, m_ackId, message, status, trace);
}

// ---- public API -------------------------------------------------------------------------------

ServerProtocol::ServerProtocol(Hub &hub, Timer &timer, ServerProtocolOptions options)
    : d(std::make_unique<Impl>(hub, timer, std::move(options)))
{
}

ServerProtocol::~ServerProtocol()
{
    d->anchor.reset();
    for (Impl::Connection &connection : d->connections) {
        if (connection.state == Impl::State::Free)
            continue;
        d->cancelTimers(connection);
        if (connection.state == Impl::State::Connected)
            d->hub.detach(std::string(connection.sessionId()), static_cast<std::uint16_t>(DisconnectCode::GoingAway),
                          "server stopped");
    }
}

void ServerProtocol::setConnectAuthenticator(ConnectAuthenticator authenticator)
{
    if (!authenticator) {
        d->authenticator = {};
        return;
    }
    d->authenticator = [authenticator = std::move(authenticator)](const ConnectRequest &request, ConnectAnswer answer) {
        answer(authenticator(request.token));
    };
}

void ServerProtocol::setAsyncConnectAuthenticator(AsyncConnectAuthenticator authenticator)
{
    d->authenticator = std::move(authenticator);
}

void ServerProtocol::setRequestHandler(std::string topic, RequestHandler handler)
{
    d->handlers.insert_or_assign(std::move(topic), std::move(handler));
}

void ServerProtocol::setDefaultRequestHandler(RequestHandler handler)
{
    d->defaultHandler = std::move(handler);
}

void ServerProtocol::removeRequestHandler(std::string_view topic)
{
    if (const auto it = d->handlers.find(topic); it != d->handlers.end())
        d->handlers.erase(it);
}

ServerProtocol::ConnectionHandle ServerProtocol::open(std::shared_ptr<Session> session, ConnectionInfo info)
{
    const auto &limits = d->options.limits;
    if (info.encoding == WireEncoding::Binary) // every frame to it, broadcasts too, in binary
        session = std::make_shared<detail::BinaryEncodingSession>(std::move(session));
    Impl::Connection &connection = d->add(std::move(session));
    const ConnectionHandle handle = connection.handle;
    connection.encoding = info.encoding;
    if (limits.connectTimeout.count() > 0) {
        Impl *impl = d.get();
        connection.connecting->connectTimer = d->timer.start(limits.connectTimeout, [impl, handle] {
            if (Impl::Connection *c = impl->find(handle)) {
                if (c->connecting)
                    c->connecting->connectTimer = 0;
                if (c->state == Impl::State::AwaitingConnect) {
                    ++impl->counters.connectTimeouts;
                    impl->disconnect(handle, DisconnectCode::ConnectTimeout, "no connect frame in time");
                }
            }
        });
    }
    connection.connecting->info = std::move(info);
    // A connection the transport admitted before a shutdown but opens after closeAll (a race in
    // multi-threaded transports) would otherwise wait for its `connect`: tell it at once.
    if (d->hub.isClosed())
        d->refuseClosed(handle);
    return handle;
}

void ServerProtocol::receive(ConnectionHandle connection, std::string_view bytes, bool binary)
{
    try {
        d->receive(connection, bytes, binary);
    } catch (...) {
        // Out of memory or a bug: never let it reach the transport's event loop.
        try {
            d->disconnect(connection, DisconnectCode::InternalError, "internal error");
        } catch (...) {
        }
    }
}

bool ServerProtocol::receiveControl(ConnectionHandle connection)
{
    try {
        return d->receiveControl(connection);
    } catch (...) {
        return false;
    }
}

void ServerProtocol::closed(ConnectionHandle connection, std::uint16_t code, std::string_view reason)
{
    Impl::Connection *found = d->find(connection);
    if (!found)
        return;
    Impl::Connection gone = d->remove(*found); // out of its slot, alive until the Hub is told
    d->cancelTimers(gone);
    if (gone.state == Impl::State::Connected)
        d->hub.detach(std::string(gone.sessionId()), code, reason);
}

std::string ServerProtocol::sessionId(ConnectionHandle connection) const
{
    const Impl::Connection *found = d->find(connection);
    return found ? std::string(found->sessionId()) : std::string();
}

void ServerProtocol::closeAll(DisconnectCode code, std::string_view reason)
{
    d->hub.close();
    std::vector<ConnectionHandle> handles;
    handles.reserve(d->connections.size());
    for (const Impl::Connection &connection : d->connections)
        if (connection.state != Impl::State::Free)
            handles.push_back(connection.handle);
    for (const ConnectionHandle handle : handles)
        d->disconnect(handle, code, reason);
}

const ProtocolCounters &ServerProtocol::counters() const
{
    return d->counters;
}

const ServerProtocolOptions &ServerProtocol::options() const
{
    return d->options;
}

} // namespace switchboard
