// Switchboard protocol v1 (docs/protocol.md).
//   connect {version 1, token} + subscribe {channel} in one write -> welcome, subscribed (ready),
// as ClientSession sends them; with --subscribe-after-welcome, subscribe once welcome arrives.
// The publisher connects and subscribes the same way (a gateway policy may allow publishing only
// to subscribed channels), then sends `publish` ops with skipSelf so it does not receive its own
// messages back; anything that does come back to it is not counted as a delivery.
// Delivered `message` frames are recognised by the payload stamp without parsing the JSON; every
// other frame is parsed with Boost.JSON. With --encoding binary the session offers the subprotocol
// switchboard.v1.binary and speaks the binary encoding (docs/protocol.md): a delivery is a
// binary message in the `message` layout (tag 0x10-0x1F), found the same way; other frames are
// decoded with core's decoder.

#include "Sessions.h"

#include <switchboard/BinaryEncoding.h>

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
        , m_binary(settings.binaryEncoding)
    {
        if (m_binary)
            m_connection.setSubprotocol(std::string(kBinarySubprotocol));
        // The publish frame is serialized once around a placeholder; each message only splices
        // its payload (plain ASCII, see Payload.h) between the two halves. In the binary
        // encoding the string's length (a varint) goes in front of the payload.
        const json::object publish{{"op", "publish"}, {"channel", m_channel}, {"event", "bench"}, {"data", "\x01"},
                                   {"skipSelf", true}};
        if (m_binary) {
            const std::string frame = encodeBinaryObject(publish);
            const std::size_t at = frame.find(std::string_view("\x06\x01\x01", 3)); // string of one byte, 0x01
            m_publishPrefix = frame.substr(0, at + 1);
            m_publishSuffix = frame.substr(at + 3);
        } else {
            const std::string frame = json::serialize(publish);
            const std::size_t at = frame.find("\\u0001");
            m_publishPrefix = frame.substr(0, at);
            m_publishSuffix = frame.substr(at + 6);
        }
    }

    void start() override
    {
        append(json::object{{"op", "connect"}, {"version", 1}, {"token", m_settings.token}, {"name", "switchboard-loadgen"}});
        if (!m_settings.subscribeAfterWelcome)
            append(subscribeFrame());
        m_connection.flush();
    }

    void appendPublish(std::string_view payload) override
    {
        m_frame.assign(m_publishPrefix);
        if (m_binary) {
            for (std::size_t n = payload.size(); ; n >>= 7) { // LEB128 length
                m_frame.push_back(static_cast<char>((n & 0x7F) | (n >= 0x80 ? 0x80 : 0)));
                if (n < 0x80)
                    break;
            }
        }
        m_frame.append(payload).append(m_publishSuffix);
        m_connection.appendFrame(m_frame, m_binary);
    }

    void onMessage(std::string_view data, bool binary, std::uint64_t receivedNs) override
    {
        const bool binaryFrame = binary && m_binary && isBinaryProtocolFrame(data);
        if ((binary && !binaryFrame) || (binaryFrame && (static_cast<unsigned char>(data[0]) & 0xF0) == 0x10)
            || (!binary && data.find(Payload::kMarker) != std::string_view::npos)) {
            deliver(data, receivedNs);
            return;
        }
        boost::system::error_code ec;
        json::value frame;
        if (binaryFrame) {
            if (decodeBinaryProtocolFrame(data, frame, 128))
                ec = make_error_code(json::error::syntax);
        } else {
            frame = json::parse(data, ec);
        }
        const json::object *object = ec ? nullptr : frame.if_object();
        const json::string *op = object && object->contains("op") ? object->at("op").if_string() : nullptr;
        if (!op) {
            m_sink.serverError("switchboard: unparseable frame");
            return;
        }
        if (*op == "welcome") {
            if (m_settings.subscribeAfterWelcome)
                send(subscribeFrame());
        } else if (*op == "subscribed") {
            becomeReady();
        } else if (*op == "ping") {
            send(json::object{{"op", "pong"}});
        } else if (*op == "error" || *op == "disconnect") {
            m_sink.serverError("switchboard: " + json::serialize(frame));
        }
    }

private:
    json::object subscribeFrame() const { return json::object{{"op", "subscribe"}, {"channel", m_channel}}; }

    void append(const json::object &frame)
    {
        if (m_binary)
            m_connection.appendFrame(encodeBinaryObject(frame), true);
        else
            m_connection.appendFrame(json::serialize(frame));
    }
    void send(const json::object &frame)
    {
        append(frame);
        m_connection.flush();
    }

    const SessionSettings &m_settings;
    std::string m_channel;
    std::string m_publishPrefix;
    std::string m_publishSuffix;
    std::string m_frame;
    bool m_binary;
};

} // namespace

std::unique_ptr<ProtocolSession> makeSwitchboardSession(const SessionSettings &settings, std::string channel,
                                                        WsConnection &connection, RunSink &sink,
                                                        ProtocolSession::Role role)
{
    return std::make_unique<SwitchboardSession>(settings, std::move(channel), connection, sink, role);
}

} // namespace switchboard::bench
