// ServerProtocol frame sequences over a real Hub, MemoryBroker and MemoryPresenceStore in virtual
// time. The input is a script, one command per line (the first byte picks the command):
//   T<text>  the current connection sends a text frame     B<bytes>  ... a binary frame
//   X<hex>   ... a binary frame given in hex (the binary encoding's bytes may hold a newline)
//   O        a new connection opens and becomes current      S<n>      connection n%count is current
//   Q        the same, for a connection that negotiated the binary encoding (switchboard.v1.binary)
//   C        the transport reports the current connection closed
//   A<ms>    virtual time advances (at most 60 s per line)   P<chan> <json>  a server broadcast
// Connection 0 opens before the first line. Invariants, after every command:
//   - every text frame a session is sent is a JSON object with a string `op`, and so is every
//     frame of the binary encoding (once decoded)
//   - nothing is sent to a connection after the transport reported it closed
//   - close() is called at most once per connection, with a code in the documented ranges
// and at the end, once every connection is closed: the Hub holds no session.
#include "CheckedTransport.h"

#include <switchboard/BinaryEncoding.h>
#include <switchboard/Hub.h>
#include <switchboard/JsonParse.h>
#include <switchboard/MemoryBroker.h>
#include <switchboard/MemoryPresenceStore.h>
#include <switchboard/ServerProtocol.h>

#include <boost/json.hpp>

#include <charconv>
#include <memory>
#include <string>
#include <vector>

using namespace switchboard;
namespace json = boost::json;

namespace {

constexpr std::size_t kMaxConnections = 4;

/// Every frame must be a JSON object with a string `op` (decoded first when binary-encoded).
class CheckingSession final : public fuzzsupport::CheckedTransport {
protected:
    void check(const Frame &frame) override
    {
        if (frame.kind == Frame::Kind::Text) {
            json::error_code ec;
            const json::value value = json::parse(frame.bytes, ec);
            if (ec || !value.is_object() || !value.as_object().contains("op")
                || !value.as_object().at("op").is_string()) {
                std::fprintf(stderr, "frame that is not a JSON object with an op: %s\n", frame.bytes.c_str());
                std::abort();
            }
        } else if (isBinaryProtocolFrame(frame.bytes)) {
            json::value value;
            FUZZ_CHECK(!decodeBinaryProtocolFrame(frame.bytes, value, 128));
            FUZZ_CHECK(value.is_object() && value.as_object().contains("op") && value.as_object().at("op").is_string());
        }
    }
};

using Connection = fuzzsupport::ScriptedConnection<CheckingSession>;

MemoryBrokerOptions brokerOptions()
{
    MemoryBrokerOptions options;
    options.history.rules = {HistoryRule{"", 8, std::chrono::seconds(30)}, HistoryRule{"volatile", 0, {}}};
    options.history.maxStreams = 16;
    return options;
}

ServerProtocolOptions protocolOptions()
{
    ServerProtocolOptions options;
    options.limits.maxFrameBytes = 4096;
    options.limits.maxNestingDepth = 8;
    options.clientPublish = ClientPublishPolicy::SubscribedOnly;
    return options;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
    ManualTimer timer;
    MemoryBroker broker(timer, brokerOptions());
    MemoryPresenceStore presence;
    Hub hub(timer, fuzzsupport::smallHubOptions(), broker, presence);
    // Private and presence channels: allowed unless the channel name holds "deny".
    hub.setAuthorizer([](const AuthRequest &request) {
        AuthDecision decision;
        decision.allowed = request.channel.find("deny") == std::string_view::npos;
        return decision;
    });
    ServerProtocol protocol(hub, timer, protocolOptions());
    // Tokens: "bad" is refused, "exp" expires in 1 s, anything else names the user.
    protocol.setConnectAuthenticator([&timer](std::string_view token) {
        ConnectDecision decision;
        if (token == "bad") {
            decision.accepted = false;
            decision.reason = "bad token";
            return decision;
        }
        decision.principal.userId = std::string(token);
        decision.principal.userInfo = token.empty() ? "" : R"({"name":"fuzz"})";
        decision.principal.channelPatterns = {"private-**", "presence-**"};
        if (token == "exp")
            decision.expiresAtMs = timer.wallClockMs() + 1000;
        return decision;
    });
    protocol.setRequestHandler("echo", [](const RequestContext &context, std::shared_ptr<Responder> responder) {
        responder->reply(std::string(context.payload));
    });
    protocol.setRequestHandler("fail", [](const RequestContext &, std::shared_ptr<Responder> responder) {
        responder->fail("failed", 418);
        responder->reply("null"); // ignored: a second answer
    });

    std::vector<Connection> connections;
    auto openConnection = [&](WireEncoding encoding) {
        Connection c;
        c.session = std::make_shared<CheckingSession>();
        ConnectionInfo info;
        info.encoding = encoding;
        c.handle = protocol.open(c.session, std::move(info));
        connections.push_back(c);
    };
    auto closeConnection = [&](Connection &c) {
        if (!c.session->transportClosed) {
            c.session->transportClosed = true;
            protocol.closed(c.handle);
        }
    };
    // A transport reports the end of a connection after close() returns, never inside it.
    auto reportCloses = [&] {
        for (auto &c : connections)
            if (c.session->closeCalls > 0)
                closeConnection(c);
    };

    openConnection(WireEncoding::Json);
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
                protocol.receive(c.handle, arg, line[0] == 'B');
            break;
        case 'X':
            if (!c.session->transportClosed) {
                std::string bytes;
                for (std::size_t i = 0; i + 1 < arg.size(); i += 2) {
                    unsigned byte = 0;
                    if (std::from_chars(arg.data() + i, arg.data() + i + 2, byte, 16).ptr != arg.data() + i + 2)
                        break;
                    bytes.push_back(static_cast<char>(byte));
                }
                protocol.receive(c.handle, bytes, true);
            }
            break;
        case 'O':
        case 'Q':
            if (connections.size() < kMaxConnections) {
                openConnection(line[0] == 'Q' ? WireEncoding::Binary : WireEncoding::Json);
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
        case 'P': {
            const auto space = arg.find(' ');
            const std::string_view channel = arg.substr(0, space);
            const std::string_view payload = space == std::string_view::npos ? "null" : arg.substr(space + 1);
            // broadcast() takes JSON text the server's own rules accept (Hub.h): give it only that.
            // (A 30-digit integer is JSON, but no client takes it: the decoders refuse it.)
            if (isAcceptedJson(payload))
                hub.broadcast(channel, "server", payload);
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
    for (const auto &channel : hub.channels())
        FUZZ_CHECK(channel.subscribers == 0);
    return 0;
}
