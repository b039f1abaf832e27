#include "LatencyHistogram.h"

#include <algorithm>
#include <cmath>

namespace switchboard::bench {

void LatencyHistogram::merge(const LatencyHistogram &other)
{
    for (std::size_t i = 0; i < kBuckets; ++i)
        m_counts[i] += other.m_counts[i];
    m_total += other.m_total;
    m_max = std::max(m_max, other.m_max);
}

void LatencyHistogram::reset()
{
    m_counts.fill(0);
    m_total = 0;
    m_max = 0;
}

std::uint64_t LatencyHistogram::upperBoundOf(std::size_t index)
{
    if (index < kSub)
        return index;
    const std::size_t rel = index - kSub;
    const int shift = static_cast<int>(rel / (kSub / 2)) + 1;
    const std::uint64_t mantissa = kSub / 2 + rel % (kSub / 2);
    return ((mantissa + 1) << shift) - 1;
}

std::uint64_t LatencyHistogram::quantile(double q) const
{
    if (m_total == 0)
        return 0;
    const auto rank = static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(m_total)));
    const std::uint64_t target = std::clamp<std::uint64_t>(rank, 1, m_total);
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < kBuckets; ++i) {
        seen += m_counts[i];
        if (seen >= target)
            return std::min(upperBoundOf(i), m_max);
    }
    return m_max;
}

} // namespace switchboard::bench
