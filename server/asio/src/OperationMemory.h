#pragma once
// OperationMemory: room inside a long-lived object for one of its pending asynchronous
// operations (a session's read wait, its timer wait), bound to the operation's handler with
// boost::asio::bind_allocator(memory.allocator(), handler).
//
// Why: Asio allocates each operation through its per-thread recycling cache, which hands out any
// cached block at least as large as asked. An idle connection's read wait then sits in whatever
// block the last larger operation freed (the upgrade response's write: about 770 B) for as long
// as the connection idles. Here the operation lives in the object that owns it, at its own size,
// and a read costs no allocation at all.
//
// One operation at a time uses the room; a second one started before the first released it (a
// timer re-armed while its cancelled wait is still queued) falls back to operator new, as does an
// operation larger than the room. Asio frees a completed operation's memory on whichever io
// thread completes it, before the handler reaches the owner's strand, so the room is claimed and
// released atomically: a release on one thread and a claim on another never overlap.

#include <atomic>
#include <cstddef>
#include <new>

namespace switchboard::asio {

template <std::size_t Size>
class OperationMemory {
public:
    OperationMemory() = default;
    OperationMemory(const OperationMemory &) = delete;
    OperationMemory &operator=(const OperationMemory &) = delete;

    void *allocate(std::size_t size)
    {
        bool free = false;
        if (size <= Size && m_inUse.compare_exchange_strong(free, true, std::memory_order_acquire))
            return m_storage;
        return ::operator new(size);
    }

    void deallocate(void *pointer) noexcept
    {
        if (pointer == static_cast<void *>(m_storage))
            m_inUse.store(false, std::memory_order_release);
        else
            ::operator delete(pointer);
    }

    /// True while an operation occupies the room.
    bool inUse() const noexcept { return m_inUse.load(std::memory_order_acquire); }

    /// A standard allocator over this memory, for boost::asio::bind_allocator.
    template <typename T>
    class Allocator {
    public:
        using value_type = T;
        explicit Allocator(OperationMemory &memory) noexcept : m_memory(&memory) {}
        template <typename U>
        Allocator(const Allocator<U> &other) noexcept : m_memory(other.m_memory) {}

        T *allocate(std::size_t n) { return static_cast<T *>(m_memory->allocate(sizeof(T) * n)); }
        void deallocate(T *pointer, std::size_t) noexcept { m_memory->deallocate(pointer); }

        template <typename U>
        bool operator==(const Allocator<U> &other) const noexcept { return m_memory == other.m_memory; }
        template <typename U>
        bool operator!=(const Allocator<U> &other) const noexcept { return m_memory != other.m_memory; }

    private:
        template <typename>
        friend class Allocator;
        OperationMemory *m_memory;
    };

    Allocator<void> allocator() noexcept { return Allocator<void>(*this); }

private:
    alignas(std::max_align_t) unsigned char m_storage[Size];
    std::atomic<bool> m_inUse{false};
};

} // namespace switchboard::asio
