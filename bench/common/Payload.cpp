#include "Payload.h"

namespace switchboard::bench {

namespace {
void writeDigits(char *at, std::uint64_t value, int width)
{
    for (int i = width - 1; i >= 0; --i) {
        at[i] = static_cast<char>('0' + value % 10);
        value /= 10;
    }
}

bool readDigits(const char *at, int width, std::uint64_t &value)
{
    std::uint64_t v = 0;
    for (int i = 0; i < width; ++i) {
        const unsigned d = static_cast<unsigned char>(at[i]) - '0';
        if (d > 9)
            return false;
        v = v * 10 + d;
    }
    value = v;
    return true;
}
} // namespace

void Payload::write(std::string &out, std::size_t size, Stamp s)
{
    out.assign(size < kStampSize ? kStampSize : size, 'x');
    stamp(out.data(), s);
}

void Payload::stamp(char *bytes, Stamp s)
{
    for (std::size_t i = 0; i < kMarker.size(); ++i)
        bytes[i] = kMarker[i];
    writeDigits(bytes + 5, s.sentNs, 20);
    bytes[25] = ':';
    writeDigits(bytes + 26, s.sequence, 10);
    bytes[36] = ':';
}

bool Payload::parse(const char *at, Stamp &out)
{
    std::uint64_t ns = 0;
    std::uint64_t seq = 0;
    if (!readDigits(at + 5, 20, ns) || at[25] != ':' || !readDigits(at + 26, 10, seq) || at[36] != ':')
        return false;
    out.sentNs = ns;
    out.sequence = static_cast<std::uint32_t>(seq);
    return true;
}

} // namespace switchboard::bench
