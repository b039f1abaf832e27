#pragma once
// ChannelState: the ClientChannel a ClientSession hands out, with the session's bookkeeping.
// Private to the client.

#include "switchboard/ClientSession.h"

#include "FrameFields.h"
#include "ObserverList.h"

#include <boost/json/object.hpp>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace switchboard::client {

/// Fields are written by ClientSession only; observers are notified by it after each change.
class ChannelState final : public ClientChannel {
public:
    ChannelState(std::string channelName, SubscribeOptions subscribeOptions, std::uint64_t channelSerial)
        : m_name(std::move(channelName)), options(std::move(subscribeOptions)), serial(channelSerial)
    {
    }
    ~ChannelState() override
    {
        stateObservers->clear();
        presenceObservers->clear();
    }

    const std::string &name() const override { return m_name; }
    bool subscribed() const override { return isSubscribed; }
    bool recovered() const override { return wasRecovered; }
    StreamPosition position() const override { return streamPosition; }
    std::error_code lastError() const override { return error; }
    const std::vector<Member> &members() const override { return roster; }
    ListenerHandle onStateChanged(std::function<void()> fn) override { return stateObservers->add(std::move(fn)); }
    ListenerHandle onPresenceChanged(std::function<void(std::string_view, const Member &)> fn) override
    {
        return presenceObservers->add(std::move(fn));
    }

    /// Applies a `presence` frame of `kind` (subscription_succeeded, member_added,
    /// member_removed) to the roster: one member per user id. False for another kind or a frame
    /// without its member. `payload`: the frame's members or member; `member`: the one added or
    /// removed (empty for a whole roster).
    bool applyPresence(std::string_view kind, const boost::json::object &frame, const boost::json::value *&payload, Member &member)
    {
        if (kind == "subscription_succeeded") {
            payload = frame.if_contains("members");
            roster.clear();
            if (payload && payload->is_array()) {
                for (const boost::json::value &m : payload->get_array()) {
                    Member parsed = memberOf(m);
                    if (!parsed.userId.empty())
                        roster.push_back(std::move(parsed));
                }
            }
            return true;
        }
        if (kind != "member_added" && kind != "member_removed")
            return false;
        payload = frame.if_contains("member");
        if (!payload)
            return false;
        member = memberOf(*payload);
        auto it = std::find_if(roster.begin(), roster.end(), [&](const Member &m) { return m.userId == member.userId; });
        if (kind == "member_removed") {
            if (it != roster.end())
                roster.erase(it);
        } else if (it == roster.end()) {
            roster.push_back(member);
        } else {
            *it = member;
        }
        return true;
    }

    std::string m_name;
    SubscribeOptions options;
    const std::uint64_t serial; ///< tells this channel from a later one of the same name

    bool isSubscribed = false;
    bool wasRecovered = false;
    bool hasPosition = false;     ///< a `subscribed` frame gave a position (recoverable if it has an epoch)
    bool recoverySent = false;    ///< the pending subscribe asked to recover
    StreamPosition streamPosition;
    std::error_code error;
    std::vector<Member> roster;
    std::uint64_t pendingAckId = 0;  ///< subscribe in flight
    std::uint64_t recoveryHigh = 0;  ///< newest offset delivered from `subscribed.publications`

    std::shared_ptr<ObserverList<>> stateObservers = std::make_shared<ObserverList<>>();
    std::shared_ptr<ObserverList<std::string_view, const Member &>> presenceObservers =
        std::make_shared<ObserverList<std::string_view, const Member &>>();
};

} // namespace switchboard::client
