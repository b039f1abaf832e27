#pragma once
// ReplySlots: one session's publications that wait for a reply (publish with `wantReply`).

#include "switchboard/ControlFrames.h"

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace switchboard::detail {

/// A bounded table, no timers: a slot is expired when a reply finds it past its deadline, and
/// expired or answered slots are removed when a new slot needs their room. So the table never
/// holds more than its limit, and an answered or expired slot is still recognized (and its reply
/// counted as such) until its room is needed. Not thread safe: owned by the Hub's session entry.
class ReplySlots {
public:
    struct Slot {
        std::string nonce;
        AckId ackId;         ///< of the publish: the publisher's reply carries it
        std::string channel; ///< the publication's: the reply's `topic`
        std::chrono::milliseconds deadline{0};
        bool answered = false;
    };

    enum class Take { Taken, Unknown, Expired, Answered };

    /// Adds a slot unless `limit` slots are outstanding (neither answered nor expired at `now`).
    bool open(Slot slot, std::size_t limit, std::chrono::milliseconds now)
    {
        if (m_slots.size() >= limit) {
            std::erase_if(m_slots, [now](const Slot &s) { return s.answered || s.deadline <= now; });
            if (m_slots.size() >= limit)
                return false;
        }
        m_slots.push_back(std::move(slot));
        return true;
    }

    /// The reply for `nonce`: Taken (the slot is now answered; `out` gets a copy of it) or why not.
    Take take(std::string_view nonce, std::chrono::milliseconds now, Slot &out)
    {
        Slot *slot = find(nonce);
        if (!slot)
            return Take::Unknown;
        if (slot->answered)
            return Take::Answered;
        if (slot->deadline <= now)
            return Take::Expired;
        slot->answered = true;
        out = *slot;
        return Take::Taken;
    }

    /// Forgets a slot (its publication failed: nobody will see its token).
    void remove(std::string_view nonce)
    {
        std::erase_if(m_slots, [nonce](const Slot &s) { return s.nonce == nonce; });
    }

    std::size_t size() const noexcept { return m_slots.size(); }

private:
    Slot *find(std::string_view nonce)
    {
        const auto it = std::find_if(m_slots.begin(), m_slots.end(), [nonce](const Slot &s) { return s.nonce == nonce; });
        return it == m_slots.end() ? nullptr : &*it;
    }

    std::vector<Slot> m_slots; // at most the limit; a linear scan over 64 beats a hash map here
};

} // namespace switchboard::detail
