// The WebSocket receive side both gateways share (server/websocket FrameReader). The first byte
// picks how the rest, the client's byte stream, is cut into reads (its low 7 bits: 1 to 64 bytes
// each, or all at once) and whether permessage-deflate was negotiated (its high bit: RSV1
// messages are inflated, within the same limit). Invariants: the events reported do not depend on how the stream was cut (the stream is
// also fed whole to a second reader and compared); messages respect the limit; control payloads
// are at most 125 bytes; a peer's close code is NoStatus or one a peer may send; nothing is
// reported after the reader stopped; buffered bytes stay within the limit plus one frame header.
#include "FuzzSupport.h"

#include <switchboard/websocket/CloseCode.h>
#include <switchboard/websocket/FrameReader.h>

#include <string>
#include <vector>

using namespace switchboard::websocket;

namespace {

constexpr std::size_t kMaxMessage = 4096;
constexpr std::size_t kMaxHeader = 14;

/// Records every event as text, and checks each one as it comes.
class Recorder final : public FrameHandler {
public:
    explicit Recorder(const FrameReader &reader) : m_reader(reader) {}

    bool onMessage(std::string_view payload, bool binary) override
    {
        check();
        FUZZ_CHECK(payload.size() <= kMaxMessage);
        events.push_back(std::string(binary ? "binary " : "text ") + std::string(payload));
        return true;
    }
    bool onPing(std::string_view payload) override
    {
        check();
        FUZZ_CHECK(payload.size() <= 125);
        events.push_back("ping " + std::string(payload));
        return true;
    }
    bool onPong(std::string_view payload) override
    {
        check();
        FUZZ_CHECK(payload.size() <= 125);
        events.push_back("pong " + std::string(payload));
        return true;
    }
    void onClose(std::uint16_t code, std::string_view reason) override
    {
        FUZZ_CHECK(!ended); // the reader may mark itself stopped before it reports the end
        FUZZ_CHECK(code == static_cast<std::uint16_t>(CloseCode::NoStatus) || isValidReceivedCloseCode(code));
        FUZZ_CHECK(reason.size() <= 123);
        events.push_back("close " + std::to_string(code) + ' ' + std::string(reason));
        ended = true;
    }
    void onViolation(CloseCode code, std::string_view) override
    {
        FUZZ_CHECK(!ended);
        FUZZ_CHECK(code == CloseCode::ProtocolError || code == CloseCode::InvalidPayload
                   || code == CloseCode::MessageTooBig);
        events.push_back("violation " + std::to_string(static_cast<int>(code)));
        ended = true;
    }

    std::vector<std::string> events;
    bool ended = false;

private:
    void check() const { FUZZ_CHECK(!ended && !m_reader.stopped()); }
    const FrameReader &m_reader;
};

std::vector<std::string> run(std::string_view stream, std::size_t chunk, bool deflate)
{
    FrameReader reader(kMaxMessage);
    if (deflate)
        reader.enableDeflate();
    Recorder recorder(reader);
    std::string bytes(stream); // feed() unmasks in place
    for (std::size_t pos = 0; pos < bytes.size() && !reader.stopped(); pos += chunk) {
        const std::size_t n = std::min(chunk, bytes.size() - pos);
        reader.feed(reinterpret_cast<std::uint8_t *>(bytes.data() + pos), n, recorder);
        FUZZ_CHECK(reader.bufferedBytes() <= kMaxMessage + kMaxHeader + 125);
    }
    FUZZ_CHECK(reader.stopped() == recorder.ended);
    return recorder.events;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
    if (size == 0)
        return 0;
    const std::string_view stream = fuzzsupport::text(data + 1, size - 1);
    const bool deflate = (data[0] & 0x80) != 0;
    const std::size_t cut = (data[0] & 0x7F) % 65;
    const std::size_t chunk = cut == 0 ? stream.size() + 1 : cut;
    const auto whole = run(stream, stream.size() + 1, deflate);
    FUZZ_CHECK(run(stream, chunk, deflate) == whole);
    return 0;
}
