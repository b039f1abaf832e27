#include "IoShards.h"

#include <algorithm>
#include <stdexcept>

namespace switchboard::asio {

IoShards::IoShards(unsigned count, std::atomic<std::uint64_t> &rounds, std::chrono::milliseconds livenessResolution)
{
    count = std::max(1u, count);
    for (unsigned i = 0; i < count; ++i) {
        m_shards.push_back(std::make_unique<Shard>(rounds, count > 1, livenessResolution));
        if (i > 0)
            m_work.push_back(boost::asio::make_work_guard(m_shards.back()->ioc));
    }
}

IoShards::~IoShards()
{
    m_work.clear();
    // The main io_context goes first: its pending accept holds the socket it was accepting for
    // another shard, which must close while that shard's io_context still exists. Nothing of
    // another shard holds an object of the main one (a connection's objects all live on its own).
    m_shards.erase(m_shards.begin());
    m_shards.clear();
}

IoShards::Shard &IoShards::next()
{
    return *m_shards[m_next.fetch_add(1, std::memory_order_relaxed) % m_shards.size()];
}

ThreadWriteCounters::Totals IoShards::writeTotals() const
{
    ThreadWriteCounters::Totals totals;
    for (const auto &shard : m_shards)
        shard->writes.addTo(totals);
    return totals;
}

IoShards::Shard &IoShards::of(const IoExecutor &executor)
{
    for (auto &shard : m_shards)
        if (&shard->ioc == &executor.context())
            return *shard;
    throw std::logic_error("IoShards::of: an executor of no shard");
}

std::vector<boost::asio::io_context *> IoShards::contexts()
{
    std::vector<boost::asio::io_context *> out;
    for (auto &shard : m_shards)
        out.push_back(&shard->ioc);
    return out;
}

void IoShards::stop()
{
    for (auto &shard : m_shards)
        shard->ioc.stop();
}

} // namespace switchboard::asio
