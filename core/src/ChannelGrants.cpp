#include "ChannelGrants.h"

#include <algorithm>

namespace switchboard::detail {

ChannelGrants::ChannelGrants(Timer &timer, std::chrono::milliseconds hintLead, Callback hint, Callback expired)
    : m_timer(timer), m_hintLead(hintLead), m_hint(std::move(hint)), m_expired(std::move(expired))
{
}

ChannelGrants::~ChannelGrants()
{
    for (auto &[key, grant] : m_grants)
        m_timer.cancel(grant.timer);
}

std::string ChannelGrants::keyOf(std::string_view sessionId, std::string_view channel)
{
    std::string key;
    key.reserve(sessionId.size() + 1 + channel.size());
    key.append(sessionId).append(1, '\n').append(channel); // neither holds a line feed
    return key;
}

void ChannelGrants::set(std::string_view sessionId, std::string_view channel, std::int64_t expiresAtMs)
{
    if (expiresAtMs == 0)
        return forget(sessionId, channel);
    const std::string key = keyOf(sessionId, channel);
    Grant &grant = m_grants[key];
    if (grant.timer)
        m_timer.cancel(grant.timer);
    grant.expiresAtMs = expiresAtMs;
    arm(key, grant);
}

void ChannelGrants::forget(std::string_view sessionId, std::string_view channel)
{
    if (m_grants.empty())
        return;
    const auto it = m_grants.find(keyOf(sessionId, channel));
    if (it == m_grants.end())
        return;
    m_timer.cancel(it->second.timer);
    m_grants.erase(it);
}

void ChannelGrants::arm(const std::string &key, Grant &grant)
{
    const std::int64_t leftMs = std::max<std::int64_t>(grant.expiresAtMs - m_timer.wallClockMs(), 0);
    const std::int64_t lead = std::min<std::int64_t>(m_hintLead.count(), leftMs / 2);
    // A hint first (when there is room for one), the expiry after it.
    grant.timer = m_timer.start(std::chrono::milliseconds(lead > 0 ? leftMs - lead : leftMs),
                                [this, key, hinting = lead > 0] {
                                    const auto it = m_grants.find(key);
                                    if (it == m_grants.end())
                                        return;
                                    it->second.timer = 0;
                                    if (!hinting)
                                        return fire(key);
                                    const std::int64_t left = it->second.expiresAtMs - m_timer.wallClockMs();
                                    it->second.timer = m_timer.start(std::chrono::milliseconds(std::max<std::int64_t>(left, 0)),
                                                                     [this, key] {
                                                                         const auto at = m_grants.find(key);
                                                                         if (at != m_grants.end()) {
                                                                             at->second.timer = 0;
                                                                             fire(key);
                                                                         }
                                                                     });
                                    const auto split = key.find('\n');
                                    m_hint(key.substr(0, split), key.substr(split + 1), left);
                                });
}

void ChannelGrants::fire(const std::string &key)
{
    m_grants.erase(key);
    const auto split = key.find('\n');
    m_expired(key.substr(0, split), key.substr(split + 1), 0);
}

} // namespace switchboard::detail
