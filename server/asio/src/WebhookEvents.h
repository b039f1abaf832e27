#pragma once
// WebhookEvents: the Hub's lifecycle and presence hooks as webhook events (JSON objects, one
// per change, docs/gateway.md "Webhooks"), handed to a WebhookSender.

#include <functional>
#include <string_view>

namespace switchboard {
class Hub;
}

namespace switchboard::asio {

class PusherWebhooks;
class WebhookSender;

/// Tells whether a node's 0 -> 1 (`occupied`) or 1 -> 0 change of a channel's subscribers is the
/// deployment's too (CoreHost::channelOccupancy); `done` may run later, with the core lock held.
using ChannelOccupancy = std::function<void(std::string_view channel, bool occupied, std::function<void(bool crossed)> done)>;

/// Installs the Hub's lifecycle hooks and presence hook; each event is encoded once and queued
/// on `sender` (never blocks), and the Pusher apps' channel and presence events on `pusher`
/// (PusherWebhooks.h). Either may be null. The Pusher apps' channel_occupied / channel_vacated
/// go out only when `occupancy` says the deployment's count crossed zero (once per cluster with
/// Redis); without it, per node. The native events are per node. Call with the core lock held;
/// `sender` and `pusher` must outlive the Hub and the engine behind `occupancy`.
void installWebhookHooks(Hub &hub, WebhookSender *sender, PusherWebhooks *pusher = nullptr,
                         ChannelOccupancy occupancy = {});
void removeWebhookHooks(Hub &hub);

} // namespace switchboard::asio
