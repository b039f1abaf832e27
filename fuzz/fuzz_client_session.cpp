// ClientSession fed server frames over a transport stub, in virtual time. The input is a script,
// one command per line (the first byte picks the command):
//   T<text> / B<bytes>   the server sends a text / binary frame (while the transport is open)
//   O                    a pending open succeeds             X<code>   the connection drops
//   A<ms>                virtual time advances (at most 60 s per line)
//   N connect()   Q close()   S<chan> subscribe   U<chan> unsubscribe   G ping()
//   P<chan> <json> publish with an ack        R<topic> <json> request
// The session connects first and the open succeeds. Invariants:
//   - the client sends only JSON objects with a string `op`, and only while the transport is open
//   - every ack, reply and ping callback runs exactly once by the time the session closed and
//     virtual time ran past every timeout; nothing is pending then
#include "FuzzSupport.h"

#include <switchboard/ClientSession.h>

#include <boost/json.hpp>

#include <charconv>
#include <memory>
#include <string>

using namespace switchboard;
namespace json = boost::json;

namespace {

/// Opens when told, checks what the client sends, reports a requested close afterwards (never
/// from inside close(), as the ClientTransport contract says).
class StubTransport final : public ClientTransport {
public:
    void setListener(ClientTransportListener *l) override { listener = l; }
    void open(const std::string &) override
    {
        FUZZ_CHECK(!opening && !isOpen);
        opening = true;
    }
    void sendText(std::string_view text) override
    {
        FUZZ_CHECK(isOpen);
        json::error_code ec;
        const json::value value = json::parse(text, ec);
        if (ec || !value.is_object() || !value.as_object().contains("op") || !value.as_object().at("op").is_string()) {
            std::fprintf(stderr, "client sent a frame that is not a JSON object with an op: %.*s\n",
                         int(text.size()), text.data());
            std::abort();
        }
    }
    void sendBinary(std::string_view) override
    {
        std::fprintf(stderr, "client sent a binary frame without the binary encoding\n");
        std::abort();
    }
    void close(std::uint16_t code, std::string_view) override
    {
        if (opening || isOpen)
            closeCode = code ? code : 1000;
    }

    /// Delivers what the contract says comes later: the close a client asked for.
    void settle()
    {
        if (closeCode && (opening || isOpen))
            drop(closeCode);
        closeCode = 0;
    }
    void accept()
    {
        if (!opening)
            return;
        opening = false;
        isOpen = true;
        listener->onTransportOpen();
    }
    void drop(std::uint16_t code)
    {
        if (!opening && !isOpen)
            return;
        opening = isOpen = false;
        listener->onTransportClosed(code, "dropped");
    }

    ClientTransportListener *listener = nullptr;
    bool opening = false;
    bool isOpen = false;
    std::uint16_t closeCode = 0;
};

std::pair<std::string_view, std::string_view> splitArg(std::string_view arg, std::string_view fallback)
{
    const auto space = arg.find(' ');
    if (space == std::string_view::npos)
        return {arg, fallback};
    return {arg.substr(0, space), arg.substr(space + 1)};
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
    StubTransport transport;
    QueueExecutor executor;
    ManualTimer timer;
    ClientOptions options;
    options.url = "ws://fuzz";
    options.ackTimeout = std::chrono::milliseconds(500);
    options.replyTimeout = std::chrono::milliseconds(500);
    options.connectTimeout = std::chrono::milliseconds(1000);
    options.pongTimeout = std::chrono::milliseconds(500);
    std::size_t started = 0, finished = 0;
    {
        ClientSession session(transport, executor, timer, options);
        ListenerHandle all = session.on("**", [](const ClientEvent &) {});
        ListenerHandle errors = session.on("error", [](const ClientEvent &) {});
        auto settle = [&] {
            for (int i = 0; i < 8 && (executor.pendingCount() || transport.closeCode); ++i) {
                executor.runPending();
                transport.settle();
            }
        };
        session.connect();
        settle();
        transport.accept();
        settle();

        for (const std::string_view line : fuzzsupport::lines(fuzzsupport::text(data, size))) {
            if (line.empty())
                continue;
            const std::string_view arg = line.substr(1);
            switch (line[0]) {
            case 'T':
            case 'B':
                if (transport.isOpen)
                    transport.listener->onTransportMessage(arg, line[0] == 'B');
                break;
            case 'O':
                transport.accept();
                break;
            case 'X':
                transport.drop(static_cast<std::uint16_t>(fuzzsupport::number<unsigned>(arg, 1006)));
                break;
            case 'A':
                timer.advance(std::chrono::milliseconds(std::min(fuzzsupport::number<unsigned>(arg), 60'000u)));
                break;
            case 'N': session.connect(); break;
            case 'Q': session.close(); break;
            case 'S': session.subscribe(std::string(arg)); break;
            case 'U': session.unsubscribe(std::string(arg)); break;
            case 'G':
                ++started;
                session.ping([&finished](std::error_code, std::chrono::microseconds) { ++finished; });
                break;
            case 'P': {
                const auto [channel, payload] = splitArg(arg, "null");
                ++started;
                session.publish(channel, "fuzz", payload, [&finished](std::error_code, AckInfo) { ++finished; });
                break;
            }
            case 'R': {
                const auto [topic, payload] = splitArg(arg, "null");
                ++started;
                session.request(topic, payload, [&finished](std::error_code, const json::value &) { ++finished; });
                break;
            }
            default:
                break;
            }
            settle();
        }
        // Close for good, then let every timeout pass: every operation has its answer.
        session.close();
        settle();
        timer.advance(std::chrono::minutes(1));
        settle();
        FUZZ_CHECK(session.pendingOperations() == 0);
        FUZZ_CHECK(finished == started);
    }
    executor.runPending(); // tasks posted by the destructor must not touch the session
    FUZZ_CHECK(finished == started);
    return 0;
}
