// JSON against the binary encoding (switchboard.v1.binary) for `message` deliveries: bytes on the
// wire, the server's cost to translate a publication (once, whatever the number of recipients),
// and the client's cost per message, raw (bytes -> the JSON value the session reads) and whole
// (a ClientSession receiving the frame and calling a listener). CPU time of this thread, median
// of the runs with their spread.
//
// Usage: bench_wire_encoding [messages per run] [runs]   (default 200 000, 5)

#include "switchboard/BinaryEncoding.h"
#include "switchboard/ClientSession.h"
#include "switchboard/Executor.h"
#include "switchboard/JsonParse.h"
#include "switchboard/MessageEncoding.h"
#include "switchboard/Timer.h"

#include <boost/json/monotonic_resource.hpp>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <functional>
#include <string>
#include <vector>

namespace {

using namespace switchboard;
namespace json = boost::json;

double threadCpuSeconds()
{
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9;
}

struct Spread {
    double median = 0, min = 0, max = 0;
};

/// Nanoseconds per call of `body` (called `count` times per run), over `runs` runs.
Spread measure(int runs, int count, const std::function<void()> &body)
{
    std::vector<double> ns;
    for (int r = 0; r < runs; ++r) {
        const double start = threadCpuSeconds();
        for (int i = 0; i < count; ++i)
            body();
        ns.push_back((threadCpuSeconds() - start) * 1e9 / count);
    }
    std::sort(ns.begin(), ns.end());
    return {ns[ns.size() / 2], ns.front(), ns.back()};
}

/// A transport the bench drives by hand: open at once, every incoming frame fed by the bench.
class FeedTransport final : public ClientTransport {
public:
    explicit FeedTransport(bool binary) : m_binary(binary) {}
    void setListener(ClientTransportListener *l) override { listener = l; }
    void open(const std::string &) override { opened = true; }
    void setSubprotocol(std::string_view) override {}
    std::string negotiatedSubprotocol() const override { return m_binary ? std::string(kBinarySubprotocol) : std::string(); }
    void sendText(std::string_view) override {}
    void sendBinary(std::string_view) override {}
    void close(std::uint16_t, std::string_view) override {}

    ClientTransportListener *listener = nullptr;
    bool opened = false;

private:
    bool m_binary;
};

struct Case {
    const char *name;
    std::string data;
    std::string sender;
};

void printRow(const char *what, const char *encoding, const Spread &s)
{
    std::printf("  %-34s %-6s %8.1f ns  (%.1f-%.1f)\n", what, encoding, s.median, s.min, s.max);
}

} // namespace

int main(int argc, char **argv)
{
    const int count = argc > 1 ? std::atoi(argv[1]) : 200'000;
    const int runs = argc > 2 ? std::atoi(argv[2]) : 5;
    const std::string session = "0123456789abcdef0123456789abcdef";
    std::string kib = R"({"readings":[)";
    for (int i = 0; kib.size() < 1000; ++i)
        kib += (i ? "," : "") + std::string(R"({"id":"sensor-)") + std::to_string(i) + R"(","t":21.5,"ok":true})";
    kib += "]}";
    const std::vector<Case> cases = {
        {"64-char string, server publish", "\"" + std::string(64, 'x') + "\"", ""},
        {"64-char string, client publish", "\"" + std::string(64, 'x') + "\"", session},
        {"64 B object, server publish", R"({"id":"sensor-17","t":21.5,"ok":true,"seq":123456,"unit":"C"})", ""},
        {"1 KiB object, server publish", kib, ""},
    };
    std::printf("bench_wire_encoding: %d messages per run, %d runs; CPU ns per message, median (min-max)\n", count, runs);
    for (const Case &c : cases) {
        Publication p;
        p.channel = "bench";
        p.event = "bench";
        p.data = c.data;
        p.offset = 1234567;
        p.timestampMs = 1764979200123;
        p.sender = c.sender;
        const SharedFrame jsonFrame = encodeMessageFrame(p);
        const std::string binary = *translateToBinary(jsonFrame->bytes);
        const auto wire = [](std::size_t payload) { return payload + (payload < 126 ? 2 : payload < 65536 ? 4 : 10); };
        std::printf("\n%s (payload %zu B): on the wire JSON %zu B, binary %zu B\n", c.name, c.data.size(),
                    wire(jsonFrame->bytes.size()), wire(binary.size()));

        // Server: once per publication, shared by every binary recipient.
        printRow("server: translate to binary", "", measure(runs, count / 4, [&] {
                     std::optional<std::string> out = translateToBinary(jsonFrame->bytes);
                     if (!out || out->size() != binary.size())
                         std::abort();
                 }));

        // Client, raw: the bytes to the JSON value the session reads (IncomingFrames), in a
        // per-message arena as the server reads client frames.
        const auto decodeCost = [&](auto decode) {
            return measure(runs, count, [&] {
                unsigned char buffer[4096];
                json::monotonic_resource arena(buffer, sizeof buffer);
                const json::storage_ptr storage(&arena);
                json::value root(storage);
                if (decode(root))
                    std::abort();
            });
        };
        printRow("client: decode", "json", decodeCost([&](json::value &root) {
                     return parseJson(jsonFrame->bytes, root, JsonParseOptions{128}).has_value();
                 }));
        printRow("client: decode", "binary", decodeCost([&](json::value &root) {
                     return decodeBinaryProtocolFrame(binary, root, 128).has_value();
                 }));

        // Client, whole: a subscribed ClientSession receives the frame and calls a listener.
        for (const bool useBinary : {false, true}) {
            FeedTransport transport(useBinary);
            QueueExecutor executor; // nothing is posted on this path: frames are fed directly
            ManualTimer timer;
            ClientOptions options;
            options.url = "ws://bench/ws";
            options.encoding = useBinary ? WireEncoding::Binary : WireEncoding::Json;
            ClientSession client(transport, executor, timer, options);
            std::size_t seen = 0;
            auto listener = client.on("bench.*", [&](const ClientEvent &) { ++seen; });
            client.subscribe("bench");
            client.connect();
            executor.runPending();
            transport.listener->onTransportOpen();
            const auto feed = [&](std::string_view jsonText) {
                if (useBinary) {
                    const std::string b = *translateToBinary(jsonText);
                    transport.listener->onTransportMessage(b, true);
                } else {
                    transport.listener->onTransportMessage(jsonText, false);
                }
            };
            feed(R"({"op":"welcome","session":"s","version":1,"ping":0,"user":""})");
            feed(R"({"op":"subscribed","channel":"bench","type":"public","epoch":"e","offset":0,"publications":[]})");
            const std::string &frame = useBinary ? binary : jsonFrame->bytes;
            const Spread s = measure(runs, count, [&] { transport.listener->onTransportMessage(frame, useBinary); });
            if (seen != std::size_t(count) * runs || client.wireEncoding() != options.encoding) {
                std::fprintf(stderr, "the session did not deliver every message (%zu)\n", seen);
                return 1;
            }
            printRow("client: ClientSession + listener", useBinary ? "binary" : "json", s);
        }
    }
    return 0;
}
