#pragma once
// CorkBuffer: the bytes a WebSocket session gathers for one socket write (frame headers, small
// frames copied in, control frames). A delivery appends a header and a frame to one for every
// subscriber, so appending is inline: a capacity check and a memcpy, where std::string::append
// is an out-of-line call per piece (docs/benchmarks.md, "Instructions per delivery").
//
// Grows by doubling; clear() keeps the storage, release() gives it back. Moving the buffer
// moves its heap block, so pointers into the bytes stay valid (a write waiting for the kernel
// keeps buffers over them).

#include <cstddef>
#include <cstring>
#include <memory>
#include <string_view>
#include <utility>

namespace switchboard::asio {

class CorkBuffer {
public:
    const char *data() const { return m_data.get(); }
    std::size_t size() const { return m_size; }
    std::size_t capacity() const { return m_capacity; }

    void clear() { m_size = 0; }
    void reserve(std::size_t bytes)
    {
        if (bytes > m_capacity)
            reallocate(bytes);
    }
    /// Frees the storage.
    void release()
    {
        m_data.reset();
        m_size = m_capacity = 0;
    }

    /// Room for `bytes` more: write at most that many to the pointer returned, then commit().
    char *tail(std::size_t bytes)
    {
        if (m_capacity - m_size < bytes)
            reallocate(m_size + bytes);
        return m_data.get() + m_size;
    }
    void commit(std::size_t bytes) { m_size += bytes; }

    void append(std::string_view bytes)
    {
        if (bytes.empty())
            return;
        std::memcpy(tail(bytes.size()), bytes.data(), bytes.size());
        m_size += bytes.size();
    }

    void swap(CorkBuffer &other) noexcept
    {
        m_data.swap(other.m_data);
        std::swap(m_size, other.m_size);
        std::swap(m_capacity, other.m_capacity);
    }

private:
    /// Out of line (rare): at least `needed` bytes, at least twice the capacity.
    void reallocate(std::size_t needed);

    std::unique_ptr<char[]> m_data;
    std::size_t m_size = 0;
    std::size_t m_capacity = 0;
};

} // namespace switchboard::asio
