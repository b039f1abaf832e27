#pragma once
// The soak's channels and, for each, the sequence numbers of its publications: how many have
// been allocated (taken by the publisher for a request) and the highest one the gateway has
// acknowledged (its HTTP answer arrived, so it is in the outbox of every session subscribed at
// that moment).
//
// The loss rule reads these. A subscriber's `subscribed` answer arrives at time T; every
// publication allocated after T is sent after T, so the gateway handles it after the
// subscription and must deliver it: the subscriber expects every sequence from allocated(c) at T
// on. When it leaves, it first waits for everything up to acknowledged(c) at that moment. The
// gateway delivers one channel's publications in order (one publisher connection, sequential
// requests), so a gap in what a subscriber receives is a loss.
//
// Thread safety: none; used on the soak's io thread only.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace switchboard::bench {

class ChannelLedger
{
public:
    static constexpr std::string_view kPrefix = "soak/";

    explicit ChannelLedger(std::size_t channels)
        : m_channels(channels)
    {
        for (std::size_t i = 0; i < channels; ++i)
            m_channels[i].name = std::string(kPrefix) + std::to_string(i);
    }

    std::size_t size() const { return m_channels.size(); }
    const std::string &name(std::size_t channel) const { return m_channels[channel].name; }

    /// The index of a channel name, or nullopt if it is not one of ours.
    std::optional<std::size_t> indexOf(std::string_view name) const
    {
        if (name.substr(0, kPrefix.size()) != kPrefix || name.size() == kPrefix.size())
            return std::nullopt;
        std::size_t index = 0;
        for (const char c : name.substr(kPrefix.size())) {
            if (c < '0' || c > '9')
                return std::nullopt;
            index = index * 10 + static_cast<std::size_t>(c - '0');
        }
        if (index >= m_channels.size())
            return std::nullopt;
        return index;
    }

    /// The next sequence of `channel` (0, 1, 2, ...).
    std::uint64_t allocate(std::size_t channel) { return m_channels[channel].allocated++; }
    /// Sequences allocated so far: the first one a subscriber subscribed now must receive.
    std::uint64_t allocated(std::size_t channel) const { return m_channels[channel].allocated; }

    void acknowledge(std::size_t channel, std::uint64_t sequence)
    {
        auto &c = m_channels[channel];
        if (!c.anyAcknowledged || sequence > c.acknowledged)
            c.acknowledged = sequence;
        c.anyAcknowledged = true;
    }
    /// Highest acknowledged sequence, or nullopt before the first.
    std::optional<std::uint64_t> acknowledged(std::size_t channel) const
    {
        const auto &c = m_channels[channel];
        return c.anyAcknowledged ? std::optional(c.acknowledged) : std::nullopt;
    }

private:
    struct Channel
    {
        std::string name;
        std::uint64_t allocated = 0;
        std::uint64_t acknowledged = 0;
        bool anyAcknowledged = false;
    };
    std::vector<Channel> m_channels;
};

} // namespace switchboard::bench
