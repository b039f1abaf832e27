#pragma once
// AsioClient: the native C++ client without Qt. A ClientSession driven by Boost.Asio/Beast over
// ws:// or wss://, callable from any thread. See docs/client.md, "Native C++ client (Asio)".

#include <switchboard/ClientSession.h>
#include <switchboard/asio_client/AsioClientOptions.h>

#include <boost/asio/any_io_executor.hpp>
#include <boost/json/value.hpp>

#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace switchboard {

/// A subscriber's reply, owned (AsioClient::publishForReplyAsync).
struct ReceivedReply {
    std::uint64_t offset = 0;    ///< the publication's offset, 0 when the reply overtook the ack
    boost::json::value payload;
    std::string from;            ///< the replying session's id
};

/// A realtime client on Boost.Asio: the same reconnect, recovery, acks, replies and listeners as
/// the Qt and browser clients (it wraps ClientSession).
///
/// Threads. The session lives on a strand: of the client's own io_context and thread (the
/// default constructor), or of a user-supplied executor (any number of threads may run it).
/// Every public method may be called from any thread at any time: it copies its arguments and
/// posts the work to the strand, so calls made from one thread reach the session in call order.
/// state(), sessionId() and lastError() read a copy kept up to date by the strand.
///
/// Callbacks (listeners, acks, replies, pings, state changes, subscribe results, the token
/// provider) run on the strand, or through AsioClientOptions::callbackExecutor when set. They
/// may call any method of the client, but must not destroy it and should not block (the strand
/// drives the connection). A callback never runs after its ListenerHandle was reset, even when
/// reset from another thread: reset() waits for a run in progress on another thread to finish.
///
/// Lifetime. The destructor may run on any thread except inside the client's own callbacks (it
/// waits for the strand; with a user-supplied executor, that executor must still be running).
/// It drops the connection at once: call close() and wait for ClientState::Closed first for a
/// clean close handshake. Pending acks and replies are dropped without being called.
class AsioClient {
public:
    /// Starts its own io_context on one thread of its own.
    explicit AsioClient(AsioClientOptions options = {});
    /// Runs on a strand of `executor` (e.g. an io_context's get_executor()), no thread of its own.
    AsioClient(boost::asio::any_io_executor executor, AsioClientOptions options = {});
    ~AsioClient();
    AsioClient(const AsioClient &) = delete;
    AsioClient &operator=(const AsioClient &) = delete;

    /// Connects (ClientSession::connect): reconnects with backoff until close().
    void open();
    /// Closes for good (no reconnect); waiting acks and replies fail with Error::Cancelled.
    void close();
    /// Replaces the gateway URL(s) for the next connection attempt (ClientSession::setUrls).
    void setUrls(std::vector<std::string> urls);
    /// Called on the strand before every (re)connect; `deliver` may be called from any thread.
    void setTokenProvider(TokenProvider provider);

    ClientState state() const;
    std::string sessionId() const;         ///< empty until the first welcome
    /// The encoding of the connection (ClientOptions::encoding offers the binary one): Binary
    /// once the gateway agreed to it, as of the last state change.
    WireEncoding wireEncoding() const;
    std::error_code lastError() const;
    /// `fn` runs on every state change (after state() has changed).
    [[nodiscard]] ListenerHandle onStateChanged(std::function<void(ClientState)> fn);

    /// Subscribes now if connected, else when connected; resubscribes (and recovers) after every
    /// reconnect. `done` (optional) is called once: with no error when the gateway confirmed the
    /// first subscribe, or with its refusal; not at all if unsubscribed or destroyed before.
    void subscribe(std::string channel, SubscribeOptions options = {},
                   std::function<void(std::error_code)> done = {});
    void unsubscribe(std::string channel);

    /// ClientSession::publish: `ack` (optional) is called once with the offset or an error.
    void publish(std::string_view channel, std::string_view event, std::string_view jsonData,
                 std::function<void(std::error_code, AckInfo)> ack = {}, bool skipSelf = false);
    /// publish() with a future: the offset, or std::system_error with the ack's error. Do not
    /// wait on the future inside a callback running on the client's strand.
    std::future<AckInfo> publishAsync(std::string_view channel, std::string_view event, std::string_view jsonData,
                                      bool skipSelf = false);
    /// ClientSession::request: `reply` is called once with the reply or an error (an error reply
    /// carries its status as the code, e.g. 404 when no handler serves the topic).
    void request(std::string_view topic, std::string_view jsonPayload,
                 std::function<void(std::error_code, const boost::json::value &reply)> reply,
                 std::optional<std::chrono::milliseconds> timeout = {});
    /// request() with a future: the reply, or std::system_error with the error.
    std::future<boost::json::value> requestAsync(std::string_view topic, std::string_view jsonPayload,
                                                 std::optional<std::chrono::milliseconds> timeout = {});
    /// ClientSession::publishForReply: `reply` is called once with the first subscriber's reply
    /// (valid during the call) or an error (Timeout, the server's refusal, NotConnected, Cancelled).
    void publishForReply(std::string_view channel, std::string_view event, std::string_view jsonData,
                         std::function<void(std::error_code, const PublishReply &)> reply, PublishOptions options = {});
    /// publishForReply() with a future: the reply, or std::system_error with the error.
    std::future<ReceivedReply> publishForReplyAsync(std::string_view channel, std::string_view event,
                                                    std::string_view jsonData, PublishOptions options = {});
    /// ClientSession::reply: answers a message's replyTo token (copy ClientEvent::replyTo inside
    /// the listener: the view dies with the call). `done` (optional) gets the gateway's ack.
    void reply(std::string_view replyTo, std::string_view jsonPayload, std::function<void(std::error_code)> done = {});
    /// ClientSession::waitFor: `done` is called once with the next event matching `pattern`
    /// (valid during the call) or an error (Timeout, BadRequest, Cancelled on close()).
    void waitFor(std::string_view pattern, std::chrono::milliseconds timeout,
                 std::function<void(std::error_code, const ClientEvent *event)> done);
    /// ClientSession::ping: `done` gets the round trip or an error.
    void ping(std::function<void(std::error_code, std::chrono::microseconds rtt)> done,
              std::optional<std::chrono::milliseconds> timeout = {});

    /// ClientSession::on: listeners on "channel.event" patterns ('*', trailing '**') and on
    /// "session.started", "error", "close". The event's views are valid during the call only.
    /// An invalid pattern never matches (the handle stays active until reset).
    [[nodiscard]] ListenerHandle on(std::string_view pattern, ClientListener listener);

    /// Runs `fn` on the strand with the session itself, for what the methods above do not cover
    /// (channel positions, presence rosters, pendingOperations()). `fn` follows the callback
    /// rules and must not keep references to the session or its channels past its return.
    void dispatch(std::function<void(ClientSession &)> fn);

private:
    struct OwnLoop; ///< the io_context and thread of the default constructor
    struct Core;    ///< the session and everything it runs on; lives on the strand
    std::unique_ptr<OwnLoop> m_loop;
    std::shared_ptr<Core> m_core;
};

} // namespace switchboard
