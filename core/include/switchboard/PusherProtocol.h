#pragma once
// PusherProtocol: the Pusher Channels protocol 7 (pusher-js 8, laravel-echo 2) on the Hub.
// Frames in -> Hub operations -> Pusher frames out, like ServerProtocol for the native protocol;
// transports (switchboard-gateway's /app/{key} endpoint) only move bytes through it.
//
// Each connection is one Hub session whose id is its Pusher `socket_id` ("N.N"), anonymous at
// connect. Channels are the Hub's (PusherNames.h maps names, events and payloads), so native
// clients on the same channel see the same publications and presence. Private and presence
// subscriptions are decided by the app's signature (PusherSignature.h), installed as the
// session's own authorizer (Hub::setSessionAuthorizer); the Hub's authorizer is not asked.
// Publications reach Pusher sessions as Frame::pusher, built once per publication.

#include "switchboard/Hub.h"
#include "switchboard/PusherSignature.h"
#include "switchboard/Session.h"
#include "switchboard/Timer.h"

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace switchboard {

/// One Pusher application: its channels are a namespace of their own (PusherNames.h).
struct PusherApp {
    std::string id;     ///< app_id: a channel name segment (letters, digits, `_-=@,.;`)
    std::string key;    ///< public: in the client's URL `/app/{key}` and in every `auth`
    std::string secret; ///< signs subscriptions; never sent
};

/// Pusher close and error codes (pusher-js: 4000-4099 do not reconnect, 4100-4199 reconnect
/// with backoff, 4200-4299 reconnect at once).
namespace pusher_code {
inline constexpr int AppNotFound = 4001;
inline constexpr int UnsupportedProtocol = 4007;
inline constexpr int NoProtocol = 4008;
inline constexpr int Unauthorized = 4009;
inline constexpr int OverCapacity = 4100; ///< flood, slow consumer, shutdown: reconnect with backoff
inline constexpr int Reconnect = 4200;
inline constexpr int PongNotReceived = 4201;
inline constexpr int ClientEventRateLimit = 4301; ///< pusher:error only, the connection stays
} // namespace pusher_code

struct PusherOptions {
    /// Advertised in connection_established. A connection silent this long gets `pusher:ping`.
    std::chrono::seconds activityTimeout{120};
    /// No frame within this after our `pusher:ping`: pusher:error and close 4201.
    std::chrono::milliseconds pongTimeout{30'000};
    double clientEventsPerSecond = 10; ///< per connection; over it: pusher:error 4301, not delivered
    double clientEventBurst = 10;
    double opsPerSecond = 100;         ///< every frame, per connection; over it: pusher:error
    double opsBurst = 200;
    std::size_t maxNestingDepth = 32;  ///< deeper JSON: refused as malformed
    /// Refusals for rate or malformed frames tolerated before the connection is closed 4100.
    int violationsBeforeClose = 20;
};

struct PusherCounters {
    std::uint64_t connections = 0;          ///< accepted (connection_established sent)
    std::uint64_t unknownApps = 0;          ///< refused 4001
    std::uint64_t unsupportedProtocol = 0;  ///< refused 4007 / 4008
    std::uint64_t framesIn = 0;
    std::uint64_t errors = 0;               ///< pusher:error frames sent for bad input or refusals
    std::uint64_t malformed = 0;            ///< of those, frames that are not a Pusher event
    std::uint64_t subscriptionErrors = 0;   ///< pusher:subscription_error sent (bad signature, bad name...)
    std::uint64_t clientEvents = 0;         ///< client-* events published
    std::uint64_t clientEventsRefused = 0;  ///< client events refused (public channel, not subscribed)
    std::uint64_t clientEventsRateLimited = 0; ///< pusher:error 4301
    std::uint64_t rateLimited = 0;          ///< frames refused by the per-connection rate
    std::uint64_t floodDisconnects = 0;     ///< closes 4100 after violationsBeforeClose refusals
    std::uint64_t pingsSent = 0;
    std::uint64_t pongTimeouts = 0;         ///< closes 4201
};

/// A client event a Pusher connection published (what Pusher's `client_event` webhook reports).
/// The views are valid during the hook call only.
struct PusherClientEvent {
    std::string_view appId;
    std::string_view channel;  ///< Pusher name
    std::string_view event;
    std::string_view data;     ///< the `data` string as sent, or the JSON text of a non-string value
    std::string_view socketId; ///< the sender
    std::string_view userId;   ///< presence channels: the sender's user_id; empty otherwise
};
/// Called on the protocol's thread as the event is published; must not call into the protocol.
using PusherClientEventHook = std::function<void(const PusherClientEvent &)>;

/// Thread safety: as Hub (one thread, or serialized by the host). `hmac` may be called on that
/// thread during any call.
class PusherProtocol {
public:
    PusherProtocol(Hub &hub, Timer &timer, std::vector<PusherApp> apps, HmacSha256 hmac, PusherOptions options = {});
    ~PusherProtocol();
    PusherProtocol(const PusherProtocol &) = delete;
    PusherProtocol &operator=(const PusherProtocol &) = delete;

    using ConnectionHandle = std::uint64_t;
    /// A transport accepted a WebSocket on `/app/{appKey}` with query `protocol` (nullopt: the
    /// parameter was absent). Sends connection_established and attaches to the Hub; or sends
    /// pusher:error and closes (4001 unknown key, 4008 no protocol, 4007 not 7, 4100 Hub closed)
    /// and returns 0. `transport` receives Pusher frames only.
    ConnectionHandle open(std::shared_ptr<Session> transport, std::string_view appKey,
                          std::optional<std::string_view> protocol);
    /// One complete WebSocket message. Never throws.
    void receive(ConnectionHandle connection, std::string_view bytes, bool binary);
    /// The connection ended; detaches it from the Hub (presence leaves fire).
    void closed(ConnectionHandle connection, std::uint16_t code = 1006, std::string_view reason = {});
    /// Sends pusher:error 4100 and closes every connection (graceful shutdown).
    void closeAll(std::string_view reason);

    /// The `socket_id` (= Hub session id) of a connection; empty when unknown.
    std::string socketId(ConnectionHandle connection) const;
    const PusherApp *appByKey(std::string_view key) const;
    const PusherCounters &counters() const;
    const PusherOptions &options() const;
    std::size_t connectionCount() const;
    /// Replaces the client event hook (empty: none). Thread safety: as the rest of the class.
    void setClientEventHook(PusherClientEventHook hook);

private:
    struct Impl;
    std::shared_ptr<Impl> d;
};

/// The Pusher close code for a close the Hub or the protocol asks for with a native code.
std::uint16_t pusherCloseCode(std::uint16_t nativeCode) noexcept;

} // namespace switchboard
