#pragma once
// ChannelGrants: the channel authorizations that expire (AuthDecision::expiresAtMs), each with
// one timer for its `expiring` hint and then its expiry. Private to the Hub.

#include "switchboard/Timer.h"

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>

namespace switchboard::detail {

/// One entry per (session, channel) whose authorization has an expiry; memberships without one
/// cost nothing here. The callbacks run from the Timer, after the entry changed (hint: the expiry
/// is armed next; expired: the entry is gone), and may call back into this object.
/// Not thread-safe: the Hub's thread.
class ChannelGrants {
public:
    /// `leftMs`: time until the expiry (hint), or 0 (expired).
    using Callback = std::function<void(const std::string &sessionId, const std::string &channel, std::int64_t leftMs)>;

    /// The hint comes `hintLead` before the expiry, or at half the remaining lifetime when that is
    /// shorter; a zero lead sends none.
    ChannelGrants(Timer &timer, std::chrono::milliseconds hintLead, Callback hint, Callback expired);
    ~ChannelGrants();
    ChannelGrants(const ChannelGrants &) = delete;
    ChannelGrants &operator=(const ChannelGrants &) = delete;

    /// The authorization of `sessionId` for `channel` now ends at `expiresAtMs` (wall clock); 0:
    /// it does not expire (the entry is forgotten).
    void set(std::string_view sessionId, std::string_view channel, std::int64_t expiresAtMs);
    void forget(std::string_view sessionId, std::string_view channel);
    std::size_t size() const { return m_grants.size(); }

private:
    struct Grant {
        TimerId timer = 0;
        std::int64_t expiresAtMs = 0;
    };
    static std::string keyOf(std::string_view sessionId, std::string_view channel);
    void arm(const std::string &key, Grant &grant);
    void fire(const std::string &key);

    Timer &m_timer;
    std::chrono::milliseconds m_hintLead;
    Callback m_hint;
    Callback m_expired;
    std::map<std::string, Grant, std::less<>> m_grants; // session id, '\n', channel name
};

} // namespace switchboard::detail
