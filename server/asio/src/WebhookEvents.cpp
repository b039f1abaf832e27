#include "WebhookEvents.h"

#include "PusherWebhooks.h"
#include "WebhookSender.h"

#include <switchboard/Hub.h>
#include <switchboard/JsonParse.h>

#include <boost/json.hpp>

#include <chrono>

namespace switchboard::asio {

namespace json = boost::json;

namespace {

json::object event(std::string_view name)
{
    json::object o;
    o["name"] = name;
    o["time_ms"] = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch()).count();
    return o;
}

} // namespace

void installWebhookHooks(Hub &hub, WebhookSender *sender, PusherWebhooks *pusher, ChannelOccupancy occupancy)
{
    // A Pusher channel's change is reported when the deployment's count crossed zero with it.
    auto pusherChannel = [pusher, occupancy](std::string_view channel, bool occupied) {
        if (!pusher || !pusher->reports(channel))
            return;
        auto report = [pusher, occupied](std::string_view name) {
            if (occupied)
                pusher->channelOccupied(name);
            else
                pusher->channelVacated(name);
        };
        if (!occupancy)
            return report(channel);
        occupancy(channel, occupied, [report, name = std::string(channel)](bool crossed) {
            if (crossed)
                report(name);
        });
    };
    LifecycleHooks hooks;
    if (sender) {
        hooks.connected = [sender](const SessionConnected &e) {
            json::object o = event("client_connected");
            o["session"] = e.sessionId;
            o["user"] = e.userId;
            o["client"] = e.clientName;
            sender->enqueue(json::serialize(o));
        };
        hooks.disconnected = [sender](const SessionDisconnected &e) {
            json::object o = event("client_disconnected");
            o["session"] = e.sessionId;
            o["user"] = e.userId;
            o["code"] = e.code;
            o["reason"] = e.reason;
            sender->enqueue(json::serialize(o));
        };
    }
    hooks.channelOccupied = [sender, pusherChannel](std::string_view channel) {
        if (sender) {
            json::object o = event("channel_occupied");
            o["channel"] = channel;
            sender->enqueue(json::serialize(o));
        }
        pusherChannel(channel, true);
    };
    hooks.channelVacated = [sender, pusherChannel](std::string_view channel) {
        if (sender) {
            json::object o = event("channel_vacated");
            o["channel"] = channel;
            sender->enqueue(json::serialize(o));
        }
        pusherChannel(channel, false);
    };
    hub.setLifecycleHooks(std::move(hooks));
    hub.setPresenceHook([sender, pusher](const PresenceEvent &e) {
        if (pusher)
            pusher->presence(e);
        if (!sender)
            return;
        const bool added = e.kind == PresenceEvent::Kind::Joined;
        json::object o = event(added ? "member_added" : "member_removed");
        o["channel"] = e.channel;
        o["user"] = e.member.userId;
        if (added && !e.member.info.empty()) {
            json::value info; // the Hub keeps info as JSON text parseJson() accepts
            if (!parseJson(e.member.info, info, JsonParseOptions{128}))
                o["info"] = std::move(info);
        }
        sender->enqueue(json::serialize(o));
    });
}

void removeWebhookHooks(Hub &hub)
{
    hub.setLifecycleHooks({});
    hub.setPresenceHook({});
}

} // namespace switchboard::asio
