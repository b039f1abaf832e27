// Hub::Impl, fan-out: a publication from the Broker to the subscribers of its channel (the
// frame made once, content filters checked once per group, the slow-consumer policy applied),
// sends to one session, and replies between clients. The hot path of a publication stays in
// this file. HubImpl.h declares Hub::Impl; joins are in HubJoins.cpp, server-side
// subscriptions in HubServerSubscriptions.cpp, the public Hub API in Hub.cpp.

#include "HubImpl.h"

#include "switchboard/JsonParse.h"
#include "switchboard/MessageEncoding.h"
#include "ReplyRoute.h"

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/value.hpp>

namespace switchboard {

// ---- fan-out -----------------------------------------------------------------------------

/// The frame of a publication of `channel`, carrying the channel's policy and, for
/// LatestOnly, its conflation key: once per publication, whatever the subscribers.
SharedFrame Hub::Impl::publicationFrame(const Channel &channel, const Publication &publication) const
{
    std::string key;
    if (channel.policy == ChannelPolicy::LatestOnly)
        key = conflationKeyOf(channel.name, channel.keyField, publication);
    if (publication.binary)
        return encodeBinaryFrame(publication.channel, publication.event, publication.data, channel.policy, std::move(key));
    return encodeMessageFrame(publication, channel.policy, std::move(key));
}

/// Counts what a send that queued did to the outbox's pending frames.
void Hub::Impl::countConflatedOrEvicted(SessionEntry &entry, const SendOutcome &outcome)
{
    SessionEntry::Extras &extras = entry.extrasOrNew();
    extras.conflated += outcome.conflated;
    counters.conflated += outcome.conflated;
    extras.dropped += outcome.evicted;
    counters.drops += outcome.evicted;
}

/// Applies the slow-consumer `policy` to a refused frame. Never closes inline: closes are
/// collected and run by flushCloses() once no subscriber list is being walked.
void Hub::Impl::refused(SessionEntry &entry, ChannelPolicy policy)
{
    ++entry.extrasOrNew().dropped;
    if (policy != ChannelPolicy::Disconnect) {
        ++counters.drops;
        return;
    }
    entry.closing = true;
    ++counters.slowDisconnects;
    toClose.push_back(entry.session);
}

void Hub::Impl::flushCloses()
{
    if (toClose.empty())
        return;
    std::vector<std::shared_ptr<Session>> closing;
    closing.swap(toClose);
    for (const auto &session : closing)
        session->close(DisconnectCode::SlowConsumer, "outbox full");
}

/// Sends the shared frame of a channel with slow-consumer `policy` to every subscriber of
/// `list`; returns how many accepted it.
std::uint64_t Hub::Impl::deliver(const std::vector<SessionEntry *> &list, const SharedFrame &frame,
                                 const SessionEntry *except, ChannelPolicy policy)
{
    std::uint64_t accepted = 0;
    for (SessionEntry *entry : list) {
        if (entry == except || entry->closing)
            continue;
        const SendOutcome outcome = entry->session->send(frame);
        switch (outcome.result) {
        case SendResult::Dropped:
            refused(*entry, policy);
            break;
        case SendResult::Closed:
            break; // leaving: its detach is on the way
        case SendResult::Ok:
        case SendResult::Backpressure:
            ++entry->framesOut;
            ++accepted;
            countQueued(*entry, outcome);
            break;
        }
    }
    return accepted;
}

void Hub::Impl::finishFanOut(std::uint64_t accepted, const SharedFrame &frame)
{
    counters.framesOut += accepted;
    counters.bytesOut += accepted * frame->bytes.size();
    flushCloses();
}

/// Every subscriber, whatever its filter (presence changes).
void Hub::Impl::fanOut(Channel &channel, const SharedFrame &frame, const SessionEntry *except)
{
    std::uint64_t accepted = deliver(channel.subscribers, frame, except, channel.policy);
    for (const auto &group : channel.groups)
        accepted += deliver(group->subscribers, frame, except, channel.policy);
    finishFanOut(accepted, frame);
}

void Hub::Impl::sendToSession(std::string_view sessionId, const SharedFrame &frame)
{
    SessionEntry *entry = findSession(sessionId);
    if (!entry || entry->closing)
        return;
    const SendOutcome result = entry->session->send(frame);
    if (result == SendResult::Dropped) {
        refused(*entry, defaultPolicy());
        flushCloses();
    } else if (result != SendResult::Closed) {
        ++entry->framesOut;
        ++counters.framesOut;
        counters.bytesOut += frame->bytes.size();
        countQueued(*entry, result);
    }
}

// ---- replies between clients -------------------------------------------------------------

/// A reply for a session of this node: delivered when its slot is open, else dropped and counted.
void Hub::Impl::deliverReply(std::string_view sessionId, std::string_view nonce, std::string_view from,
                             std::string_view payload)
{
    SessionEntry *entry = findSession(sessionId);
    if (!entry) {
        ++counters.repliesDroppedGone;
        return;
    }
    detail::ReplySlots::Slot slot;
    const auto taken = entry->extras ? entry->extras->replySlots.take(nonce, timer.now(), slot)
                                     : detail::ReplySlots::Take::Unknown;
    switch (taken) {
    case detail::ReplySlots::Take::Unknown:
        ++counters.repliesDroppedUnknown;
        return;
    case detail::ReplySlots::Take::Expired:
        ++counters.repliesDroppedExpired;
        return;
    case detail::ReplySlots::Take::Answered:
        ++counters.repliesDroppedAnswered;
        return;
    case detail::ReplySlots::Take::Taken:
        break;
    }
    ++counters.repliesDelivered;
    sendToSession(sessionId, encodeReplyFrame(slot.channel, payload, slot.ackId, from));
}

/// A reply another node routed here through the Broker.
void Hub::Impl::onRoutedReply(const Publication &publication)
{
    detail::RoutedReply routed;
    if (!publication.binary || !detail::decodeRoutedReply(publication.data, routed)) {
        ++counters.repliesDroppedUnroutable;
        return;
    }
    deliverReply(routed.session, routed.nonce, routed.from, routed.payload);
}

void Hub::Impl::onPublication(const Publication &publication)
{
    if (publication.channel == replyChannel)
        return onRoutedReply(publication);
    ++counters.publications;
    Channel *channel = findChannel(publication.channel);
    if (!channel)
        return;
    if (channel->pendingJoins > 0)
        hold(*channel, publication);
    if (channel->subscriberCount == 0)
        return;
    ++channel->published;
    const SessionEntry *except = publication.exceptSession.empty() ? nullptr : findSession(publication.exceptSession);
    const SharedFrame frame = publicationFrame(*channel, publication);
    std::uint64_t accepted = deliver(channel->subscribers, frame, except, channel->policy);
    if (!channel->groups.empty()) {
        // The data is parsed at most once per publication, and only when a filter reads it.
        unsigned char buffer[2048];
        boost::json::monotonic_resource arena(buffer, sizeof buffer);
        const boost::json::storage_ptr storage(&arena);
        boost::json::value parsed(storage);
        enum class Data { Unread, Parsed, None } data = Data::Unread;
        for (const auto &group : channel->groups) {
            const ContentFilter &filter = *group->filter;
            if (filter.needsData() && data == Data::Unread)
                data = !publication.binary && !parseJson(publication.data, parsed) ? Data::Parsed : Data::None;
            ++counters.filterEvaluations;
            if (filter.matches(publication.event, data == Data::Parsed ? &parsed : nullptr))
                accepted += deliver(group->subscribers, frame, except, channel->policy);
            else
                counters.filteredOut += group->subscribers.size();
        }
    }
    finishFanOut(accepted, frame);
}

} // namespace switchboard
