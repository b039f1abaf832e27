#pragma once
// SessionContext: the state the parts of one ClientSession share. Private to the client.
//
// Contract: one per ClientSession (its Impl derives from it), created and destroyed with it.
// It owns the session's state (ClientState, ids, channels, pending operations, calls waiting for
// the connection, listeners and observers, the current connection's flags and heartbeat) and the
// few actions every part needs (send a frame, change state, report an error, find a channel).
// The parts (ChannelSubscriptions, OutgoingOperations, IncomingFrames, and the connection
// lifecycle in ClientSession.cpp) hold a reference to it and are destroyed before it. Callbacks
// handed outside the session (Timer, Executor, token provider, user completions) that may run
// after the session is gone check `life` before touching it. Not thread-safe: everything runs on
// the session's Executor. Bookkeeping first, user callbacks (observers, listeners) after: they
// may call back into the session, even close() it.

#include "switchboard/BinaryEncoding.h"
#include "switchboard/ClientSession.h"

#include "ChannelState.h"
#include "EndpointRotation.h"
#include "EventWaits.h"
#include "Heartbeat.h"
#include "ListenerRegistry.h"
#include "ObserverList.h"
#include "PendingOperations.h"
#include "WaitingCalls.h"

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace switchboard::client {

struct SessionContext {
    SessionContext(ClientTransport &t, Executor &e, Timer &clock, ClientOptions o)
        : transport(t), executor(e), timer(clock), options(std::move(o)),
          endpoints(options.urls.empty() ? std::vector<std::string>{options.url} : options.urls, options.backoff),
          pending(clock), waiting(clock)
    {
    }
    SessionContext(const SessionContext &) = delete;
    SessionContext &operator=(const SessionContext &) = delete;

    ClientTransport &transport;
    Executor &executor;
    Timer &timer;
    ClientOptions options;

    ClientState state = ClientState::Disconnected;
    std::string sessionId;
    std::string userId;
    std::error_code lastError;

    EndpointRotation endpoints; ///< failover: the URL in use and the backoff
    PendingOperations pending;
    WaitingCalls waiting;
    std::shared_ptr<ListenerRegistry> listeners = std::make_shared<ListenerRegistry>();
    EventWaits eventWaits{timer, listeners}; ///< waitFor(); after `listeners`, destroyed before them
    std::shared_ptr<ObserverList<ClientState>> stateObservers = std::make_shared<ObserverList<ClientState>>();
    std::shared_ptr<ObserverList<const std::string &>> urlObservers = std::make_shared<ObserverList<const std::string &>>();
    std::shared_ptr<ObserverList<ClientChannel &, bool>> serverSubscriptionObservers =
        std::make_shared<ObserverList<ClientChannel &, bool>>();
    std::map<std::string, std::unique_ptr<ChannelState>, std::less<>> channels;
    std::uint64_t lastChannelSerial = 0;
    /// The server said the session's token expires in `inMs` (`expiring`): the session asks its
    /// token provider and sends `refresh` (ClientSession.cpp).
    std::function<void(std::int64_t inMs)> tokenExpiring;

    // Connection bookkeeping. A "connection" runs from transport.open() to onTransportClosed().
    bool transportActive = false;
    bool transportOpen = false;    ///< onTransportOpen seen: the `connect` frame went out
    bool binaryWire = false;       ///< this connection negotiated the binary encoding
    bool welcomed = false;
    bool retryOnClose = false;     ///< we closed it ourselves (connect timeout, no pong): reconnect
    std::uint64_t connection = 0;
    TimerId connectTimer = 0;
    Heartbeat heartbeat{timer, {[this] { return pending.reserveId(); },
                                [this](std::uint64_t id) { send(boost::json::object{{"op", "ping"}, {"ackId", id}}); },
                                [this] {
                                    retryOnClose = true;
                                    transport.close(static_cast<std::uint16_t>(DisconnectCode::IdleTimeout), "no pong");
                                }}};
    std::optional<std::chrono::microseconds> lastRoundTrip;
    /// Publishes sent again after a reconnect because their ack was lost with the connection.
    std::uint64_t publishRetries = 0;
    std::string serverReason;      ///< reason of the server's `disconnect` frame, if any
    /// Expires with the session: callbacks handed to others (token provider, posted tasks) check it.
    std::shared_ptr<bool> life = std::make_shared<bool>(true);

    // ---- shared actions ----

    bool connectionAlive(std::uint64_t id) const
    {
        return transportActive && connection == id && state != ClientState::Closed;
    }

    ChannelState *findChannel(std::string_view name) const
    {
        auto it = channels.find(name);
        return it == channels.end() ? nullptr : it->second.get();
    }
    ChannelState *findChannel(std::string_view name, std::uint64_t serial) const
    {
        ChannelState *ch = findChannel(name);
        return ch && ch->serial == serial ? ch : nullptr;
    }

    void setState(ClientState next)
    {
        if (state == next)
            return;
        state = next;
        stateObservers->notify(next);
    }

    void send(const boost::json::object &frame)
    {
        heartbeat.sent();
        if (binaryWire)
            transport.sendBinary(encodeBinaryObject(frame));
        else
            transport.sendText(boost::json::serialize(frame));
    }

    void cancelTimer(TimerId &id)
    {
        if (id != 0)
            timer.cancel(std::exchange(id, 0));
    }

    /// Formats and logs a line only when a logger is set: `text` is a callable returning it.
    template <typename Text>
    void log(LogLevel level, Text &&text) const
    {
        if (options.logger)
            options.logger(level, text());
    }

    /// A call made now may wait for the connection (ClientOptions::failFast).
    bool canWait() const
    {
        return !options.failFast && (state == ClientState::Connecting || state == ClientState::Reconnecting);
    }

    /// Runs `fn` later on the executor; `fn` checks `life` if it touches the session.
    void post(std::function<void()> fn) { executor.post(std::move(fn)); }

    /// The session closed for good: every waitFor() fails with Cancelled, now or (`later`) from
    /// the executor.
    void cancelEventWaits(bool later)
    {
        for (auto &done : eventWaits.takeAll()) {
            if (later)
                post([done = std::move(done)] { done(make_error_code(Error::Cancelled), nullptr); });
            else
                done(make_error_code(Error::Cancelled), nullptr);
        }
    }

    /// ClientSession::waitFor(); an invalid pattern fails from the executor.
    void waitFor(std::string_view pattern, std::chrono::milliseconds timeout, EventWaits::Done done)
    {
        if (!eventWaits.add(pattern, timeout, done))
            post([done = std::move(done)] { done(make_error_code(Error::BadRequest), nullptr); });
    }

    void emitLifecycle(std::string_view key, std::string_view channel, const boost::json::value &data)
    {
        const ClientEvent event{.key = key, .channel = channel, .event = key, .data = data};
        listeners->dispatchLifecycle(event);
    }

    /// Records `error` as lastError(), logs it and emits the `error` event: with `frame` (the
    /// server's error frame) as its data when given, else with {code, message, channel}.
    void emitError(std::error_code error, std::string_view message, std::string_view channel = {},
                   const boost::json::value *frame = nullptr)
    {
        lastError = error;
        log(LogLevel::Warning, [&] {
            std::string line = "error " + std::to_string(error.value()) + " (" + error.message() + ")";
            if (!channel.empty())
                line += " on " + std::string(channel);
            if (!message.empty())
                line += ": " + std::string(message);
            return line;
        });
        if (frame) {
            emitLifecycle("error", channel, *frame);
            return;
        }
        boost::json::object data;
        data["code"] = error.value();
        data["message"] = message;
        if (!channel.empty())
            data["channel"] = channel;
        emitLifecycle("error", channel, boost::json::value(std::move(data)));
    }
};

} // namespace switchboard::client
