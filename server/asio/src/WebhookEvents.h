#pragma once
// WebhookEvents: the Hub's lifecycle and presence hooks as webhook events (JSON objects, one
// per change, docs/gateway.md "Webhooks"), handed to a WebhookSender.

namespace switchboard {
class Hub;
}

namespace switchboard::asio {

class PusherWebhooks;
class WebhookSender;

/// Installs the Hub's lifecycle hooks and presence hook; each event is encoded once and queued
/// on `sender` (never blocks), and the Pusher apps' channel and presence events on `pusher`
/// (PusherWebhooks.h). Either may be null. Call with the core lock held; both must outlive the
/// Hub or the hooks (clear them with removeWebhookHooks()).
void installWebhookHooks(Hub &hub, WebhookSender *sender, PusherWebhooks *pusher = nullptr);
void removeWebhookHooks(Hub &hub);

} // namespace switchboard::asio
