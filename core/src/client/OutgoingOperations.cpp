#include "OutgoingOperations.h"

#include "FrameFields.h"
#include "../RandomId.h"
#include "../Utf8.h"

#include "switchboard/IdempotencyKey.h"

#include <algorithm>
#include <memory>
#include <string>
#include <utility>

namespace switchboard::client {

void OutgoingOperations::publish(std::string_view channel, std::string_view event, std::string_view jsonData,
                                 std::function<void(std::error_code, AckInfo)> ack, const PublishOptions &options)
{
    auto failLater = [this, &ack](Error e) {
        if (ack)
            m_session.post([ack = std::move(ack), e] { ack(make_error_code(e), AckInfo{}); });
    };
    if (m_session.state != ClientState::Connected && !m_session.canWait())
        return failLater(Error::NotConnected);
    if (!detail::isValidUtf8(channel) || !detail::isValidUtf8(event))
        return failLater(Error::InvalidName); // the frame would be closed with 1007
    if (!options.idempotencyKey.empty() && !isValidIdempotencyKey(options.idempotencyKey))
        return failLater(Error::BadRequest);
    json::value data;
    if (!parsePayload(jsonData, data))
        return failLater(Error::BadRequest);
    json::object frame;
    frame["op"] = "publish";
    frame["channel"] = channel;
    frame["event"] = event;
    frame["data"] = std::move(data);
    if (options.skipSelf)
        frame["skipSelf"] = true;
    if (options.compress)
        frame["compress"] = true;
    if (!options.idempotencyKey.empty())
        frame["idempotencyKey"] = options.idempotencyKey;
    else if (ack)
        frame["idempotencyKey"] = detail::randomHex(16); // 128 bits: unique per publication
    const bool retry = ack && frame.contains("idempotencyKey");
    if (m_session.state == ClientState::Connected)
        return sendPublish(std::move(frame), std::move(ack), m_session.options.ackTimeout, retry);
    if (m_session.waiting.size() >= m_session.options.waitQueueLimit)
        return failLater(Error::NotConnected);
    auto shared = std::make_shared<std::function<void(std::error_code, AckInfo)>>(std::move(ack));
    m_session.waiting.add(
        m_session.options.ackTimeout,
        [this, frame = std::move(frame), shared, retry](std::chrono::milliseconds remaining) mutable {
            sendPublish(std::move(frame), std::move(*shared), remaining, retry);
        },
        [this, alive = std::weak_ptr<bool>(m_session.life), shared, channel = std::string(channel)](std::error_code error) {
            if (*shared)
                return (*shared)(error, AckInfo{});
            // Nobody waits for an ack: say it, rather than lose the publication silently.
            if (!alive.expired() && error != Error::Cancelled)
                m_session.emitError(error, "publish not sent: not connected in time", channel);
        });
}

void OutgoingOperations::sendPublish(json::object frame, std::function<void(std::error_code, AckInfo)> ack,
                                     std::chrono::milliseconds timeout, bool retry)
{
    if (ack) {
        // Kept for the retry: the frame as sent, without its ackId (the retry gets a new one).
        std::optional<json::object> resend;
        if (retry)
            resend = frame;
        frame["ackId"] = m_session.pending.add(
            PendingOperations::Kind::Ack, timeout,
            [this, alive = std::weak_ptr<bool>(m_session.life), resend = std::move(resend),
             ack = std::move(ack)](std::error_code error, const json::object *answer) mutable {
                // Lost with the connection: sent again after the reconnect, same key.
                if (error == Error::NotConnected && resend && !alive.expired() && retryPublish(std::move(*resend), ack))
                    return;
                AckInfo info;
                if (answer && !error)
                    info.offset = uintField(*answer, "offset");
                ack(error, info);
            });
    }
    m_session.send(frame);
}

bool OutgoingOperations::retryPublish(json::object frame, std::function<void(std::error_code, AckInfo)> &ack)
{
    if (!m_session.canWait() || m_session.waiting.size() >= m_session.options.waitQueueLimit)
        return false;
    ++m_session.publishRetries;
    auto shared = std::make_shared<std::function<void(std::error_code, AckInfo)>>(std::move(ack));
    m_session.waiting.add(
        m_session.options.ackTimeout,
        [this, frame = std::move(frame), shared](std::chrono::milliseconds remaining) mutable {
            sendPublish(std::move(frame), std::move(*shared), remaining, false);
        },
        [shared](std::error_code error) { (*shared)(error, AckInfo{}); });
    return true;
}

void OutgoingOperations::postFailure(std::function<void(std::error_code)> fail, Error error)
{
    m_session.post([fail = std::move(fail), error] { fail(make_error_code(error)); });
}

void OutgoingOperations::sendOrWait(json::object frame, std::chrono::milliseconds timeout, Send send,
                                    std::function<void(std::error_code)> fail)
{
    if (m_session.state == ClientState::Connected)
        return send(std::move(frame), timeout);
    if (!m_session.canWait() || m_session.waiting.size() >= m_session.options.waitQueueLimit)
        return postFailure(std::move(fail), Error::NotConnected);
    auto shared = std::make_shared<Send>(std::move(send));
    m_session.waiting.add(
        timeout,
        [frame = std::move(frame), shared](std::chrono::milliseconds remaining) mutable {
            (*shared)(std::move(frame), remaining);
        },
        std::move(fail));
}

void OutgoingOperations::publishForReply(std::string_view channel, std::string_view event, std::string_view jsonData,
                                         std::function<void(std::error_code, const PublishReply &)> reply,
                                         const PublishOptions &options)
{
    if (!reply)
        reply = [](std::error_code, const PublishReply &) {};
    auto shared = std::make_shared<std::function<void(std::error_code, const PublishReply &)>>(std::move(reply));
    std::function<void(std::error_code)> fail = [shared](std::error_code error) {
        (*shared)(error, PublishReply{0, nullValue(), {}});
    };
    if (!detail::isValidUtf8(channel) || !detail::isValidUtf8(event))
        return postFailure(std::move(fail), Error::InvalidName);
    json::value data;
    if (!parsePayload(jsonData, data))
        return postFailure(std::move(fail), Error::BadRequest);
    json::object frame;
    frame["op"] = "publish";
    frame["channel"] = channel;
    frame["event"] = event;
    frame["data"] = std::move(data);
    if (options.skipSelf)
        frame["skipSelf"] = true;
    if (options.compress)
        frame["compress"] = true;
    frame["wantReply"] = true;
    auto send = [this, shared](json::object frame, std::chrono::milliseconds timeout) {
        // The ack (its offset) and the reply may come in either order; the reply completes.
        auto offset = std::make_shared<std::uint64_t>(0);
        frame["ackId"] = m_session.pending.add(
            PendingOperations::Kind::PublishReply, timeout,
            [shared, offset](std::error_code error, const json::object *answer) {
                if (error || !answer || stringField(*answer, "op") != "reply")
                    return (*shared)(error, PublishReply{*offset, nullValue(), {}});
                const json::value *payload = answer->if_contains("payload");
                (*shared)(error, PublishReply{*offset, payload ? *payload : nullValue(), stringField(*answer, "from")});
            },
            [offset](const json::object &ack) { *offset = uintField(ack, "offset"); });
        m_session.send(frame);
    };
    sendOrWait(std::move(frame), options.timeout.value_or(m_session.options.replyTimeout), std::move(send), std::move(fail));
}

void OutgoingOperations::reply(std::string_view replyTo, std::string_view jsonPayload, std::function<void(std::error_code)> done)
{
    std::function<void(std::error_code)> fail = [this, alive = std::weak_ptr<bool>(m_session.life), done](std::error_code error) {
        if (done)
            return done(error);
        // Nobody waits for the ack: say it, rather than lose the reply silently.
        if (!alive.expired() && error != Error::Cancelled)
            m_session.emitError(error, "reply not sent");
    };
    if (replyTo.empty() || !detail::isValidUtf8(replyTo))
        return postFailure(std::move(fail), Error::BadRequest);
    json::value payload;
    if (!parsePayload(jsonPayload, payload))
        return postFailure(std::move(fail), Error::BadRequest);
    json::object frame;
    frame["op"] = "reply";
    frame["replyTo"] = replyTo;
    frame["payload"] = std::move(payload);
    auto send = [this, done = std::move(done)](json::object frame, std::chrono::milliseconds timeout) {
        if (done) {
            frame["ackId"] = m_session.pending.add(PendingOperations::Kind::Ack, timeout,
                                                   [done](std::error_code error, const json::object *) { done(error); });
        }
        m_session.send(frame);
    };
    sendOrWait(std::move(frame), m_session.options.ackTimeout, std::move(send), std::move(fail));
}

void OutgoingOperations::request(std::string_view topic, std::string_view jsonPayload,
                                 std::function<void(std::error_code, const json::value &)> reply,
                                 std::optional<std::chrono::milliseconds> timeout)
{
    if (!reply)
        reply = [](std::error_code, const json::value &) {};
    auto shared = std::make_shared<std::function<void(std::error_code, const json::value &)>>(std::move(reply));
    std::function<void(std::error_code)> fail = [shared](std::error_code error) { (*shared)(error, nullValue()); };
    if (m_session.state != ClientState::Connected && !m_session.canWait())
        return postFailure(std::move(fail), Error::NotConnected);
    if (!detail::isValidUtf8(topic))
        return postFailure(std::move(fail), Error::InvalidName); // the frame would be closed with 1007
    json::value payload;
    if (!parsePayload(jsonPayload, payload))
        return postFailure(std::move(fail), Error::BadRequest);
    json::object frame;
    frame["op"] = "request";
    frame["topic"] = topic;
    frame["payload"] = std::move(payload);
    auto send = [this, shared](json::object frame, std::chrono::milliseconds limit) {
        sendRequest(std::move(frame), std::move(*shared), limit);
    };
    sendOrWait(std::move(frame), timeout.value_or(m_session.options.replyTimeout), std::move(send), std::move(fail));
}

void OutgoingOperations::sendRequest(json::object frame, std::function<void(std::error_code, const json::value &)> reply,
                                     std::chrono::milliseconds timeout)
{
    const std::uint64_t id = m_session.pending.add(
        PendingOperations::Kind::Reply, timeout,
        [reply = std::move(reply)](std::error_code error, const json::object *answer) {
            if (!answer) {
                reply(error, nullValue());
            } else if (stringField(*answer, "op") == "error") {
                // An error frame instead of a reply: shaped like an error reply's payload.
                const json::value failure = json::object{{"message", stringField(*answer, "message")},
                                                         {"status", error.value()}};
                reply(error, failure);
            } else {
                const json::value *value = answer->if_contains("payload");
                reply(error, value ? *value : nullValue());
            }
        });
    frame["ackId"] = id;
    m_session.send(frame);
}

void OutgoingOperations::ping(std::function<void(std::error_code, std::chrono::microseconds)> done,
                              std::optional<std::chrono::milliseconds> timeout)
{
    const std::chrono::milliseconds limit = timeout.value_or(m_session.options.pongTimeout);
    if (m_session.state != ClientState::Connected) {
        if (!done)
            return;
        if (m_session.canWait() && m_session.waiting.size() < m_session.options.waitQueueLimit) {
            auto shared = std::make_shared<std::function<void(std::error_code, std::chrono::microseconds)>>(std::move(done));
            m_session.waiting.add(
                limit, [this, shared](std::chrono::milliseconds remaining) { sendPing(std::move(*shared), remaining); },
                [shared](std::error_code error) { (*shared)(error, std::chrono::microseconds(0)); });
            return;
        }
        m_session.post([done = std::move(done)] { done(make_error_code(Error::NotConnected), std::chrono::microseconds(0)); });
        return;
    }
    sendPing(std::move(done), limit);
}

void OutgoingOperations::sendPing(std::function<void(std::error_code, std::chrono::microseconds)> done, std::chrono::milliseconds timeout)
{
    const auto sentAt = m_session.timer.nowPrecise();
    std::weak_ptr<bool> alive = m_session.life;
    // Failures (close(), lost connection) may run from the executor after the session is
    // gone: only an answer, which arrives inside onMessage, touches the session.
    const std::uint64_t id = m_session.pending.add(
        PendingOperations::Kind::Ping, timeout,
        [this, alive, sentAt, done = std::move(done)](std::error_code error, const json::object *answer) {
            std::chrono::microseconds rtt(0);
            if (answer && !error && !alive.expired()) {
                rtt = std::max(m_session.timer.nowPrecise() - sentAt, std::chrono::microseconds(0));
                m_session.lastRoundTrip = rtt;
            }
            if (done)
                done(error, rtt);
        });
    m_session.send(json::object{{"op", "ping"}, {"ackId", id}});
}

} // namespace switchboard::client
