#include "switchboard/websocket/MessageDeflate.h"

#include <zlib.h>

#include <array>
#include <memory>

namespace switchboard::websocket {

namespace {

constexpr std::string_view kTail("\x00\x00\xff\xff", 4);

/// A raw deflate stream kept for the thread's lifetime and reset for each message.
struct Deflater {
    explicit Deflater(int windowBits)
    {
        ok = deflateInit2(&stream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -windowBits, 8, Z_DEFAULT_STRATEGY) == Z_OK;
    }
    ~Deflater()
    {
        if (ok)
            deflateEnd(&stream);
    }
    Deflater(const Deflater &) = delete;
    Deflater &operator=(const Deflater &) = delete;
    z_stream stream{};
    bool ok = false;
};

struct Inflater {
    Inflater() { ok = inflateInit2(&stream, -15) == Z_OK; } // decodes any client window (8-15)
    ~Inflater()
    {
        if (ok)
            inflateEnd(&stream);
    }
    Inflater(const Inflater &) = delete;
    Inflater &operator=(const Inflater &) = delete;
    z_stream stream{};
    bool ok = false;
};

} // namespace

std::string deflateMessage(std::string_view message, int windowBits)
{
    if (windowBits < 9 || windowBits > 15)
        windowBits = 15;
    thread_local std::array<std::unique_ptr<Deflater>, 16> deflaters;
    auto &slot = deflaters[static_cast<std::size_t>(windowBits)];
    if (!slot)
        slot = std::make_unique<Deflater>(windowBits);
    Deflater &d = *slot;
    if (!d.ok || deflateReset(&d.stream) != Z_OK)
        return {};
    std::string out;
    out.resize(deflateBound(&d.stream, static_cast<uLong>(message.size())) + 16);
    d.stream.next_in = reinterpret_cast<Bytef *>(const_cast<char *>(message.data()));
    d.stream.avail_in = static_cast<uInt>(message.size());
    d.stream.next_out = reinterpret_cast<Bytef *>(out.data());
    d.stream.avail_out = static_cast<uInt>(out.size());
    // Z_SYNC_FLUSH ends the message on a byte boundary with an empty stored block (00 00 ff ff),
    // which RFC 7692 7.2.1 removes; the receiver appends it back.
    const int rc = deflate(&d.stream, Z_SYNC_FLUSH);
    if (rc != Z_OK || d.stream.avail_in != 0 || d.stream.avail_out == 0)
        return {};
    out.resize(out.size() - d.stream.avail_out);
    if (out.size() < kTail.size() || std::string_view(out).substr(out.size() - kTail.size()) != kTail)
        return {};
    out.resize(out.size() - kTail.size());
    if (out.size() >= message.size())
        return {}; // not worth it: the message goes out uncompressed
    return out;
}

InflateResult inflateMessage(std::string_view payload, std::size_t maxBytes, std::string &out)
{
    thread_local Inflater inflater;
    out.clear();
    if (!inflater.ok || inflateReset(&inflater.stream) != Z_OK)
        return InflateResult::Corrupt;
    z_stream &s = inflater.stream;
    // The payload, then the tail the sender removed. Output grows in steps and never past
    // maxBytes + 1 (one byte more tells "too big" from "exactly the limit").
    const std::string_view inputs[2] = {payload, kTail};
    std::size_t produced = 0;
    for (const std::string_view input : inputs) {
        s.next_in = reinterpret_cast<Bytef *>(const_cast<char *>(input.data()));
        s.avail_in = static_cast<uInt>(input.size());
        while (s.avail_in > 0) {
            if (produced == out.size()) {
                const std::size_t room = maxBytes + 1 - produced;
                if (room == 0)
                    return InflateResult::TooBig;
                out.resize(produced + std::min<std::size_t>(room, std::max<std::size_t>(16 * 1024, produced)));
            }
            s.next_out = reinterpret_cast<Bytef *>(out.data() + produced);
            s.avail_out = static_cast<uInt>(out.size() - produced);
            const uInt before = s.avail_out;
            const int rc = inflate(&s, Z_SYNC_FLUSH);
            produced += before - s.avail_out;
            if (produced > maxBytes)
                return InflateResult::TooBig;
            if (rc == Z_STREAM_END) {
                // A final block: allowed (RFC 7692 7.2.3.1); nothing may follow it but the tail.
                if (s.avail_in != 0 && input.data() != kTail.data())
                    return InflateResult::Corrupt;
                break;
            }
            if (rc == Z_BUF_ERROR && s.avail_out != 0)
                return InflateResult::Corrupt; // no progress possible
            if (rc != Z_OK && rc != Z_BUF_ERROR)
                return InflateResult::Corrupt;
        }
    }
    out.resize(produced);
    return InflateResult::Ok;
}

} // namespace switchboard::websocket
