#pragma once
// Per-message delivery counters: a message is "in flight" from the moment it is published until
// every subscriber has received it. Subscribers on any io thread count receipts here; the
// receipt that completes a message calls the completion callback (on that io thread).
//
// Counters live in a ring indexed by sequence number; the publisher arms a slot before reusing
// it and never has more than capacity() messages outstanding. A message that never completes
// (a server dropped a delivery) is retired by the publisher after a timeout.
//
// Thread safety: delivered() from any thread; everything else from the publisher's thread.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>

namespace switchboard::bench {

class DeliveryTracker
{
public:
    explicit DeliveryTracker(unsigned ringBits = 16)
        : m_mask((1u << ringBits) - 1)
        , m_counts(std::make_unique<std::atomic<std::uint32_t>[]>(std::size_t(1) << ringBits))
    {
    }

    std::size_t capacity() const { return std::size_t(m_mask) + 1; }

    /// Receipts that complete a message; set before publishing starts.
    void setExpected(std::uint32_t subscribers) { m_expected.store(subscribers, std::memory_order_release); }
    std::uint32_t expected() const { return m_expected.load(std::memory_order_acquire); }
    /// Called with the sequence of each completed message, on the thread of the last receipt.
    void setOnComplete(std::function<void(std::uint32_t)> onComplete) { m_onComplete = std::move(onComplete); }

    /// Before publishing `sequence`.
    void arm(std::uint32_t sequence) { m_counts[sequence & m_mask].store(0, std::memory_order_release); }

    void delivered(std::uint32_t sequence)
    {
        const std::uint32_t count = m_counts[sequence & m_mask].fetch_add(1, std::memory_order_acq_rel) + 1;
        if (count == m_expected.load(std::memory_order_relaxed))
            m_onComplete(sequence);
    }

    /// Gives up on `sequence`: returns the receipts it had, or nullopt if it completed meanwhile.
    std::optional<std::uint32_t> retire(std::uint32_t sequence)
    {
        auto &slot = m_counts[sequence & m_mask];
        std::uint32_t seen = slot.load(std::memory_order_acquire);
        const std::uint32_t expected = m_expected.load(std::memory_order_relaxed);
        do {
            if (seen >= expected)
                return std::nullopt;
        } while (!slot.compare_exchange_weak(seen, kRetired, std::memory_order_acq_rel));
        return seen;
    }

private:
    // Late receipts add to it without ever reaching a subscriber count.
    static constexpr std::uint32_t kRetired = 1u << 31;

    std::uint32_t m_mask;
    std::unique_ptr<std::atomic<std::uint32_t>[]> m_counts;
    std::atomic<std::uint32_t> m_expected{0};
    std::function<void(std::uint32_t)> m_onComplete;
};

} // namespace switchboard::bench
