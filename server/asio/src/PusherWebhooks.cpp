#include "PusherWebhooks.h"

#include <switchboard/Hub.h>
#include <switchboard/PusherNames.h>
#include <switchboard/PusherProtocol.h>

#include <boost/json.hpp>

#include <algorithm>

namespace json = boost::json;

namespace switchboard::asio {

PusherWebhooks::PusherWebhooks(const GatewayConfig &c, Metrics &metrics)
{
    for (const PusherApp &app : c.pusherApps) {
        WebhookOptions o;
        for (const auto &[id, url] : c.pusherWebhooks) {
            if (id == app.id)
                o.urls.push_back(url);
        }
        if (o.urls.empty())
            continue;
        o.secret = app.secret;
        o.pusherKey = app.key;
        o.queueLimit = c.webhookQueue;
        o.batchEvents = c.webhookBatch;
        o.flushInterval = c.webhookFlushInterval;
        o.timeout = c.webhookTimeout;
        o.retries = c.webhookRetries;
        o.backoffMax = c.webhookBackoffMax;
        o.tls = {c.backendCa, c.backendCert, c.backendKey};
        m_senders.emplace(app.id, std::make_unique<WebhookSender>(std::move(o), metrics));
    }
}

PusherWebhooks::~PusherWebhooks() = default;

WebhookSender *PusherWebhooks::senderFor(std::string_view nativeChannel, std::string &pusherName)
{
    const auto app = pusherAppOf(nativeChannel);
    if (!app)
        return nullptr;
    const auto it = m_senders.find(*app);
    if (it == m_senders.end())
        return nullptr;
    auto name = pusherChannelName(*app, nativeChannel);
    if (!name)
        return nullptr;
    pusherName = std::move(*name);
    return it->second.get();
}

bool PusherWebhooks::reports(std::string_view nativeChannel)
{
    std::string name;
    return senderFor(nativeChannel, name) != nullptr;
}

void PusherWebhooks::channelEvent(std::string_view name, std::string_view nativeChannel)
{
    std::string channel;
    if (WebhookSender *sender = senderFor(nativeChannel, channel))
        sender->enqueue(json::serialize(json::object{{"name", name}, {"channel", channel}}));
}

void PusherWebhooks::channelOccupied(std::string_view nativeChannel)
{
    channelEvent("channel_occupied", nativeChannel);
}

void PusherWebhooks::channelVacated(std::string_view nativeChannel)
{
    channelEvent("channel_vacated", nativeChannel);
}

void PusherWebhooks::presence(const PresenceEvent &e)
{
    std::string channel;
    if (WebhookSender *sender = senderFor(e.channel, channel)) {
        const bool added = e.kind == PresenceEvent::Kind::Joined;
        sender->enqueue(json::serialize(json::object{
            {"name", added ? "member_added" : "member_removed"}, {"channel", channel}, {"user_id", e.member.userId}}));
    }
}

void PusherWebhooks::clientEvent(const PusherClientEvent &e)
{
    const auto it = m_senders.find(e.appId);
    if (it == m_senders.end())
        return;
    json::object o{{"name", "client_event"}, {"channel", e.channel}, {"event", e.event},
                   {"data", e.data},         {"socket_id", e.socketId}};
    if (!e.userId.empty())
        o["user_id"] = e.userId;
    it->second->enqueue(json::serialize(o));
}

void PusherWebhooks::stop(std::chrono::milliseconds deadline)
{
    for (auto &[id, sender] : m_senders)
        sender->stop(deadline);
}

} // namespace switchboard::asio
