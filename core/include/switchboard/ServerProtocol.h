#pragma once
// ServerProtocol: frames in -> Hub operations -> frames out. Every transport (Qt, Asio, SSE,
// in-memory tests) only moves bytes through this class, so all gateways behave the same.

#include "switchboard/Authorizer.h"
#include "switchboard/Hub.h"
#include "switchboard/Session.h"
#include "switchboard/Timer.h"
#include "switchboard/WireEncoding.h"

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace switchboard {

struct ProtocolLimits {
    std::size_t maxFrameBytes = 64 * 1024;   ///< larger text frames: close 1009
    std::size_t maxNestingDepth = 32;        ///< deeper JSON: error 413
    double opsPerSecond = 100;               ///< token bucket rate per session
    double opsBurst = 200;                   ///< token bucket size (above 2^24: no limit, a float bucket)
    int rateViolationsBeforeClose = 20;      ///< error 429 each time, then close 3005 (flood); at most 65 535
    int malformedBeforeClose = 10;           ///< error 400 each time, then close 3500; at most 65 535
    std::chrono::milliseconds connectTimeout{10'000}; ///< no connect frame: close 3006
    std::chrono::milliseconds pingInterval{25'000};   ///< advertised in welcome
    /// A `connect` the (asynchronous) authenticator has not answered within this: close 3008
    /// (counted in connectAuthTimeouts). 0: no deadline.
    std::chrono::milliseconds connectAuthTimeout{10'000};
    /// A session whose token expires is sent `{"op":"expiring","in":<ms>}` this long before the
    /// expiry (at half its remaining lifetime when that is shorter), so that its client sends a
    /// fresh token (`refresh`) instead of being closed 3004. 0: no hint.
    std::chrono::milliseconds tokenRefreshHint{30'000};
    /// Frames that arrive while their `connect` is being authenticated are kept, then handled
    /// in order after `welcome` (dropped on refusal). Beyond these bounds each one is refused
    /// with error 429 (counted in earlyFramesRefused and rateLimited, close 3005 when it goes on).
    std::size_t maxFramesWhileAuthenticating = 16;
    std::size_t maxBytesWhileAuthenticating = 64 * 1024;
};

/// Which channels accept client publishes.
enum class ClientPublishPolicy {
    Never,             ///< clients may not publish (error 403)
    SubscribedOnly,    ///< only to channels the session is subscribed to (default)
    Always,            ///< to any valid channel
};

struct ServerProtocolOptions {
    ProtocolLimits limits;
    ClientPublishPolicy clientPublish = ClientPublishPolicy::SubscribedOnly;
};

/// Result of authenticating a `connect` frame's token.
struct ConnectDecision {
    bool accepted = true;
    Principal principal;
    std::string reason;                     ///< why it was refused (sent with close 3501)
    std::int64_t expiresAtMs = 0;           ///< 0: never. At expiry the session is closed 3004.
    /// Refused only because the token is past its expiry (its signature is good): close 3004,
    /// which tells the client to fetch a fresh token and reconnect, instead of 3501.
    bool expired = false;
    /// Refused because the connection could not be authenticated now (the authentication
    /// service is down, slow, busy or answered nonsense), not because its credentials are bad:
    /// close 3008 with `reason`, which tells the client to reconnect with backoff.
    bool unavailable = false;
};
using ConnectAuthenticator = std::function<ConnectDecision(std::string_view token)>;

/// What the transport knows about a connection before its `connect` (handed to open()); the
/// protocol keeps it until the connection is authenticated, then releases it.
struct ConnectionInfo {
    std::string transport;     ///< "websocket", ...
    std::string remoteAddress; ///< the peer's address as the transport sees it, may be empty
    /// Request headers the transport chose to pass on (lower-case names). Transports pass a
    /// fixed selection, never every header.
    std::vector<std::pair<std::string, std::string>> headers;
    /// The encoding the transport negotiated at the upgrade (BinaryEncoding.h): with Binary,
    /// every frame to the client goes in the binary encoding (translated once per shared frame)
    /// and the client may send binary protocol frames as well as JSON text.
    WireEncoding encoding = WireEncoding::Json;
};

/// One `connect` to authenticate. Valid only during the authenticator call: copy what the
/// answer needs.
struct ConnectRequest {
    std::string_view token;      ///< may be empty
    std::string_view clientName; ///< the connect frame's `name`, may be empty
    std::string_view data;       ///< JSON text of the connect frame's `data`; empty when absent
    std::string_view sessionId;  ///< the id the session gets if it is accepted (its id, for a refresh)
    /// What the transport knew before `connect`; empty for a refresh (it is not kept after
    /// `welcome`).
    const ConnectionInfo &connection;
    /// A `refresh` of a connected session, not a `connect`: an accepted decision must name the
    /// same user (Principal::userId), and only its expiry is applied; `data` is empty.
    bool refresh = false;
};

/// Delivers the decision of an AsyncConnectAuthenticator. Call it on the Hub's thread, now
/// (inside the authenticator) or later. Only the first call counts; calls after the connection
/// closed, after the deadline (ProtocolLimits::connectAuthTimeout) refused it, or after the
/// protocol was destroyed are ignored. Copies share that state. Holds no reference that keeps
/// the protocol or the session alive.
using ConnectAnswer = std::function<void(ConnectDecision)>;

/// Decides a `connect` and answers through `answer`, now or later; every other connection is
/// served meanwhile. Frames the client sends while it waits are kept (bounded, see
/// ProtocolLimits) and handled after `welcome`. If it throws before answering, the connection
/// is refused (close 3501, "authentication failed: ...").
using AsyncConnectAuthenticator = std::function<void(const ConnectRequest &, ConnectAnswer answer)>;

/// Answers a server-handler request. Call exactly once (later calls are ignored); safe to call
/// after the session has gone (the answer is discarded). Must be called on the Hub's thread.
/// For a fire-and-forget request (sent without `ackId`) the answer is discarded too.
class Responder {
public:
    virtual ~Responder() = default;
    virtual void reply(std::string jsonPayload) = 0;
    virtual void fail(std::string message, int status = 500, std::string trace = {}) = 0;
};

struct RequestContext {
    std::string_view sessionId;
    const Principal &principal;
    std::string_view topic;
    std::string_view payload; ///< JSON text
    /// False for a fire-and-forget request (sent without `ackId`): the client gets no ack and
    /// no reply, whatever the handler answers. The handler still runs.
    bool expectsReply = true;
    std::string_view clientName = {}; ///< the `name` of the connect frame, may be empty
};

/// A server handler ("strategy") for request frames on one topic.
using RequestHandler = std::function<void(const RequestContext &, std::shared_ptr<Responder>)>;

struct ProtocolCounters {
    std::uint64_t framesIn = 0;
    std::uint64_t bytesIn = 0;
    std::uint64_t protocolErrors = 0;  ///< error frames sent for bad input
    std::uint64_t rateLimited = 0;     ///< ops refused by the rate limit
    std::uint64_t floodDisconnects = 0;
    std::uint64_t authFailures = 0;    ///< bad connect tokens and refused joins
    std::uint64_t oversizeFrames = 0;
    std::uint64_t invalidUtf8 = 0;
    std::uint64_t requests = 0;
    std::uint64_t malformedDisconnects = 0; ///< closes 3500 after repeated malformed frames
    std::uint64_t connectTimeouts = 0;      ///< closes 3006
    std::uint64_t tokenExpirations = 0;     ///< closes 3004
    std::uint64_t tokenRefreshHints = 0;    ///< `expiring` frames sent before a token's expiry
    std::uint64_t tokenRefreshes = 0;       ///< `refresh` frames accepted: the session's expiry replaced
    std::uint64_t tokenRefreshFailures = 0; ///< `refresh` frames refused (error 400/401/403/503; the session keeps its expiry)
    std::uint64_t controlFramesIn = 0;      ///< WebSocket pings and pongs from clients
    std::uint64_t controlRateLimited = 0;   ///< of those, refused by the rate limit (also in rateLimited)
    std::uint64_t numbersOutOfRange = 0;    ///< frames refused for a number JSON cannot carry (400)
    std::uint64_t invalidFilters = 0;       ///< subscribes refused for an invalid `filter` (400)
    std::uint64_t shutdownRefusals = 0;     ///< connections and connects refused with 3000 because the Hub is closed (after closeAll)
    std::uint64_t connectAuthUnavailable = 0; ///< connects refused 3008 by the authenticator (unavailable)
    std::uint64_t connectAuthTimeouts = 0;    ///< connects refused 3008 because the authenticator did not answer in time
    std::uint64_t invalidIdempotencyKeys = 0; ///< publishes refused (400) for an invalid `idempotencyKey`
    std::uint64_t earlyFramesRefused = 0;     ///< frames refused (429) while their connect was being authenticated
};

/// Thread safety: same as Hub (one thread, or serialized by the host).
class ServerProtocol {
public:
    ServerProtocol(Hub &hub, Timer &timer, ServerProtocolOptions options = {});
    ~ServerProtocol();

    /// Installs a synchronous authenticator (it sees the token only). None: all accepted,
    /// anonymous. Same as setAsyncConnectAuthenticator() with one that answers at once.
    void setConnectAuthenticator(ConnectAuthenticator authenticator);
    /// Installs an authenticator that may answer later (see AsyncConnectAuthenticator); replaces
    /// either kind. A `connect` waiting for it is dropped when its connection closes (the answer
    /// is then ignored) and refused with close 3008 after ProtocolLimits::connectAuthTimeout.
    void setAsyncConnectAuthenticator(AsyncConnectAuthenticator authenticator);
    void setRequestHandler(std::string topic, RequestHandler handler);
    void removeRequestHandler(std::string_view topic);
    /// Handles requests on every topic that has no handler of its own (a proxy to an application
    /// backend, for example). An empty function removes it: such topics are answered 404 again.
    void setDefaultRequestHandler(RequestHandler handler);

    /// A transport accepted a WebSocket. Returns a connection handle for receive()/closed().
    /// The session is attached to the Hub once its `connect` frame is accepted.
    using ConnectionHandle = std::uint64_t;
    /// `info` is handed to the connect authenticator.
    ConnectionHandle open(std::shared_ptr<Session> session, ConnectionInfo info = {});
    /// One complete WebSocket message. Handles every frame and every violation (error frame or
    /// session->close()); never throws.
    void receive(ConnectionHandle connection, std::string_view bytes, bool binary);
    /// A WebSocket control frame (ping or pong) arrived. Control frames count against the
    /// connection's operation rate like messages do, before `connect` too. Over the rate, the
    /// frame is refused without an error frame (answering would feed a flood) and repeated
    /// violations close the connection with 3005 (Flood). Returns whether the transport should
    /// act on the frame (answer a ping).
    bool receiveControl(ConnectionHandle connection);
    /// The transport's connection ended (for any reason). Detaches from the Hub. `code` and
    /// `reason`: the close that ended it (the server's, or the peer's when the peer closed
    /// first; 1006 when there was no close frame), reported to the Hub's disconnected hook.
    /// A connection the protocol itself disconnected was already reported with its own code.
    void closed(ConnectionHandle connection, std::uint16_t code = 1006, std::string_view reason = {});
    /// Session id once connected, empty before.
    std::string sessionId(ConnectionHandle connection) const;

    /// Graceful shutdown: closes the Hub (Hub::close), then sends the `disconnect` frame and
    /// closes every connection. While the Hub stays closed, a connection opened (a transport
    /// still accepting) gets `disconnect` + close 3000 ("server shutting down", counted in
    /// shutdownRefusals) at once, inside open(), and a `connect` the same, never `welcome`;
    /// Hub::reopen() ends that.
    void closeAll(DisconnectCode code, std::string_view reason);

    const ProtocolCounters &counters() const;
    const ServerProtocolOptions &options() const;

private:
    struct Impl;
    std::unique_ptr<Impl> d;
};

} // namespace switchboard
