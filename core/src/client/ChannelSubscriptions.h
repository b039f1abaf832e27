#pragma once
// ChannelSubscriptions: the client's side of subscribing (subscribe, unsubscribe, the subscribe
// frame with its recovery position, resubscribing on welcome, channel states when a connection
// ends). Private to the client.
//
// Contract: channels live in SessionContext::channels, created by subscribe() (or by the
// server's `subscribed` with server: true, in IncomingFrames) and owned there until unsubscribe().
// A subscribe frame is sent while Connected, else right after the next `connect` for the first
// channels (pipelineSubscribes()) and on the next welcome for the rest (resubscribeAll()); at
// most one is pending per channel (ChannelState::pendingAckId), with ClientOptions::ackTimeout
// (ClientOptions::connectTimeout more for one sent before welcome).
// Its success is handled by IncomingFrames; a refusal or timeout sets the channel's error, tells
// its state observers and emits `error`. Callbacks that may run after the session is gone check
// SessionContext::life. State observers may call back into the session: callers run
// notifyChannelStates() after their own bookkeeping. Not thread-safe.

#include "SessionContext.h"

#include <boost/json/object.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace switchboard::client {

class ChannelSubscriptions {
public:
    explicit ChannelSubscriptions(SessionContext &session) : m_session(session) {}
    ChannelSubscriptions(const ChannelSubscriptions &) = delete;
    ChannelSubscriptions &operator=(const ChannelSubscriptions &) = delete;

    /// The channel named `name`, created (and subscribed when Connected) if it does not exist.
    ClientChannel &subscribe(const std::string &name, SubscribeOptions options);
    /// Forgets the channel; tells the server when it was subscribed or being subscribed.
    void unsubscribe(std::string_view name);

    /// Sends `subscribe` for the first channels right after `connect` (kPipelinedSubscribes,
    /// kPipelinedSubscribeBytes): the connection just opened. A server keeps what arrives while
    /// it authenticates and handles it right after welcome; what it refuses for being too many
    /// (429 before welcome) is sent again by resubscribeAll().
    void pipelineSubscribes();
    /// Sends `subscribe` for every channel not yet pending: the connection was just welcomed.
    void resubscribeAll();
    /// Sends `subscribe` for `ch` unless one is pending; asks for recovery from its last position.
    /// Returns whether it sent one.
    bool sendSubscribe(ChannelState &ch);
    /// The server said the authorization of channel `name` is about to expire: sends `refresh`
    /// with a fresh `auth` (SubscribeOptions::authProvider) or the one it has.
    void refreshAuthorization(std::string_view name);

    /// Channels whose subscribed state changed, by name and serial (a channel recreated under
    /// the same name meanwhile has another serial and is not notified).
    using ChannelRefs = std::vector<std::pair<std::string, std::uint64_t>>;
    /// The connection is gone: no channel is subscribed or waiting for its answer any more.
    ChannelRefs markChannelsUnsubscribed();
    /// User callbacks (state observers) of the channels still there; run after the bookkeeping.
    void notifyChannelStates(const ChannelRefs &changed);

private:
    /// Completion of a subscribe's pending operation.
    void onSubscribeDone(const std::string &name, std::uint64_t serial, std::error_code error,
                         const boost::json::object *answer);

    SessionContext &m_session;
};

} // namespace switchboard::client
