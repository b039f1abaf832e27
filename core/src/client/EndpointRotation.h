#pragma once
// EndpointRotation: the failover rule of ClientSession (which URL to try next, after how long,
// and when the URL in use changed). Private to the client.

#include "Backoff.h"

#include <chrono>
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

namespace switchboard::client {

/// Every failed or lost connection moves to the next endpoint, round robin, after a backoff
/// delay; the backoff step grows once per full round through the endpoints (with one endpoint:
/// after every failure). A welcome starts over at step 0. The list is never empty (an empty one
/// counts as {""}). Not thread-safe.
class EndpointRotation {
public:
    EndpointRotation(std::vector<std::string> urls, BackoffOptions backoff) : m_backoff(backoff)
    {
        m_endpoints = urls.empty() ? std::vector<std::string>{std::string()} : std::move(urls);
        m_announced = m_endpoints.front();
    }

    const std::vector<std::string> &urls() const { return m_endpoints; }
    /// The endpoint of the open connection or attempt, or of the next attempt.
    const std::string &current() const { return m_endpoints[m_index]; }

    /// A connection or attempt failed: moves to the next endpoint (unless a new list was set
    /// during it: then its first URL is next) and returns the delay before the next attempt.
    std::chrono::milliseconds failed()
    {
        const bool endOfRound = ++m_failuresInRound >= m_endpoints.size();
        if (endOfRound)
            m_failuresInRound = 0;
        const std::chrono::milliseconds delay = m_backoff.next(endOfRound);
        if (!std::exchange(m_freshList, false))
            m_index = (m_index + 1) % m_endpoints.size();
        return delay;
    }

    /// A welcome: the next failure starts over at the first backoff step.
    void welcomed()
    {
        m_backoff.reset();
        m_failuresInRound = 0;
    }

    /// Replaces the list; false when it equals the current one (nothing changes). Its first URL
    /// is current at once. `connectionUnderWay`: a connection (or attempt) of the old list is
    /// open, so its failure must not skip the new first URL.
    bool replace(std::vector<std::string> urls, bool connectionUnderWay)
    {
        if (urls.empty())
            urls.emplace_back();
        if (urls == m_endpoints)
            return false;
        m_endpoints = std::move(urls);
        m_index = 0;
        m_failuresInRound = 0;
        m_freshList = connectionUnderWay;
        return true;
    }

    /// True (once) when current() differs from the URL last announced; it is then announced.
    bool takeChange()
    {
        if (current() == m_announced)
            return false;
        m_announced = current();
        return true;
    }

private:
    Backoff m_backoff;
    std::vector<std::string> m_endpoints;
    std::size_t m_index = 0;
    std::size_t m_failuresInRound = 0; ///< failed attempts since the round began (reset by welcome)
    std::string m_announced;           ///< last URL given to the URL observers (or the initial one)
    bool m_freshList = false;
};

} // namespace switchboard::client
