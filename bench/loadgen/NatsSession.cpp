// NATS over WebSocket. The server may pack several protocol messages into one frame and may
// split one across frames, so the session parses the byte stream, not frames:
//   subscriber: CONNECT + SUB <channel> 1 + PING; the PONG proves the SUB was processed (ready).
//   deliveries: MSG <subject> <sid> [reply] <size>\r\n<payload>\r\n
//   publisher:  PUB <channel> <size>\r\n<payload>\r\n, a batch of them in one frame.
// PING from the server is answered with PONG; -ERR is reported.

#include "Sessions.h"

#include <boost/json.hpp>

#include <charconv>

namespace switchboard::bench {

namespace {

class NatsSession final : public ProtocolSession
{
public:
    NatsSession(const SessionSettings &settings, WsConnection &connection, RunSink &sink, Role role)
        : ProtocolSession(connection, sink, role)
        , m_channel(settings.channel)
    {
    }

    void start() override
    {
        const boost::json::object options{{"verbose", false}, {"pedantic", false},
                                          {"name", "switchboard-loadgen"}, {"lang", "c++"},
                                          {"version", "1"}, {"protocol", 1}, {"echo", false}};
        std::string hello = "CONNECT " + boost::json::serialize(options) + "\r\n";
        if (m_role == Role::Subscriber)
            hello += "SUB " + m_channel + " 1\r\n";
        hello += "PING\r\n";
        m_connection.sendText(hello);
    }

    void appendPublish(std::string_view payload) override
    {
        m_batch.append("PUB ").append(m_channel).append(" ").append(std::to_string(payload.size()));
        m_batch.append("\r\n").append(payload).append("\r\n");
    }

    void endPublishBatch() override
    {
        if (m_batch.empty())
            return;
        m_connection.appendFrame(m_batch, true);
        m_batch.clear();
    }

    void onMessage(std::string_view data, bool, std::uint64_t receivedNs) override
    {
        if (m_stream.empty()) {
            const std::size_t used = parse(data, receivedNs);
            if (used < data.size())
                m_stream.assign(data.substr(used));
            return;
        }
        m_stream.append(data);
        const std::size_t used = parse(m_stream, receivedNs);
        m_stream.erase(0, used);
    }

private:
    // Handles every complete protocol message in `data`; returns the bytes consumed.
    std::size_t parse(std::string_view data, std::uint64_t receivedNs)
    {
        std::size_t pos = 0;
        while (pos < data.size()) {
            const std::size_t eol = data.find("\r\n", pos);
            if (eol == std::string_view::npos)
                break;
            const std::string_view line = data.substr(pos, eol - pos);
            if (line.starts_with("MSG ")) {
                const std::size_t space = line.rfind(' ');
                std::size_t size = 0;
                const auto digits = line.substr(space + 1);
                if (std::from_chars(digits.data(), digits.data() + digits.size(), size).ec != std::errc{}) {
                    m_sink.serverError("nats: malformed MSG line");
                    return data.size();
                }
                const std::size_t end = eol + 2 + size + 2;
                if (end > data.size())
                    break; // payload not complete yet
                deliver(data.substr(eol + 2, size), receivedNs);
                pos = end;
                continue;
            }
            if (line == "PING") {
                m_connection.sendText("PONG\r\n");
            } else if (line == "PONG") {
                becomeReady();
            } else if (line.starts_with("-ERR")) {
                m_sink.serverError("nats: " + std::string(line));
            }
            // INFO and +OK need no answer.
            pos = eol + 2;
        }
        return pos;
    }

    std::string m_channel;
    std::string m_stream; // protocol bytes not yet complete
    std::string m_batch;  // publisher: PUBs of the current batch
};

} // namespace

std::unique_ptr<ProtocolSession> makeNatsSession(const SessionSettings &settings, WsConnection &connection,
                                                 RunSink &sink, ProtocolSession::Role role)
{
    return std::make_unique<NatsSession>(settings, connection, sink, role);
}

} // namespace switchboard::bench
