// In-process fan-out of one channel to native sessions and to Pusher protocol sessions
// (PusherProtocol), same publications: what the Pusher translation costs the core. Sessions
// only count what they are given (no outbox, no socket), so the figures are the core's work:
// the Hub's fan-out plus, for Pusher, one translation per publication (Frame::pusher) and the
// adapter's indirection per delivery.
//
// Usage: bench_pusher_fanout [subscribers] [publications]   (default 1000, 2000)

#include "switchboard/Hub.h"
#include "switchboard/PusherProtocol.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

using namespace switchboard;

namespace {

class CountingSession final : public Session {
public:
    SendOutcome send(const SharedFrame &frame) override
    {
        ++frames;
        bytes += frame->bytes.size();
        return SendResult::Ok;
    }
    void close(DisconnectCode, std::string_view) override {}
    std::size_t frames = 0;
    std::size_t bytes = 0;
};

/// About 1 KiB of JSON, a price board.
std::string board()
{
    std::string data = "{\"rows\":[";
    for (int r = 0; r < 20; ++r)
        data += std::string(r ? "," : "") + "{\"symbol\":\"S" + std::to_string(r) + "\",\"bid\":101.25,\"ask\":101.5}";
    return data + "]}";
}

void run(bool pusherSide, int subscribers, int publications)
{
    ManualTimer timer;
    Hub hub(timer);
    // The HMAC is never called: the channel is public.
    PusherProtocol pusher(hub, timer, {PusherApp{"1", "key", "secret"}},
                          [](std::string_view, std::string_view) { return std::string(32, '\0'); });
    std::vector<std::shared_ptr<CountingSession>> sessions;
    for (int i = 0; i < subscribers; ++i) {
        auto session = std::make_shared<CountingSession>();
        sessions.push_back(session);
        if (pusherSide) {
            const auto handle = pusher.open(session, "key", std::string_view("7"));
            pusher.receive(handle, R"({"event":"pusher:subscribe","data":{"channel":"prices"}})", false);
        } else {
            hub.join(hub.attach(session), "pusher/1/prices", {}, [](JoinResult) {});
        }
    }
    const std::string data = board();
    const auto start = std::chrono::steady_clock::now();
    for (int p = 0; p < publications; ++p)
        hub.broadcast("pusher/1/prices", "tick", data);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::size_t frames = 0;
    std::size_t bytes = 0;
    for (const auto &session : sessions) {
        frames += session->frames;
        bytes += session->bytes;
    }
    std::printf("%-6s %6d subscribers x %6d publications (%zu B data): %8.2f us per publication, %7.2f M deliveries/s, %5.0f B per delivery\n",
                pusherSide ? "pusher" : "native", subscribers, publications, data.size(), seconds * 1e6 / publications,
                double(frames) / seconds / 1e6, frames ? double(bytes) / double(frames) : 0.0);
}

} // namespace

int main(int argc, char **argv)
{
    const int subscribers = argc > 1 ? std::atoi(argv[1]) : 1000;
    const int publications = argc > 2 ? std::atoi(argv[2]) : 2000;
    for (bool pusherSide : {false, true})
        run(pusherSide, subscribers, publications);
    return 0;
}
