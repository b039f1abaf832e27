#pragma once
// OutgoingOperations: the calls that send a frame and wait for its answer (publish, request,
// ping). Private to the client.
//
// Contract: each call checks its arguments, builds its frame and either sends it now (Connected)
// or, while Connecting/Reconnecting and unless ClientOptions::failFast, queues it in the
// session's WaitingCalls (bounded by waitQueueLimit) to be sent on welcome with what is left of
// its timeout. A sent frame carries an ackId registered in PendingOperations; its completion
// runs the caller's callback once: with the answer (matched by IncomingFrames), Timeout,
// NotConnected (connection lost) or Cancelled (close()). A call refused up front (not connected
// and cannot wait, invalid UTF-8, unreadable JSON, queue full) fails from the Executor, never
// inside the caller's call. Callbacks may call back into the session; completions that may run
// after the session is gone touch it only while SessionContext::life is alive. Not thread-safe.

#include "SessionContext.h"

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <chrono>
#include <functional>
#include <optional>
#include <string_view>
#include <system_error>

namespace switchboard::client {

class OutgoingOperations {
public:
    explicit OutgoingOperations(SessionContext &session) : m_session(session) {}
    OutgoingOperations(const OutgoingOperations &) = delete;
    OutgoingOperations &operator=(const OutgoingOperations &) = delete;

    /// `publish` to `channel`; `ack` (optional) gets the offset the server gave it. With an
    /// `ack` the frame carries an idempotency key (options' or a random one) and is sent again
    /// once after a reconnect when the connection was lost before its ack (ClientSession.h).
    void publish(std::string_view channel, std::string_view event, std::string_view jsonData,
                 std::function<void(std::error_code, AckInfo)> ack, const PublishOptions &options);
    /// `publish` with wantReply; `reply` gets the first subscriber's reply, bounded by
    /// options.timeout (default replyTimeout) for ack and reply together.
    void publishForReply(std::string_view channel, std::string_view event, std::string_view jsonData,
                         std::function<void(std::error_code, const PublishReply &)> reply, const PublishOptions &options);
    /// `reply` to a message's replyTo token; `done` (optional) gets the gateway's ack.
    void reply(std::string_view replyTo, std::string_view jsonPayload, std::function<void(std::error_code)> done);
    /// `request` to a server handler; `reply` gets its payload (or the error's).
    void request(std::string_view topic, std::string_view jsonPayload,
                 std::function<void(std::error_code, const boost::json::value &)> reply,
                 std::optional<std::chrono::milliseconds> timeout);
    /// A ping with an ackId; `done` gets the round trip, also kept as lastRoundTrip.
    void ping(std::function<void(std::error_code, std::chrono::microseconds)> done,
              std::optional<std::chrono::milliseconds> timeout);

private:
    // Send now, on a connection: register the pending operation and send its frame.
    /// `retry`: the frame carries an idempotency key and was not sent again yet: a loss of the
    /// connection before its ack queues it (retryPublish) instead of failing it.
    void sendPublish(boost::json::object frame, std::function<void(std::error_code, AckInfo)> ack,
                     std::chrono::milliseconds timeout, bool retry);
    /// The connection was lost before the ack of `frame` (which holds its idempotency key): it
    /// waits for the reconnect as a waiting call and is sent once more. False when it cannot
    /// wait (the session is closing, failFast, the wait queue is full).
    bool retryPublish(boost::json::object frame, std::function<void(std::error_code, AckInfo)> &ack);
    void sendRequest(boost::json::object frame, std::function<void(std::error_code, const boost::json::value &)> reply,
                     std::chrono::milliseconds timeout);
    /// A frame answered by one pending operation: sent now when connected, else held as a
    /// waiting call. `send(frame, remaining)` sends it; `fail(error)` runs when it cannot
    /// be sent (from the Executor for a refusal now, from the Timer when it expires unsent).
    using Send = std::function<void(boost::json::object frame, std::chrono::milliseconds timeout)>;
    void sendOrWait(boost::json::object frame, std::chrono::milliseconds timeout, Send send,
                    std::function<void(std::error_code)> fail);
    /// `fail(error)` from the Executor: a call refused up front, never inside the caller's call.
    void postFailure(std::function<void(std::error_code)> fail, Error error);
    void sendPing(std::function<void(std::error_code, std::chrono::microseconds)> done, std::chrono::milliseconds timeout);

    SessionContext &m_session;
};

} // namespace switchboard::client
