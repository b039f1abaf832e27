#pragma once
// DerivedBytes: a slot for bytes derived from a shared Frame by a transport (the permessage-deflate
// payload of a publication marked `compress`), built once by whichever recipient needs it first
// and then shared by every other recipient. Core only carries the slot; it never fills it, so it
// needs no compression library (the browser build stays free of zlib).

#include <atomic>
#include <string>
#include <utility>

namespace switchboard {

/// Thread safety: get() and getOrBuild() may be called concurrently from any thread. When two
/// threads build at the same time, one result is kept and the other discarded; both callers get
/// the kept one. Moving it (only while the Frame is being created) leaves the source empty.
/// Ownership: the slot owns the bytes until it is destroyed with its Frame.
class DerivedBytes {
public:
    DerivedBytes() = default;
    DerivedBytes(DerivedBytes &&other) noexcept : m_bytes(other.m_bytes.exchange(nullptr)) {}
    DerivedBytes(const DerivedBytes &) = delete;
    DerivedBytes &operator=(const DerivedBytes &) = delete;
    DerivedBytes &operator=(DerivedBytes &&) = delete;
    ~DerivedBytes() { delete m_bytes.load(std::memory_order_acquire); }

    /// The bytes once built, else null.
    const std::string *get() const noexcept { return m_bytes.load(std::memory_order_acquire); }

    /// The bytes, built by `build()` (returning std::string) on the first call. `build` must not
    /// touch this slot.
    template <class Build>
    const std::string &getOrBuild(Build &&build) const
    {
        return getOrBuild(std::forward<Build>(build), [] {});
    }

    /// As above; `onKept()` runs in the one caller whose built bytes were kept, never in a caller
    /// that found them or whose result was discarded. Count work done once per Frame there:
    /// `build` may run in several threads that race on an empty slot.
    template <class Build, class OnKept>
    const std::string &getOrBuild(Build &&build, OnKept &&onKept) const
    {
        if (const std::string *existing = get())
            return *existing;
        auto *built = new std::string(build());
        const std::string *expected = nullptr;
        if (m_bytes.compare_exchange_strong(expected, built, std::memory_order_acq_rel, std::memory_order_acquire)) {
            onKept();
            return *built;
        }
        delete built; // another recipient was first
        return *expected;
    }

private:
    mutable std::atomic<const std::string *> m_bytes{nullptr};
};

} // namespace switchboard
