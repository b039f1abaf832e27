// PusherProtocol (the Pusher protocol 7 endpoint, what pusher-js and laravel-echo speak) over a
// real Hub in virtual time, driven by hostile clients. The input is a script, one command per line
// (the first byte picks the command):
//   T<text>  the current connection sends a text frame     B<bytes>  ... a binary frame
//   O        a new connection opens on app key "fuzz-key", protocol 7, and becomes current
//   K<key> <protocol>  the same with that key and protocol query ("-": no protocol parameter)
//   S<n>     connection n%count is current                  C         its transport reports it closed
//   A<ms>    virtual time advances (at most 60 s per line)  E         closeAll (a shutdown)
//   P<chan> <json>  a server broadcast on the Pusher channel <chan> of app 1
// Connection 0 opens before the first line. The app's HMAC is a stand-in that signs everything
// with the byte 0x01, so `"auth":"fuzz-key:01"` passes and the fuzzer reaches private and presence
// channels. Invariants, after every command:
//   - every frame a connection is sent is a text frame holding a JSON object (valid UTF-8) with a
//     string `event`, and a string `channel` when it has one
//   - nothing is sent to a connection after the transport reported it closed
//   - close() is called at most once per connection, with a code in the documented ranges
//   - the client event hook sees a channel and an event for every client event
// and at the end, once every connection is closed: the Hub holds no session.
#include "CheckedTransport.h"

#include <switchboard/ChannelName.h>
#include <switchboard/Hub.h>
#include <switchboard/JsonParse.h>
#include <switchboard/PusherNames.h>
#include <switchboard/PusherProtocol.h>

#include <boost/json.hpp>

#include <charconv>
#include <memory>
#include <optional>
#include <string>
#include <vector>

using namespace switchboard;
namespace json = boost::json;

namespace {

constexpr std::size_t kMaxConnections = 4;
const PusherApp kApp{"1", "fuzz-key", "fuzz-secret"};

/// Every frame must be text holding a JSON object (so valid UTF-8) with a string `event`, and a
/// string `channel` when it has one.
class CheckingSession final : public fuzzsupport::CheckedTransport {
protected:
    void check(const Frame &frame) override
    {
        FUZZ_CHECK(frame.kind == Frame::Kind::Text);
        json::error_code ec;
        const json::value value = json::parse(frame.bytes, ec);
        const json::object *object = ec ? nullptr : value.if_object();
        const json::value *event = object ? object->if_contains("event") : nullptr;
        const json::value *channel = object ? object->if_contains("channel") : nullptr;
        if (!event || !event->is_string() || (channel && !channel->is_string())) {
            std::fprintf(stderr, "frame that is not a Pusher event: %s\n", frame.bytes.c_str());
            std::abort();
        }
    }
};

using Connection = fuzzsupport::ScriptedConnection<CheckingSession>;

PusherOptions pusherOptions()
{
    PusherOptions options;
    options.activityTimeout = std::chrono::seconds(5);
    options.pongTimeout = std::chrono::milliseconds(2000);
    options.maxNestingDepth = 8;
    options.violationsBeforeClose = 5;
    return options;
}

/// Stands in for HMAC-SHA256: one byte, so a valid `auth` is "fuzz-key:01" whatever was signed.
std::string fixedHmac(std::string_view, std::string_view)
{
    return std::string(1, '\x01');
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
    ManualTimer timer;
    Hub hub(timer, fuzzsupport::smallHubOptions());
    PusherProtocol pusher(hub, timer, {kApp}, fixedHmac, pusherOptions());
    pusher.setClientEventHook([](const PusherClientEvent &event) {
        FUZZ_CHECK(!event.channel.empty());
        FUZZ_CHECK(!event.event.empty());
    });

    std::vector<Connection> connections;
    auto openConnection = [&](std::string_view key, std::optional<std::string_view> protocol) {
        Connection c;
        c.session = std::make_shared<CheckingSession>();
        c.handle = pusher.open(c.session, key, protocol);
        connections.push_back(c);
    };
    auto closeConnection = [&](Connection &c) {
        if (!c.session->transportClosed) {
            c.session->transportClosed = true;
            pusher.closed(c.handle, c.session->closeCalls ? 1000 : 1006);
        }
    };
    // A transport reports the end of a connection after close() returns, never inside it.
    auto reportCloses = [&] {
        for (auto &c : connections)
            if (c.session->closeCalls > 0)
                closeConnection(c);
    };

    openConnection(kApp.key, std::string_view("7"));
    std::size_t current = 0;
    for (const std::string_view line : fuzzsupport::lines(fuzzsupport::text(data, size))) {
        if (line.empty())
            continue;
        const std::string_view arg = line.substr(1);
        Connection &c = connections[current];
        switch (line[0]) {
        case 'T':
        case 'B':
            if (!c.session->transportClosed)
                pusher.receive(c.handle, arg, line[0] == 'B');
            break;
        case 'O':
        case 'K':
            if (connections.size() < kMaxConnections) {
                if (line[0] == 'O') {
                    openConnection(kApp.key, std::string_view("7"));
                } else {
                    const auto space = arg.find(' ');
                    const std::string_view key = arg.substr(0, space);
                    const std::string_view protocol = space == std::string_view::npos ? "-" : arg.substr(space + 1);
                    openConnection(key, protocol == "-" ? std::nullopt : std::optional<std::string_view>(protocol));
                }
                current = connections.size() - 1;
            }
            break;
        case 'S':
            current = fuzzsupport::number<std::size_t>(arg) % connections.size();
            break;
        case 'C':
            closeConnection(c);
            break;
        case 'A':
            timer.advance(std::chrono::milliseconds(std::min(fuzzsupport::number<unsigned>(arg), 60'000u)));
            break;
        case 'E':
            pusher.closeAll("shutting down");
            break;
        case 'P': {
            const auto space = arg.find(' ');
            const std::string_view channel = arg.substr(0, space);
            const std::string_view payload = space == std::string_view::npos ? "null" : arg.substr(space + 1);
            // broadcast() takes a valid channel and JSON text the server's own rules accept (Hub.h).
            const std::string native = nativeChannelName(kApp.id, channel);
            if (isAcceptedJson(payload) && !validateChannelName(native))
                hub.broadcast(native, "server-event", payload);
            break;
        }
        default:
            break;
        }
        reportCloses();
    }
    for (auto &c : connections)
        closeConnection(c);
    FUZZ_CHECK(hub.counters().sessions == 0);
    FUZZ_CHECK(pusher.connectionCount() == 0);
    for (const auto &channel : hub.channels())
        FUZZ_CHECK(channel.subscribers == 0);
    return 0;
}
