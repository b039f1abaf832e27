#include "CorkBuffer.h"

namespace switchboard::asio {

void CorkBuffer::reallocate(std::size_t needed)
{
    std::size_t capacity = m_capacity * 2;
    if (capacity < needed)
        capacity = needed;
    std::unique_ptr<char[]> data(new char[capacity]);
    if (m_size > 0)
        std::memcpy(data.get(), m_data.get(), m_size);
    m_data = std::move(data);
    m_capacity = capacity;
}

} // namespace switchboard::asio
