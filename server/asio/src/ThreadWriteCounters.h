#pragma once
// ThreadWriteCounters: what the WebSocket sessions of one io thread wrote to their sockets, for
// switchboard_frames_out_total, _bytes_out_total, _socket_writes_total and
// _write_batch_frames.
//
// A socket write is counted once per write batch, on the hot path of every delivery: at one
// message in flight, one batch per delivery. Shared atomic counters cost a locked instruction
// each (four per batch with the batch-size histogram). Here only the io thread that owns the
// counters writes them, so an add is a relaxed load and store: plain moves, no locked
// instruction, no cache line shared with another thread. Any thread may read them (addTo) and
// sees each counter as of some recent moment; Metrics::render sums them over the io threads.

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

namespace switchboard::asio {

class ThreadWriteCounters {
public:
    /// The upper bounds of the batch-size buckets (frames per write); Metrics::batchFrames, which
    /// counts SSE writes and renders both, has the same.
    static constexpr std::array<double, 12> kBatchBounds{1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096};

    /// Sums over threads: what Metrics::render adds to its own counters.
    struct Totals {
        std::uint64_t frames = 0;
        std::uint64_t bytes = 0;
        std::uint64_t writes = 0;
        std::array<std::uint64_t, kBatchBounds.size() + 1> batchSizes{}; ///< writes with frames, per bucket
    };

    /// One socket write that carried `frames` frames (0: control frames only) and `bytes` bytes.
    /// Only the io thread that owns these counters.
    void addWrite(std::size_t frames, std::size_t bytes) noexcept
    {
        bump(m_frames, frames);
        bump(m_bytes, bytes);
        bump(m_writes, 1);
        if (frames == 0)
            return;
        std::size_t i = 0;
        while (i < kBatchBounds.size() && static_cast<double>(frames) > kBatchBounds[i])
            ++i;
        bump(m_batchSizes[i], 1);
    }

    /// Adds these counters to `totals`. Any thread.
    void addTo(Totals &totals) const noexcept
    {
        totals.frames += m_frames.load(std::memory_order_relaxed);
        totals.bytes += m_bytes.load(std::memory_order_relaxed);
        totals.writes += m_writes.load(std::memory_order_relaxed);
        for (std::size_t i = 0; i < m_batchSizes.size(); ++i)
            totals.batchSizes[i] += m_batchSizes[i].load(std::memory_order_relaxed);
    }

private:
    using Counter = std::atomic<std::uint64_t>;
    static void bump(Counter &counter, std::uint64_t n) noexcept
    {
        counter.store(counter.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    }

    Counter m_frames{0};
    Counter m_bytes{0};
    Counter m_writes{0};
    std::array<Counter, kBatchBounds.size() + 1> m_batchSizes{};
};

} // namespace switchboard::asio
