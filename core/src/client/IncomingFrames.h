#pragma once
// IncomingFrames: what the client does with each frame the server sends. Private to the client.
//
// Contract: onMessage() takes every frame of the current connection (text or binary) and
// dispatches it by `op`. Before `welcome` only welcome, error and disconnect count; afterwards:
//   welcome        -> session ids, heartbeat, resubscribe, waiting calls sent, state Connected
//   subscribed     -> channel subscribed (or created when the server subscribed the session),
//                     its stream position and recovery, then the replayed publications
//   unsubscribed   -> with server: true, the server ended the subscription: channel removed
//   message/binary -> listeners of `channel.event`, unless already delivered by recovery
//   presence       -> the channel's roster, presence observers, listeners
//   ack/reply/pong -> the pending operation of its ackId (OutgoingOperations), or the heartbeat;
//                     a `reply` to a publish with wantReply completes it, whatever its topic
//   error          -> fails the pending operation of its ackId, else emits `error`
//   ping           -> answered with pong;  disconnect -> its reason kept for the close event
// Unreadable frames emit `error` (BadRequest); unknown ops are ignored (later protocol versions).
// User callbacks (observers, listeners, completions) may call back into the session, even close
// it: after each, the connection and channel are looked up again (connectionAlive, serial).
// Not thread-safe.

#include "ChannelSubscriptions.h"
#include "SessionContext.h"

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <string_view>

namespace switchboard::client {

class IncomingFrames {
public:
    IncomingFrames(SessionContext &session, ChannelSubscriptions &subscriptions)
        : m_session(session), m_subscriptions(subscriptions)
    {
    }
    IncomingFrames(const IncomingFrames &) = delete;
    IncomingFrames &operator=(const IncomingFrames &) = delete;

    /// A frame from the transport; ignored unless the connection is open and not closed.
    void onMessage(std::string_view bytes, bool binary);

private:
    void onWelcome(const boost::json::value &root);
    void onSubscribed(const boost::json::object &frame);
    void onUnsubscribed(const boost::json::object &frame);
    void onPublication(std::string_view channel, const boost::json::object &message, bool recovered);
    void onBinary(std::string_view bytes);
    void onPresence(const boost::json::object &frame);
    void onAck(const boost::json::object &frame);
    void onReply(const boost::json::object &frame);
    void onPong(const boost::json::object &frame);
    void onError(const boost::json::value &root);

    SessionContext &m_session;
    ChannelSubscriptions &m_subscriptions;
};

} // namespace switchboard::client
