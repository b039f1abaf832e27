#pragma once
// The soak's population of subscribers: opens `connections` of them (at most `concurrency`
// upgrades at a time), gives each a random lifetime around connections / churn seconds and a
// random set of channels, and starts a replacement whenever one leaves, so the population stays
// at `connections` while churn connections per second come and go. Finished subscribers are
// freed a second later, once every handler that could still refer to them has run.
//
// Thread safety: none; lives on the soak's io thread (post to it).

#include "ChannelLedger.h"
#include "SoakCounters.h"
#include "SoakSubscriber.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <deque>
#include <functional>
#include <memory>
#include <random>
#include <unordered_map>

namespace switchboard::bench {

class ConnectionPool final : public SoakSubscriber::Listener
{
public:
    struct Settings
    {
        std::size_t connections = 10000;
        double churn = 100;                 // replacements per second; 0: nobody leaves early
        std::size_t channelsPerConnection = 2;
        double resetFraction = 0.2;
        std::size_t concurrency = 128;
        std::chrono::milliseconds drainTimeout{5000};
        std::chrono::milliseconds closeTimeout{5000};
        std::uint32_t seed = 1;
    };
    /// Makes the token of connection `id` (empty: anonymous).
    using TokenFactory = std::function<std::string(std::uint64_t id)>;

    ConnectionPool(boost::asio::io_context &io, Settings settings, SoakSubscriber::Target target,
                   ChannelLedger &ledger, SoakCounters &counters, TokenFactory tokens);
    ~ConnectionPool() override;

    /// Opens the first generation; their lifetimes are spread over the mean lifetime, so leaving
    /// starts at once at the churn rate.
    void start();
    /// Every subscriber leaves (drains what it is owed, then closes or resets); no replacements.
    void leaveAll();
    /// Subscribers not yet finished.
    std::size_t live() const { return m_live.size(); }

    // SoakSubscriber::Listener
    void upgradeDone(SoakSubscriber &subscriber, bool ok) override;
    void leaving(SoakSubscriber &subscriber) override;
    void finished(SoakSubscriber &subscriber, bool expected) override;

private:
    void openMore();
    void openOne();
    std::chrono::milliseconds lifetime(bool firstGeneration);
    void scheduleSweep();

    boost::asio::io_context &m_io;
    Settings m_settings;
    SoakSubscriber::Target m_target;
    ChannelLedger &m_ledger;
    SoakCounters &m_counters;
    TokenFactory m_tokens;
    std::vector<char> m_scratch;
    std::mt19937_64 m_random;
    std::unordered_map<std::uint64_t, std::unique_ptr<SoakSubscriber>> m_live;
    std::deque<std::pair<std::chrono::steady_clock::time_point, std::unique_ptr<SoakSubscriber>>> m_retired;
    boost::asio::steady_timer m_sweep;
    std::uint64_t m_nextId = 1;
    std::size_t m_toOpen = 0;
    std::size_t m_upgrading = 0;
    bool m_replacing = true;
};

} // namespace switchboard::bench
