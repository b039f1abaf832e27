#pragma once
// OneOrMany: a sequence that holds its first element inside itself and spills to a heap vector
// only from the second on.
//
// What a session record keeps per subscription is, for most connections, one element: a
// std::vector (24 bytes) puts even that one in a heap block of its own (a 32-byte element is a
// 48-byte chunk with the allocator's header). Here one element costs no block; two or more live
// in a vector behind a pointer, as before. The elements are contiguous either way, so iteration
// and the standard algorithms see a plain range. Like a vector's, element addresses change when
// an element is added or removed.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <utility>
#include <vector>

namespace switchboard::detail {

template <class T>
class OneOrMany {
public:
    OneOrMany() noexcept {}
    OneOrMany(const OneOrMany &) = delete;
    OneOrMany &operator=(const OneOrMany &) = delete;
    ~OneOrMany() { clear(); }

    bool empty() const noexcept { return m_size == 0; }
    std::size_t size() const noexcept { return m_size; }

    T *begin() noexcept { return m_size > 1 ? m_many->data() : &m_one; }
    T *end() noexcept { return begin() + m_size; }
    const T *begin() const noexcept { return m_size > 1 ? m_many->data() : &m_one; }
    const T *end() const noexcept { return begin() + m_size; }

    T &operator[](std::size_t i) noexcept { return begin()[i]; }
    const T &operator[](std::size_t i) const noexcept { return begin()[i]; }
    T &back() noexcept { return begin()[m_size - 1]; }

    void push_back(T value)
    {
        if (m_size == 0) {
            new (&m_one) T(std::move(value));
        } else if (m_size == 1) {
            auto many = std::make_unique<std::vector<T>>();
            many->reserve(2);
            many->push_back(std::move(m_one));
            many->push_back(std::move(value));
            m_one.~T();
            m_many = many.release();
        } else {
            m_many->push_back(std::move(value));
        }
        ++m_size;
    }

    /// Removes the last element; from two down to one, the vector goes and the element comes
    /// back inside.
    void pop_back() noexcept
    {
        if (m_size == 1) {
            m_one.~T();
        } else if (m_size == 2) {
            std::vector<T> *many = m_many;
            T first = std::move((*many)[0]);
            delete many;
            new (&m_one) T(std::move(first));
        } else {
            m_many->pop_back();
        }
        --m_size;
    }

    void clear() noexcept
    {
        if (m_size == 1)
            m_one.~T();
        else if (m_size > 1)
            delete m_many;
        m_size = 0;
    }

private:
    union {
        T m_one;                 // m_size == 1
        std::vector<T> *m_many;  // m_size >= 2: all the elements
    };
    std::uint32_t m_size = 0;
};

} // namespace switchboard::detail
