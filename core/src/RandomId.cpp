#include "RandomId.h"

#include <array>
#include <random>

namespace switchboard::detail {
namespace {

std::mt19937_64 &generator()
{
    thread_local std::mt19937_64 engine = [] {
        // Seed the whole state, not a single 32-bit word.
        std::random_device device;
        std::array<std::random_device::result_type, 16> words;
        for (auto &word : words)
            word = device();
        std::seed_seq seed(words.begin(), words.end());
        return std::mt19937_64(seed);
    }();
    return engine;
}

// `bytes` bytes from `engine` as lowercase hex, using every byte of each word it returns.
template <typename Engine>
std::string hexFrom(Engine &engine, std::size_t bytes)
{
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string out;
    out.reserve(bytes * 2);
    typename Engine::result_type word = 0;
    for (std::size_t i = 0; i < bytes; ++i) {
        if (i % sizeof(word) == 0)
            word = engine();
        const auto byte = static_cast<unsigned>(word & 0xFF);
        word >>= 8;
        out += kDigits[byte >> 4];
        out += kDigits[byte & 0x0F];
    }
    return out;
}

} // namespace

std::string randomHex(std::size_t bytes)
{
    return hexFrom(generator(), bytes);
}

std::string unguessableHex(std::size_t bytes)
{
    thread_local std::random_device device;
    return hexFrom(device, bytes);
}

} // namespace switchboard::detail

namespace switchboard::detail {

std::string randomDigits(std::size_t digits)
{
    std::string out;
    out.reserve(digits);
    auto &engine = generator();
    for (std::size_t i = 0; i < digits; ++i)
        out += static_cast<char>((i == 0 ? '1' + engine() % 9 : '0' + engine() % 10));
    return out;
}

} // namespace switchboard::detail
