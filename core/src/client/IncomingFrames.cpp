#include "IncomingFrames.h"

#include "switchboard/BinaryEncoding.h"
#include "switchboard/JsonParse.h"
#include "switchboard/MessageEncoding.h"

#include "FrameFields.h"
#include "../Utf8.h"

#include <algorithm>
#include <memory>
#include <optional>
#include <string>

namespace switchboard::client {

void IncomingFrames::onMessage(std::string_view bytes, bool binary)
{
    if (!m_session.transportActive || !m_session.transportOpen || m_session.state == ClientState::Closed)
        return;
    m_session.heartbeat.received();
    const bool protocolFrame = !binary || (m_session.binaryWire && isBinaryProtocolFrame(bytes));
    if (!protocolFrame) {
        onBinary(bytes);
        return;
    }
    // Server frames nest a publication's data deeper than the publish frame did (subscribed
    // -> publications -> data), so allow more than a client frame's 32 levels.
    json::value root;
    if ((binary ? decodeBinaryProtocolFrame(bytes, root, 128) : parseJson(bytes, root, JsonParseOptions{128}))
        || !root.is_object()) {
        m_session.emitError(make_error_code(Error::BadRequest), "unreadable frame from the server");
        return;
    }
    const json::object &frame = root.get_object();
    const std::string_view op = stringField(frame, "op");
    if (!m_session.welcomed) {
        // Before welcome only welcome, error and disconnect mean something.
        if (op == "welcome")
            onWelcome(root);
        else if (op == "error")
            onError(root);
        else if (op == "disconnect")
            m_session.serverReason = std::string(stringField(frame, "reason"));
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
        m_session.send(json::object{{"op", "pong"}});
    else if (op == "expiring" && frame.contains("channel"))
        m_subscriptions.refreshAuthorization(stringField(frame, "channel"));
    else if (op == "expiring" && m_session.tokenExpiring)
        m_session.tokenExpiring(intField(frame, "in", 0));
    else if (op == "disconnect")
        m_session.serverReason = std::string(stringField(frame, "reason"));
    // unsubscribed and ops of later protocol versions need nothing.
}

void IncomingFrames::onWelcome(const json::value &root)
{
    const json::object &frame = root.get_object();
    const std::uint64_t id = m_session.connection;
    m_session.welcomed = true;
    m_session.cancelTimer(m_session.connectTimer);
    m_session.endpoints.welcomed();
    m_session.sessionId = std::string(stringField(frame, "session"));
    m_session.userId = std::string(stringField(frame, "user"));
    const std::chrono::milliseconds pingInterval(std::max<std::int64_t>(intField(frame, "ping", 0), 0));
    m_session.log(LogLevel::Info, [&] {
        return "connected to " + m_session.endpoints.current() + ": session " + m_session.sessionId
            + (m_session.userId.empty() ? std::string(", anonymous") : ", user " + m_session.userId);
    });
    m_session.heartbeat.start(pingInterval, m_session.options.pongTimeout);
    m_subscriptions.resubscribeAll();
    m_session.waiting.startAll(); // before anything a state observer sends
    m_session.setState(ClientState::Connected);
    if (m_session.connectionAlive(id))
        m_session.emitLifecycle("session.started", {}, root);
}

// ---- channels ----

void IncomingFrames::onSubscribed(const json::object &frame)
{
    const std::string_view name = stringField(frame, "channel");
    ChannelState *ch = m_session.findChannel(name);
    bool byServer = false;
    if (!ch) {
        if (!boolField(frame, "server") || name.empty() || !detail::isValidUtf8(name))
            return; // unsubscribed meanwhile
        // The server subscribed this session: the channel becomes the client's own.
        auto owned = std::make_unique<ChannelState>(std::string(name), SubscribeOptions{}, ++m_session.lastChannelSerial);
        ch = owned.get();
        m_session.channels.emplace(std::string(name), std::move(owned));
        byServer = true;
        m_session.log(LogLevel::Info, [&] { return "the server subscribed this session to " + std::string(name); });
    }
    const std::uint64_t ackId = ackIdOf(frame);
    if (ackId != 0 && ackId != ch->pendingAckId)
        return; // answer to an earlier subscribe of the same name
    const std::uint64_t id = m_session.connection;
    const std::uint64_t serial = ch->serial;
    m_session.pending.complete(ch->pendingAckId, {}, &frame);
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
        m_session.log(LogLevel::Warning, [&] {
            return "subscribed to " + std::string(name) + " without full recovery: publications may be missing ("
                + std::to_string(missed) + " replayed, continuing from offset " + std::to_string(ch->streamPosition.offset) + ")";
        });
    } else {
        m_session.log(LogLevel::Debug, [&] {
            return "subscribed to " + std::string(name) + " at offset " + std::to_string(ch->streamPosition.offset)
                + (ch->recoverySent ? ", recovered " + std::to_string(missed) : std::string());
        });
    }
    if (byServer) {
        m_session.serverSubscriptionObservers->notify(*ch, true);
        if (!m_session.connectionAlive(id) || !(ch = m_session.findChannel(name, serial)))
            return;
    }
    ch->stateObservers->notify();
    if (!publications || !publications->is_array())
        return;
    // Missed publications, oldest first, before any live message of this channel.
    for (const json::value &p : publications->get_array()) {
        if (!m_session.connectionAlive(id) || !(ch = m_session.findChannel(name, serial)))
            return;
        if (p.is_object())
            onPublication(name, p.get_object(), true);
    }
}

// `unsubscribed` answers the client's own unsubscribe (nothing to do: the channel is gone)
// or, with `server: true`, tells that the server ended a subscription.
void IncomingFrames::onUnsubscribed(const json::object &frame)
{
    if (!boolField(frame, "server"))
        return;
    auto it = m_session.channels.find(stringField(frame, "channel"));
    if (it == m_session.channels.end())
        return;
    std::unique_ptr<ChannelState> ch = std::move(it->second);
    m_session.channels.erase(it);
    m_session.log(LogLevel::Info, [&] { return "the server unsubscribed this session from " + ch->name(); });
    if (ch->pendingAckId != 0)
        m_session.pending.complete(std::exchange(ch->pendingAckId, 0), make_error_code(Error::Cancelled), nullptr);
    ch->isSubscribed = false;
    ch->stateObservers->notify();
    m_session.serverSubscriptionObservers->notify(*ch, false);
}

void IncomingFrames::onPublication(std::string_view channel, const json::object &message, bool recovered)
{
    ChannelState *ch = m_session.findChannel(channel);
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
                         .sender = stringField(message, "sender"), .replyTo = stringField(message, "replyTo"),
                         .latest = boolField(message, "latest")};
    m_session.listeners->dispatchMessage(ev);
}

void IncomingFrames::onBinary(std::string_view bytes)
{
    const std::optional<BinaryFrameView> frame = decodeBinaryFrame(bytes);
    if (!frame) {
        m_session.emitError(make_error_code(Error::BadRequest), "unreadable binary frame from the server");
        return;
    }
    if (!m_session.findChannel(frame->channel))
        return;
    std::string key;
    key.append(frame->channel).append(1, '.').append(frame->event);
    const ClientEvent ev{.key = key, .channel = frame->channel, .event = frame->event, .data = nullValue(),
                         .binary = true, .binaryData = frame->bytes};
    m_session.listeners->dispatchMessage(ev);
}

void IncomingFrames::onPresence(const json::object &frame)
{
    const std::string_view channel = stringField(frame, "channel");
    const std::string_view event = stringField(frame, "event");
    ChannelState *ch = m_session.findChannel(channel);
    if (!ch || event.substr(0, 9) != "presence:")
        return;
    const std::string_view kind = event.substr(9);
    const std::uint64_t serial = ch->serial;
    const json::value *payload = nullptr;
    Member member;
    if (!ch->applyPresence(kind, frame, payload, member))
        return;
    ch->presenceObservers->notify(kind, member);
    if (!m_session.findChannel(channel, serial))
        return;
    std::string key;
    key.append(channel).append(1, '.').append(event);
    const ClientEvent ev{.key = key, .channel = channel, .event = event, .data = payload ? *payload : nullValue()};
    m_session.listeners->dispatchMessage(ev);
}

// ---- acks, replies, pongs, errors: answers to pending operations ----

void IncomingFrames::onAck(const json::object &frame)
{
    const std::uint64_t id = ackIdOf(frame);
    const PendingOperations::Kind *kind = m_session.pending.kindOf(id);
    if (!kind)
        return; // late (timed out) or not ours
    if (*kind == PendingOperations::Kind::Reply || *kind == PendingOperations::Kind::PublishReply)
        m_session.pending.markAcked(id, frame);
    else if (*kind == PendingOperations::Kind::Ack)
        m_session.pending.complete(id, {}, &frame);
}

void IncomingFrames::onReply(const json::object &frame)
{
    const std::uint64_t id = ackIdOf(frame);
    const PendingOperations::Kind *kind = m_session.pending.kindOf(id);
    if (kind && *kind == PendingOperations::Kind::PublishReply) {
        // A subscriber's reply to our publish: `topic` is the channel, never an error.
        m_session.pending.complete(id, {}, &frame);
        return;
    }
    if (!kind || *kind != PendingOperations::Kind::Reply)
        return;
    std::error_code error;
    if (stringField(frame, "topic") == "error") {
        std::int64_t status = 500;
        if (const json::value *payload = frame.if_contains("payload"); payload && payload->is_object())
            status = intField(payload->get_object(), "status", 500);
        error = std::error_code(static_cast<int>(status), errorCategory());
    }
    m_session.pending.complete(id, error, &frame);
}

// A pong times the ping whose ackId it echoes; one without ackId, or with one nobody waits
// for (timed out, cancelled, not ours), only counted as liveness in onMessage.
void IncomingFrames::onPong(const json::object &frame)
{
    const std::uint64_t id = ackIdOf(frame);
    if (id == 0)
        return;
    if (const auto rtt = m_session.heartbeat.answered(id)) {
        m_session.lastRoundTrip = rtt;
        return;
    }
    const PendingOperations::Kind *kind = m_session.pending.kindOf(id);
    if (kind && *kind == PendingOperations::Kind::Ping)
        m_session.pending.complete(id, {}, &frame);
}

void IncomingFrames::onError(const json::value &root)
{
    const json::object &frame = root.get_object();
    const std::int64_t code = intField(frame, "code", static_cast<int>(Error::BadRequest));
    const std::error_code error(static_cast<int>(code), errorCategory());
    const std::uint64_t id = ackIdOf(frame);
    if (id != 0 && m_session.pending.complete(id, error, &frame))
        return;
    if (id != 0 && m_session.pending.issued(id))
        return; // answer to an operation that already timed out, or nobody waits for
    m_session.emitError(error, stringField(frame, "message"), stringField(frame, "channel"), &root);
}

} // namespace switchboard::client
