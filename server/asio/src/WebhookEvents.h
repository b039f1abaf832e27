#pragma once
// WebhookEvents: the Hub's lifecycle and presence hooks as webhook events (JSON objects, one
// per change, docs/gateway.md "Webhooks"), handed to a WebhookSender.

namespace switchboard {
class Hub;
}

namespace switchboard::asio {

class WebhookSender;

/// Installs the Hub's lifecycle hooks and presence hook; each event is encoded once and queued
/// on `sender` (never blocks). Call with the core lock held; `sender` must outlive the Hub or the
/// hooks (clear them with removeWebhookHooks()).
void installWebhookHooks(Hub &hub, WebhookSender &sender);
void removeWebhookHooks(Hub &hub);

} // namespace switchboard::asio
