#include "ChannelSubscriptions.h"

#include "FrameFields.h"
#include "../Utf8.h"

#include <memory>
#include <string>
#include <utility>

namespace switchboard::client {

ClientChannel &ChannelSubscriptions::subscribe(const std::string &name, SubscribeOptions subscribeOptions)
{
    if (ChannelState *existing = m_session.findChannel(name))
        return *existing;
    auto owned = std::make_unique<ChannelState>(name, std::move(subscribeOptions), ++m_session.lastChannelSerial);
    ChannelState &ch = *owned;
    m_session.channels.emplace(name, std::move(owned));
    if (m_session.state == ClientState::Connected)
        sendSubscribe(ch);
    return ch;
}

void ChannelSubscriptions::unsubscribe(std::string_view name)
{
    auto it = m_session.channels.find(name);
    if (it == m_session.channels.end())
        return;
    std::unique_ptr<ChannelState> ch = std::move(it->second);
    m_session.channels.erase(it);
    // A subscribe sent before welcome is pending too: the server handles this after it.
    if ((m_session.state == ClientState::Connected || m_session.transportOpen) && (ch->isSubscribed || ch->pendingAckId != 0)) {
        json::object frame;
        frame["op"] = "unsubscribe";
        frame["channel"] = ch->name();
        frame["ackId"] = m_session.pending.reserveId(); // its answer (or error) is recognised and ignored
        m_session.send(frame);
    }
    if (ch->pendingAckId != 0)
        m_session.pending.complete(ch->pendingAckId, make_error_code(Error::Cancelled), nullptr);
}

void ChannelSubscriptions::pipelineSubscribes()
{
    std::size_t frames = 0;
    std::size_t bytes = 0;
    for (auto &[name, ch] : m_session.channels) {
        if (frames == kPipelinedSubscribes)
            break;
        const std::size_t size = name.size() + ch->options.auth.size() + ch->options.channelData.size();
        if (bytes + size > kPipelinedSubscribeBytes)
            continue; // a smaller one may still fit; this one goes at welcome
        if (sendSubscribe(*ch)) {
            ++frames;
            bytes += size;
        }
    }
}

void ChannelSubscriptions::resubscribeAll()
{
    for (auto &[name, ch] : m_session.channels)
        sendSubscribe(*ch);
}

bool ChannelSubscriptions::sendSubscribe(ChannelState &ch)
{
    if (ch.pendingAckId != 0)
        return false;
    if (!detail::isValidUtf8(ch.name()) || !detail::isValidUtf8(ch.options.auth)
        || !detail::isValidUtf8(ch.options.channelData)) {
        // The frame would be closed with 1007: refuse this channel alone, from the Executor.
        std::weak_ptr<bool> alive = m_session.life;
        m_session.post([this, alive, name = ch.name(), serial = ch.serial] {
            if (!alive.expired())
                onSubscribeDone(name, serial, make_error_code(Error::InvalidName), nullptr);
        });
        return false;
    }
    json::object frame;
    frame["op"] = "subscribe";
    frame["channel"] = ch.name();
    if (!ch.options.auth.empty())
        frame["auth"] = ch.options.auth;
    if (!ch.options.channelData.empty()) {
        json::value data;
        if (parsePayload(ch.options.channelData, data) && data.is_object())
            frame["channelData"] = std::move(data);
        else
            frame["channelData"] = ch.options.channelData;
    }
    // Recovery needs the epoch the server gave; an empty one means the channel keeps no
    // history, so there is nothing to ask for and the resubscribe reports recovered() false.
    ch.recoverySent = ch.options.recover && ch.hasPosition && !ch.streamPosition.epoch.empty();
    if (ch.recoverySent)
        frame["recover"] = json::object{{"offset", ch.streamPosition.offset}, {"epoch", ch.streamPosition.epoch}};
    else if (ch.options.latest)
        frame["latest"] = true;
    m_session.log(LogLevel::Debug, [&] {
        return "subscribing to " + ch.name()
            + (ch.recoverySent ? " (recover after offset " + std::to_string(ch.streamPosition.offset) + ")" : std::string());
    });
    std::weak_ptr<bool> alive = m_session.life;
    const std::string name = ch.name();
    const std::uint64_t serial = ch.serial;
    // Sent before welcome, its answer also waits for the server to accept the connection.
    const auto timeout = m_session.options.ackTimeout + (m_session.welcomed ? std::chrono::milliseconds(0) : m_session.options.connectTimeout);
    ch.pendingAckId = m_session.pending.add(PendingOperations::Kind::Subscribe, timeout,
                                            [this, alive, name, serial](std::error_code error, const json::object *answer) {
                                                if (!alive.expired())
                                                    onSubscribeDone(name, serial, error, answer);
                                            });
    frame["ackId"] = ch.pendingAckId;
    m_session.send(frame);
    return true;
}

void ChannelSubscriptions::refreshAuthorization(std::string_view channelName)
{
    ChannelState *ch = m_session.findChannel(channelName);
    if (!ch || !ch->isSubscribed)
        return;
    std::weak_ptr<bool> alive = m_session.life;
    const std::string name = ch->name();
    const std::uint64_t serial = ch->serial;
    const std::uint64_t connection = m_session.connection;
    auto send = [this, alive, name, serial, connection](std::string auth) {
        ChannelState *state = nullptr;
        if (alive.expired() || !m_session.connectionAlive(connection) || !(state = m_session.findChannel(name, serial)))
            return;
        state->options.auth = auth; // for the resubscribes after a reconnect too
        const std::uint64_t ackId = m_session.pending.add(
            PendingOperations::Kind::Ack, m_session.options.ackTimeout,
            [this, alive, name](std::error_code error, const json::object *answer) {
                if (alive.expired())
                    return;
                if (!error) {
                    m_session.log(LogLevel::Debug, [&] { return "authorization of " + name + " refreshed"; });
                    return;
                }
                const std::string message = answer ? std::string(stringField(*answer, "message")) : error.message();
                m_session.log(LogLevel::Warning, [&] { return "authorization refresh of " + name + " refused: " + message; });
                m_session.emitError(error, "authorization refresh refused: " + message, name);
            });
        m_session.send(json::object{{"op", "refresh"}, {"channel", name}, {"auth", std::move(auth)}, {"ackId", ackId}});
    };
    if (!ch->options.authProvider)
        return send(ch->options.auth);
    auto provider = ch->options.authProvider; // it may replace itself
    provider(std::move(send));
}

// Success is handled by IncomingFrames (`subscribed`); here only refusals and timeouts.
// Disconnects and close() need nothing (resubscribe covers them).
void ChannelSubscriptions::onSubscribeDone(const std::string &name, std::uint64_t serial, std::error_code error,
                                           const json::object *answer)
{
    ChannelState *ch = m_session.findChannel(name, serial);
    if (!ch)
        return;
    ch->pendingAckId = 0;
    if (!error || error == Error::NotConnected || error == Error::Cancelled)
        return;
    if (error == Error::RateLimited && !m_session.welcomed)
        return; // sent before welcome, one more than the server keeps: resubscribeAll() sends it again

    ch->error = error;
    ch->isSubscribed = false;
    ch->stateObservers->notify();
    if (answer) {
        const json::value copy(*answer);
        m_session.emitError(error, stringField(*answer, "message"), name, &copy);
    } else {
        m_session.emitError(error, error == Error::InvalidName ? "channel name, auth or channel data is not UTF-8" : "no answer to subscribe", name);
    }
}

ChannelSubscriptions::ChannelRefs ChannelSubscriptions::markChannelsUnsubscribed()
{
    ChannelRefs changed;
    for (auto &[name, ch] : m_session.channels) {
        if (ch->isSubscribed || ch->pendingAckId != 0) {
            ch->isSubscribed = false;
            ch->pendingAckId = 0;
            changed.emplace_back(name, ch->serial);
        }
    }
    return changed;
}

void ChannelSubscriptions::notifyChannelStates(const ChannelRefs &changed)
{
    for (const auto &[name, serial] : changed) {
        if (ChannelState *ch = m_session.findChannel(name, serial))
            ch->stateObservers->notify();
    }
}

} // namespace switchboard::client
