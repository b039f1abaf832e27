#pragma once
// Log-linear latency histogram for the Switchboard load generator.
//
// Values are nanoseconds. Each power of two is split into 64 linear buckets, so a reported
// percentile is within 1/64 (about 1.6 %) of the true value; the maximum is exact. Recording is
// an index computation and an increment: no allocation after construction.
//
// Thread safety: none. Each io thread owns one histogram; they are merged after the run.

#include <array>
#include <cstdint>

namespace switchboard::bench {

class LatencyHistogram
{
public:
    void record(std::uint64_t ns)
    {
        ++m_counts[indexOf(ns)];
        ++m_total;
        if (ns > m_max)
            m_max = ns;
    }

    void merge(const LatencyHistogram &other);
    void reset();

    std::uint64_t count() const { return m_total; }
    std::uint64_t max() const { return m_max; }
    /// Smallest bucket value at or above the given quantile (0..1), in ns; 0 when empty.
    std::uint64_t quantile(double q) const;

private:
    static constexpr int kSubBits = 6;
    static constexpr std::uint64_t kSub = 1u << kSubBits;               // 64 linear buckets
    static constexpr std::size_t kBuckets = kSub + (64 - kSubBits) * (kSub / 2);

    static std::size_t indexOf(std::uint64_t v)
    {
        if (v < kSub)
            return static_cast<std::size_t>(v);
        const int msb = 63 - __builtin_clzll(v);                 // >= kSubBits
        const int shift = msb - (kSubBits - 1);                   // v >> shift in [32, 64)
        return kSub + static_cast<std::size_t>(shift - 1) * (kSub / 2)
               + static_cast<std::size_t>((v >> shift) - kSub / 2);
    }
    static std::uint64_t upperBoundOf(std::size_t index);

    std::array<std::uint64_t, kBuckets> m_counts{};
    std::uint64_t m_total = 0;
    std::uint64_t m_max = 0;
};

} // namespace switchboard::bench
