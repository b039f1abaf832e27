// Switchboard protocol v1 (docs/protocol.md).
//   connect {version 1, token} -> welcome -> subscribe {channel} -> subscribed (ready).
// The publisher connects and subscribes the same way (a gateway policy may allow publishing only
// to subscribed channels), then sends `publish` ops with skipSelf so it does not receive its own
// messages back; anything that does come back to it is not counted as a delivery.
// Delivered `message` frames are recognised by the payload stamp without parsing the JSON; every
// other frame is parsed with Boost.JSON.

#include "Sessions.h"

#include <boost/json.hpp>

namespace switchboard::bench {

namespace {

namespace json = boost::json;

class SwitchboardSession final : public ProtocolSession
{
public:
    SwitchboardSession(const SessionSettings &settings, std::string channel, WsConnection &connection,
                       RunSink &sink, Role role)
        : ProtocolSession(connection, sink, role)
        , m_settings(settings)
        , m_channel(std::move(channel))
    {
        // The publish frame is serialized once around a placeholder; each message only splices
        // its payload (plain ASCII, see Payload.h) between the two halves.
        const std::string frame = json::serialize(json::object{{"op", "publish"},
                                                               {"channel", m_channel},
                                                               {"event", "bench"},
                                                               {"data", "\x01"},
                                                               {"skipSelf", true}});
        const std::size_t at = frame.find("\\u0001");
        m_publishPrefix = frame.substr(0, at);
        m_publishSuffix = frame.substr(at + 6);
    }

    void start() override
    {
        m_connection.sendText(json::serialize(json::object{{"op", "connect"},
                                                           {"version", 1},
                                                           {"token", m_settings.token},
                                                           {"name", "switchboard-loadgen"}}));
    }

    void appendPublish(std::string_view payload) override
    {
        m_frame.assign(m_publishPrefix).append(payload).append(m_publishSuffix);
        m_connection.appendFrame(m_frame);
    }

    void onMessage(std::string_view data, bool binary, std::uint64_t receivedNs) override
    {
        if (binary || data.find(Payload::kMarker) != std::string_view::npos) {
            deliver(data, receivedNs);
            return;
        }
        boost::system::error_code ec;
        const json::value frame = json::parse(data, ec);
        const json::object *object = ec ? nullptr : frame.if_object();
        const json::string *op = object && object->contains("op") ? object->at("op").if_string() : nullptr;
        if (!op) {
            m_sink.serverError("switchboard: unparseable frame");
            return;
        }
        if (*op == "welcome") {
            m_connection.sendText(
                json::serialize(json::object{{"op", "subscribe"}, {"channel", m_channel}}));
        } else if (*op == "subscribed") {
            becomeReady();
        } else if (*op == "ping") {
            m_connection.sendText(R"({"op":"pong"})");
        } else if (*op == "error" || *op == "disconnect") {
            m_sink.serverError("switchboard: " + json::serialize(frame));
        }
    }

private:
    const SessionSettings &m_settings;
    std::string m_channel;
    std::string m_publishPrefix;
    std::string m_publishSuffix;
    std::string m_frame;
};

} // namespace

std::unique_ptr<ProtocolSession> makeSwitchboardSession(const SessionSettings &settings, std::string channel,
                                                        WsConnection &connection, RunSink &sink,
                                                        ProtocolSession::Role role)
{
    return std::make_unique<SwitchboardSession>(settings, std::move(channel), connection, sink, role);
}

} // namespace switchboard::bench
