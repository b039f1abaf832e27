// Pusher Channels protocol 7 (docs/pusher.md), as pusher-js speaks it.
//   subscriber: /app/KEY?protocol=7... -> pusher:connection_established -> pusher:subscribe
//               {channel} -> pusher_internal:subscription_succeeded (ready).
//   deliveries: {"event":"bench","channel":CHANNEL,"data":"sbts:..."}: the native payload is a JSON
//               string of plain ASCII (Payload.h), so the gateway sends it as the event's `data`
//               string unchanged and the stamp is found in the frame without parsing it.
//   publisher:  a native Switchboard session publishing on pusher/APP_ID/CHANNEL, the channel's
//               native name, exactly as in a `switchboard` run: the only difference between the
//               two runs is the protocol of the subscribers.
// pusher:ping is answered with pusher:pong; pusher:error and pusher:subscription_error are reported.

#include "Sessions.h"

#include <boost/json.hpp>

namespace switchboard::bench {

namespace {

namespace json = boost::json;

class PusherSubscriberSession final : public ProtocolSession
{
public:
    PusherSubscriberSession(const SessionSettings &settings, WsConnection &connection, RunSink &sink)
        : ProtocolSession(connection, sink, Role::Subscriber)
        , m_settings(settings)
    {
    }

    // The server speaks first (pusher:connection_established).
    void start() override {}

    void appendPublish(std::string_view) override {} // never a publisher (see makePusherSession)

    void onMessage(std::string_view data, bool binary, std::uint64_t receivedNs) override
    {
        if (binary || data.find(Payload::kMarker) != std::string_view::npos) {
            deliver(data, receivedNs);
            return;
        }
        boost::system::error_code ec;
        const json::value frame = json::parse(data, ec);
        const json::object *object = ec ? nullptr : frame.if_object();
        const json::value *eventValue = object ? object->if_contains("event") : nullptr;
        const json::string *event = eventValue ? eventValue->if_string() : nullptr;
        if (!event) {
            m_sink.serverError("pusher: unparseable frame");
            return;
        }
        if (*event == "pusher:connection_established") {
            m_connection.sendText(json::serialize(
                json::object{{"event", "pusher:subscribe"}, {"data", json::object{{"channel", m_settings.channel}}}}));
        } else if (*event == "pusher_internal:subscription_succeeded") {
            becomeReady();
        } else if (*event == "pusher:ping") {
            m_connection.sendText(R"({"event":"pusher:pong","data":{}})");
        } else if (*event == "pusher:error" || *event == "pusher:subscription_error") {
            m_sink.serverError("pusher: " + std::string(data));
        }
    }

private:
    const SessionSettings &m_settings;
};

} // namespace

std::unique_ptr<ProtocolSession> makePusherSession(const SessionSettings &settings, WsConnection &connection,
                                                   RunSink &sink, ProtocolSession::Role role)
{
    if (role == ProtocolSession::Role::Publisher)
        return makeSwitchboardSession(settings, "pusher/" + settings.pusherAppId + "/" + settings.channel, connection,
                                      sink, role);
    return std::make_unique<PusherSubscriberSession>(settings, connection, sink);
}

} // namespace switchboard::bench
