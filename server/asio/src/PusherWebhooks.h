#pragma once
// PusherWebhooks: webhooks in Pusher's format for the Pusher apps that have URLs
// (--pusher-webhook ID=URL; docs/pusher.md "Webhooks"): channel_occupied, channel_vacated,
// member_added, member_removed and client_event of that app's channels, under their Pusher
// names, in batches `{"time_ms":N,"events":[...]}` signed with the app's secret
// (X-Pusher-Key, X-Pusher-Signature: hex HMAC-SHA256(secret, body)). Delivery (queue, batches,
// retries, backoff) is WebhookSender's, configured by the same --webhook-* flags as the native
// webhooks.

#include "WebhookSender.h"

#include <switchboard/asio/GatewayConfig.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

namespace switchboard {
struct PresenceEvent;
struct PusherClientEvent;
} // namespace switchboard

namespace switchboard::asio {

/// Thread safety: the event methods enqueue only (any thread, never block on I/O); construction
/// and stop() from one thread.
class PusherWebhooks {
public:
    /// One WebhookSender per app with URLs. Throws as WebhookSender does for an unusable URL.
    PusherWebhooks(const GatewayConfig &config, Metrics &metrics);
    ~PusherWebhooks();

    bool empty() const { return m_senders.empty(); }
    /// The channel (native name) is a Pusher channel of an app with webhooks.
    bool reports(std::string_view nativeChannel);

    /// The Hub's hooks, with native channel names: channels outside a Pusher namespace, deeper
    /// than a Pusher name or of an app without webhooks are ignored.
    void channelOccupied(std::string_view nativeChannel);
    void channelVacated(std::string_view nativeChannel);
    void presence(const PresenceEvent &event);
    /// PusherProtocol's client event hook.
    void clientEvent(const PusherClientEvent &event);

    /// Sends what is queued for at most `deadline`, then stops (WebhookSender::stop).
    void stop(std::chrono::milliseconds deadline);

private:
    /// The app's sender and the channel's Pusher name, when both exist.
    WebhookSender *senderFor(std::string_view nativeChannel, std::string &pusherName);
    void channelEvent(std::string_view name, std::string_view nativeChannel);

    std::map<std::string, std::unique_ptr<WebhookSender>, std::less<>> m_senders; ///< by app id
};

} // namespace switchboard::asio
