#pragma once
// LiveHeapBytes: the heap bytes a test program holds, counted by its own operator new and
// delete (malloc_usable_size of every live block, so allocator rounding counts too). Include it
// in exactly one source file of a test program: it replaces the global operator new and delete.

#include <malloc.h>

#include <atomic>
#include <cstdlib>
#include <new>

namespace switchboard::testing {

/// Live heap bytes of this program, allocated through operator new.
inline std::atomic<long long> g_liveHeapBytes{0};

inline long long liveHeapBytes() { return g_liveHeapBytes.load(std::memory_order_relaxed); }

namespace detail {
inline void *countedAllocate(std::size_t size)
{
    void *p = std::malloc(size ? size : 1);
    if (!p)
        throw std::bad_alloc();
    g_liveHeapBytes.fetch_add(static_cast<long long>(malloc_usable_size(p)), std::memory_order_relaxed);
    return p;
}

inline void countedFree(void *p) noexcept
{
    if (!p)
        return;
    g_liveHeapBytes.fetch_sub(static_cast<long long>(malloc_usable_size(p)), std::memory_order_relaxed);
    std::free(p);
}
} // namespace detail

} // namespace switchboard::testing

void *operator new(std::size_t size) { return switchboard::testing::detail::countedAllocate(size); }
void *operator new[](std::size_t size) { return switchboard::testing::detail::countedAllocate(size); }
void operator delete(void *p) noexcept { switchboard::testing::detail::countedFree(p); }
void operator delete[](void *p) noexcept { switchboard::testing::detail::countedFree(p); }
void operator delete(void *p, std::size_t) noexcept { switchboard::testing::detail::countedFree(p); }
void operator delete[](void *p, std::size_t) noexcept { switchboard::testing::detail::countedFree(p); }
