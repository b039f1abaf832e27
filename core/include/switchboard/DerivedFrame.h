#pragma once
// DerivedFrame: a slot on a shared Frame for the same message encoded for another wire protocol
// (a publication as a Pusher event: PusherProtocol). Built once, by the first recipient that
// speaks that protocol, then shared by every other one, as DerivedBytes does for compression.

#include <atomic>
#include <memory>
#include <utility>

namespace switchboard {

struct Frame;

/// Thread safety: get() and getOrBuild() may be called concurrently from any thread; when two
/// threads build at once one result is kept and both callers get it. Ownership: the slot holds
/// a reference to the derived frame until it is destroyed with its Frame.
class DerivedFrame {
public:
    using Ptr = std::shared_ptr<const Frame>;

    DerivedFrame() = default;
    DerivedFrame(DerivedFrame &&other) noexcept : m_frame(other.m_frame.exchange(nullptr)) {}
    DerivedFrame(const DerivedFrame &) = delete;
    DerivedFrame &operator=(const DerivedFrame &) = delete;
    DerivedFrame &operator=(DerivedFrame &&) = delete;
    ~DerivedFrame() { delete m_frame.load(std::memory_order_acquire); }

    /// The derived frame once built (may be null: built as "nothing to send"), else nullptr.
    const Ptr *get() const noexcept { return m_frame.load(std::memory_order_acquire); }

    /// The derived frame, built by `build()` (returning Ptr, null for "no such encoding") on the
    /// first call. `build` must not touch this slot.
    template <class Build>
    const Ptr &getOrBuild(Build &&build) const
    {
        if (const Ptr *existing = get())
            return *existing;
        auto *built = new Ptr(std::forward<Build>(build)());
        const Ptr *expected = nullptr;
        if (m_frame.compare_exchange_strong(expected, built, std::memory_order_acq_rel, std::memory_order_acquire))
            return *built;
        delete built; // another recipient was first
        return *expected;
    }

private:
    mutable std::atomic<const Ptr *> m_frame{nullptr};
};

} // namespace switchboard
