#pragma once
// AsioTimer: the core Timer on one Boost.Asio steady_timer, shared by the Asio gateway (an
// io_context run by several threads, the core behind one mutex) and the native client (one
// strand). Internal: not an installed header.
//
// Every connection of the gateway starts a timer (the deadline of its connect frame) and cancels
// it milliseconds later. A steady_timer per start() cost each of them three heap blocks (the
// timer, its wait, its entry), of which the timer was freed only when the event loop ran the
// cancelled wait: after the connection's long-lived blocks had been allocated beside it, so
// each connection left a hole in the heap. Here the pending timers are slots in one array and
// their deadlines in a binary heap, and one steady_timer waits for the earliest: start() and
// cancel() take no heap block once the arrays have grown (for a callback that fits
// std::function's own buffer), and cancel() releases the callback at once. A start takes the
// lowest free slot, so that after a burst (thousands of connections waiting for their connect
// frame at once) the free slots gather at the end, where they are given back.

#include <switchboard/Timer.h>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

namespace switchboard::asiosupport {

/// Callbacks run through `executor`. What serialises them with the rest of the core is the
/// owner's choice, one of:
///  - `executor` is a strand and `guard` is null (the native client): start(), cancel() and the
///    destructor run on that strand, like the callbacks;
///  - `guard` is the mutex every core call holds (the gateway, whose io_context several threads
///    run): each callback runs with it locked; start(), cancel() and the destructor are called
///    with it held (core code calls them so).
/// A cancelled callback never runs, nor one still pending when the timer is destroyed. Timers due
/// at the same time fire in the order they were started. `guard`, when given, must outlive every
/// handler still queued on `executor`.
class AsioTimer final : public Timer {
public:
    explicit AsioTimer(boost::asio::any_io_executor executor, std::mutex *guard = nullptr);
    ~AsioTimer() override;
    AsioTimer(const AsioTimer &) = delete;
    AsioTimer &operator=(const AsioTimer &) = delete;

    TimerId start(std::chrono::milliseconds delay, std::function<void()> callback) override;
    void cancel(TimerId id) override;
    std::chrono::milliseconds now() const override;
    std::chrono::microseconds nowPrecise() const override;
    std::int64_t wallClockMs() const override;

private:
    using Clock = std::chrono::steady_clock;
    /// An id is the start's number (its generation, counted over every start: ids never repeat
    /// within 2^40 starts) above the slot's index: a stale id names its slot but not the timer
    /// there now.
    static constexpr int kSlotBits = 24;
    static constexpr std::uint64_t kSlotMask = (std::uint64_t(1) << kSlotBits) - 1;
    static constexpr std::uint64_t kGenerationMask = (std::uint64_t(1) << (64 - kSlotBits)) - 1;

    /// A pending timer, or a free slot (no callback).
    struct Slot {
        std::function<void()> callback;
        std::uint64_t generation = 0;
    };
    /// A deadline in the heap. Cancelled ones stay until they reach the top or the heap is
    /// compacted; a generation that is no longer its slot's marks them. The generation also
    /// orders timers due at the same time: first started, first run.
    struct Due {
        Clock::time_point at;
        std::uint64_t generation;
        std::uint32_t slot;
    };
    struct LaterFirst {
        bool operator()(const Due &a, const Due &b) const noexcept
        {
            return a.at != b.at ? a.at > b.at : a.generation > b.generation;
        }
    };

    /// The lowest free slot, or a new one at the end.
    std::uint32_t takeSlot();
    bool pending(const Due &due) const noexcept;
    /// Frees the slot and hands its callback over; free slots at the end are given back.
    std::function<void()> release(std::uint32_t slot);
    /// Gives back the free slots at the end, and storage the arrays no longer need.
    void trim();
    /// Drops cancelled deadlines from the top, so that the wait is for a live one.
    void dropCancelledTop();
    /// Rebuilds the heap without cancelled deadlines when they outnumber the live ones.
    void compactIfSparse();
    /// The steady_timer waits for `at` (replacing the wait it had).
    void arm(Clock::time_point at);
    /// The wait ended: runs every callback due, then waits for the next deadline.
    void expired();

    boost::asio::any_io_executor m_executor;
    std::mutex *m_guard;
    boost::asio::steady_timer m_wait;
    Clock::time_point m_armedAt = Clock::time_point::max(); ///< max: no wait outstanding
    std::vector<Slot> m_slots;
    std::vector<std::uint32_t> m_freeSlots; ///< a heap, lowest index on top
    std::vector<Due> m_due;                 ///< a heap, earliest on top
    std::size_t m_pendingCount = 0;
    std::uint64_t m_started = 0;            ///< the generation of the last start
    std::chrono::steady_clock::time_point m_epoch = std::chrono::steady_clock::now();
    /// Handlers check it before touching `this`: they may complete after the timer is gone.
    std::shared_ptr<AsioTimer *> m_self = std::make_shared<AsioTimer *>(this);
};

} // namespace switchboard::asiosupport
