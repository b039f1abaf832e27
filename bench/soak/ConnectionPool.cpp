#include "ConnectionPool.h"

#include <algorithm>
#include <numeric>

namespace switchboard::bench {

namespace {
constexpr std::size_t kScratchBytes = 256 * 1024;
using SteadyClock = std::chrono::steady_clock;
} // namespace

ConnectionPool::ConnectionPool(boost::asio::io_context &io, Settings settings, SoakSubscriber::Target target,
                               ChannelLedger &ledger, SoakCounters &counters, TokenFactory tokens)
    : m_io(io)
    , m_settings(settings)
    , m_target(std::move(target))
    , m_ledger(ledger)
    , m_counters(counters)
    , m_tokens(std::move(tokens))
    , m_scratch(kScratchBytes)
    , m_random(settings.seed)
    , m_sweep(io)
{
}

ConnectionPool::~ConnectionPool() = default;

void ConnectionPool::start()
{
    m_toOpen = m_settings.connections;
    openMore();
    scheduleSweep();
}

void ConnectionPool::leaveAll()
{
    m_replacing = false;
    m_toOpen = 0;
    // leave() may finish a subscriber at once, which edits m_live: walk a copy of the ids.
    std::vector<std::uint64_t> ids;
    ids.reserve(m_live.size());
    for (const auto &entry : m_live)
        ids.push_back(entry.first);
    for (const std::uint64_t id : ids)
        if (const auto it = m_live.find(id); it != m_live.end())
            it->second->leave();
}

std::chrono::milliseconds ConnectionPool::lifetime(bool firstGeneration)
{
    if (m_settings.churn <= 0)
        return std::chrono::hours(24 * 365);
    const double mean = static_cast<double>(m_settings.connections) / m_settings.churn;
    // The first generation leaves over the first mean lifetime (N / mean = churn per second);
    // each replacement lives 0.5 to 1.5 means, which keeps the rate at churn per second.
    std::uniform_real_distribution<double> pick(firstGeneration ? 0.0 : 0.5 * mean,
                                                firstGeneration ? mean : 1.5 * mean);
    return std::chrono::milliseconds(static_cast<std::int64_t>(pick(m_random) * 1000.0) + 1);
}

void ConnectionPool::openMore()
{
    while (m_toOpen > 0 && m_upgrading < m_settings.concurrency) {
        --m_toOpen;
        openOne();
    }
}

void ConnectionPool::openOne()
{
    SoakSubscriber::Plan plan;
    plan.id = m_nextId++;
    std::vector<std::size_t> all(m_ledger.size());
    std::iota(all.begin(), all.end(), std::size_t(0));
    std::shuffle(all.begin(), all.end(), m_random);
    plan.channels.assign(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(m_settings.channelsPerConnection));
    plan.token = m_tokens ? m_tokens(plan.id) : std::string();
    plan.lifetime = lifetime(plan.id <= m_settings.connections); // ids start at 1
    plan.resetOnLeave = std::bernoulli_distribution(m_settings.resetFraction)(m_random);
    plan.drainTimeout = m_settings.drainTimeout;
    plan.closeTimeout = m_settings.closeTimeout;

    auto subscriber = std::make_unique<SoakSubscriber>(m_io, m_scratch, m_target, std::move(plan), m_ledger,
                                                       m_counters, *this);
    SoakSubscriber &s = *subscriber;
    m_live.emplace(s.id(), std::move(subscriber));
    ++m_upgrading;
    s.open();
}

void ConnectionPool::upgradeDone(SoakSubscriber &, bool)
{
    --m_upgrading;
    openMore();
}

void ConnectionPool::leaving(SoakSubscriber &)
{
    if (m_replacing) {
        ++m_toOpen;
        openMore();
    }
}

void ConnectionPool::finished(SoakSubscriber &subscriber, bool expected)
{
    const auto it = m_live.find(subscriber.id());
    if (it == m_live.end())
        return;
    const bool replace = !expected && !subscriber.isLeaving() && m_replacing;
    m_retired.emplace_back(SteadyClock::now(), std::move(it->second));
    m_live.erase(it);
    if (replace) {
        ++m_toOpen;
        openMore();
    }
}

void ConnectionPool::scheduleSweep()
{
    m_sweep.expires_after(std::chrono::milliseconds(500));
    m_sweep.async_wait([this](boost::system::error_code ec) {
        if (ec)
            return;
        const auto cutoff = SteadyClock::now() - std::chrono::seconds(1);
        while (!m_retired.empty() && m_retired.front().first < cutoff)
            m_retired.pop_front();
        scheduleSweep();
    });
}

} // namespace switchboard::bench
