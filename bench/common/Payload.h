#pragma once
// The load generator's payload: a stamp the subscribers find again, then filler.
//
//   sbts:<20-digit steady-clock ns>:<10-digit sequence>:xxxx...
//
// The stamp is plain ASCII (no JSON escaping needed, no NATS or WebSocket special bytes), so the
// same bytes travel inside a Switchboard `data` string, a NATS MSG body or a raw broadcast frame.
// Receivers look for the marker rather than parsing the envelope: that keeps the per-delivery
// cost of the load generator far below the server's.

#include <cstdint>
#include <string>
#include <string_view>

namespace switchboard::bench {

struct Stamp
{
    std::uint64_t sentNs = 0;
    std::uint32_t sequence = 0;
};

class Payload
{
public:
    static constexpr std::string_view kMarker = "sbts:";
    static constexpr std::size_t kStampSize = 5 + 20 + 1 + 10 + 1;

    /// Smallest payload that holds a stamp.
    static constexpr std::size_t minimumSize() { return kStampSize; }

    /// Fills `out` (resized to `size`, at least minimumSize()) with the stamp and filler.
    static void write(std::string &out, std::size_t size, Stamp stamp);
    /// Overwrites the stamp at the start of `bytes` (which must hold at least kStampSize).
    static void stamp(char *bytes, Stamp stamp);

    /// Calls `f(Stamp)` for every stamp found in `text`; returns how many were found.
    template <typename F>
    static std::size_t scan(std::string_view text, F &&f)
    {
        std::size_t found = 0;
        std::size_t pos = 0;
        while ((pos = text.find(kMarker, pos)) != std::string_view::npos) {
            if (text.size() - pos < kStampSize)
                break;
            Stamp s;
            if (parse(text.data() + pos, s)) {
                f(s);
                ++found;
                pos += kStampSize;
            } else {
                pos += kMarker.size();
            }
        }
        return found;
    }

private:
    static bool parse(const char *at, Stamp &out);
};

} // namespace switchboard::bench
