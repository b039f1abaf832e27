#include "switchboard/asio_client/AsioClient.h"

#include "BeastClientTransport.h"
#include "StrandExecutor.h"

#include <switchboard/asio_support/AsioTimer.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>

#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <unordered_map>

namespace switchboard {

namespace {

/// Decides whether a user callback may still run; reset() waits for a run in progress on
/// another thread (recursive: a callback may reset its own handle).
struct CallbackGate {
    std::recursive_mutex mutex;
    bool active = true;
};

/// A ClientEvent that owns its bytes, for callbacks handed to the user's executor.
struct OwnedEvent {
    std::string key, channel, event, sender, binaryData, replyTo;
    boost::json::value data;
    std::uint64_t offset = 0;
    std::int64_t timestampMs = 0;
    bool binary = false;

    explicit OwnedEvent(const ClientEvent &e)
        : key(e.key), channel(e.channel), event(e.event), sender(e.sender), binaryData(e.binaryData), replyTo(e.replyTo),
          data(e.data), offset(e.offset), timestampMs(e.timestampMs), binary(e.binary)
    {
    }
    ClientEvent view() const { return ClientEvent{key, channel, event, data, offset, timestampMs, sender, binary, binaryData, replyTo}; }
};

} // namespace

struct AsioClient::OwnLoop {
    boost::asio::io_context ioc{1};
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work = boost::asio::make_work_guard(ioc);
    std::thread thread;
};

struct AsioClient::Core : std::enable_shared_from_this<Core> {
    Core(boost::asio::any_io_executor ioExecutor, AsioClientOptions options)
        : strand(boost::asio::make_strand(std::move(ioExecutor))), callbackExecutor(std::move(options.callbackExecutor)),
          executor(strand), timer(std::make_unique<asiosupport::AsioTimer>(strand)),
          transport(std::make_unique<asioclient::BeastClientTransport>(
              strand, asioclient::TransportSettings{std::move(options.tls), std::move(options.headers),
                                                    options.maxMessageBytes, options.maxWriteQueueBytes,
                                                    options.deflate})),
          session(std::make_unique<ClientSession>(*transport, executor, *timer, std::move(options.client)))
    {
        // Mirrors for state(), sessionId() and lastError(); registered first, so they are up to
        // date before any user listener runs.
        keep(session->onStateChanged([this](ClientState next) { updateMirror(next); }));
        keep(session->on("error", [this](const ClientEvent &) { updateMirror(session->state()); }));
    }

    void updateMirror(ClientState next)
    {
        std::lock_guard lock(mirrorMutex);
        mirroredState = next;
        mirroredSessionId = session->sessionId();
        mirroredEncoding = session->wireEncoding();
        mirroredError = session->lastError();
    }

    /// Runs `fn` on the strand unless the client is shutting down.
    template <class Fn>
    void run(Fn fn)
    {
        boost::asio::post(strand, [self = shared_from_this(), fn = std::move(fn)]() mutable {
            if (!self->shutDown)
                fn(*self);
        });
    }

    /// Runs a user callback where the options say (strand or callbackExecutor).
    void deliver(std::function<void()> fn) const
    {
        if (callbackExecutor)
            callbackExecutor(std::move(fn));
        else
            fn();
    }

    std::uint64_t keep(ListenerHandle handle)
    {
        const std::uint64_t id = ++lastHandleId;
        handles.emplace(id, std::move(handle));
        return id;
    }

    /// A handle for the user: closes the gate at once, then drops the core registration.
    ListenerHandle userHandle(std::shared_ptr<CallbackGate> gate, std::shared_ptr<std::uint64_t> id)
    {
        return ListenerHandle([gate = std::move(gate), id = std::move(id), weak = weak_from_this()] {
            {
                std::lock_guard lock(gate->mutex);
                gate->active = false;
            }
            if (auto core = weak.lock())
                core->run([id](Core &c) { c.handles.erase(*id); });
        });
    }

    void shutdown()
    {
        shutDown = true;
        handles.clear();
        session.reset(); // before the transport and the timer, which it uses
        transport.reset(); // drops the connection; its handlers still queued find it aborted
        timer.reset();     // cancels every wait, while the io_context is still alive
    }

    boost::asio::any_io_executor strand;
    std::function<void(std::function<void()>)> callbackExecutor;
    asioclient::StrandExecutor executor;
    std::unique_ptr<asiosupport::AsioTimer> timer; // callbacks on the strand
    std::unique_ptr<asioclient::BeastClientTransport> transport;
    std::unique_ptr<ClientSession> session;
    // Strand only.
    bool shutDown = false;
    std::unordered_map<std::uint64_t, ListenerHandle> handles;
    std::uint64_t lastHandleId = 0;
    // Any thread, under mirrorMutex.
    mutable std::mutex mirrorMutex;
    ClientState mirroredState = ClientState::Disconnected;
    std::string mirroredSessionId;
    WireEncoding mirroredEncoding = WireEncoding::Json;
    std::error_code mirroredError;
};

AsioClient::AsioClient(AsioClientOptions options) : m_loop(std::make_unique<OwnLoop>())
{
    m_core = std::make_shared<Core>(m_loop->ioc.get_executor(), std::move(options));
    m_loop->thread = std::thread([loop = m_loop.get()] { loop->ioc.run(); });
}

AsioClient::AsioClient(boost::asio::any_io_executor executor, AsioClientOptions options)
    : m_core(std::make_shared<Core>(std::move(executor), std::move(options)))
{
}

AsioClient::~AsioClient()
{
    if (m_loop && m_loop->thread.get_id() == std::this_thread::get_id()) {
        std::fputs("switchboard: an AsioClient was destroyed inside its own callback\n", stderr);
        std::abort(); // waiting for our own thread would hang forever
    }
    std::promise<void> done;
    boost::asio::post(m_core->strand, [core = m_core, &done] {
        core->shutdown();
        done.set_value();
    });
    done.get_future().wait();
    if (m_loop) {
        m_loop->work.reset();
        m_loop->ioc.stop(); // sockets and timers still pending are dropped with the io_context
        m_loop->thread.join();
    }
    m_core.reset();
    m_loop.reset();
}

void AsioClient::open()
{
    m_core->run([](Core &c) { c.session->connect(); });
}

void AsioClient::close()
{
    m_core->run([](Core &c) { c.session->close(); });
}

void AsioClient::setUrls(std::vector<std::string> urls)
{
    m_core->run([urls = std::move(urls)](Core &c) mutable { c.session->setUrls(std::move(urls)); });
}

void AsioClient::setTokenProvider(TokenProvider provider)
{
    m_core->run([provider = std::move(provider)](Core &c) mutable {
        if (!provider)
            return c.session->setTokenProvider({});
        c.session->setTokenProvider([provider, weak = c.weak_from_this()](std::function<void(std::string)> deliver) {
            // `deliver` may come from any thread: hand it back to the strand.
            provider([weak, deliver = std::move(deliver)](std::string token) {
                if (auto core = weak.lock())
                    core->run([deliver, token = std::move(token)](Core &) mutable { deliver(std::move(token)); });
            });
        });
    });
}

ClientState AsioClient::state() const
{
    std::lock_guard lock(m_core->mirrorMutex);
    return m_core->mirroredState;
}

std::string AsioClient::sessionId() const
{
    std::lock_guard lock(m_core->mirrorMutex);
    return m_core->mirroredSessionId;
}

WireEncoding AsioClient::wireEncoding() const
{
    std::lock_guard lock(m_core->mirrorMutex);
    return m_core->mirroredEncoding;
}

std::error_code AsioClient::lastError() const
{
    std::lock_guard lock(m_core->mirrorMutex);
    return m_core->mirroredError;
}

ListenerHandle AsioClient::onStateChanged(std::function<void(ClientState)> fn)
{
    auto gate = std::make_shared<CallbackGate>();
    auto id = std::make_shared<std::uint64_t>(0);
    m_core->run([gate, id, fn = std::move(fn)](Core &c) mutable {
        {
            std::lock_guard lock(gate->mutex);
            if (!gate->active) // reset before it was registered
                return;
        }
        *id = c.keep(c.session->onStateChanged([&c, gate, fn = std::move(fn)](ClientState next) {
            c.deliver([gate, fn, next] {
                std::lock_guard lock(gate->mutex);
                if (gate->active)
                    fn(next);
            });
        }));
    });
    return m_core->userHandle(gate, id);
}

ListenerHandle AsioClient::on(std::string_view pattern, ClientListener listener)
{
    auto gate = std::make_shared<CallbackGate>();
    auto id = std::make_shared<std::uint64_t>(0);
    m_core->run([gate, id, pattern = std::string(pattern), listener = std::move(listener)](Core &c) mutable {
        {
            std::lock_guard lock(gate->mutex);
            if (!gate->active)
                return;
        }
        *id = c.keep(c.session->on(pattern, [&c, gate, listener = std::move(listener)](const ClientEvent &event) {
            if (!c.callbackExecutor) {
                std::lock_guard lock(gate->mutex);
                if (gate->active)
                    listener(event);
                return;
            }
            c.callbackExecutor([gate, listener, owned = std::make_shared<OwnedEvent>(event)] {
                std::lock_guard lock(gate->mutex);
                if (gate->active)
                    listener(owned->view());
            });
        }));
    });
    return m_core->userHandle(gate, id);
}

void AsioClient::subscribe(std::string channel, SubscribeOptions options, std::function<void(std::error_code)> done)
{
    m_core->run([channel = std::move(channel), options = std::move(options), done = std::move(done)](Core &c) mutable {
        ClientChannel &ch = c.session->subscribe(channel, std::move(options));
        if (!done)
            return;
        if (ch.subscribed())
            return c.deliver([done] { done({}); });
        // Wait for the first answer: subscribed, or an error.
        auto id = std::make_shared<std::uint64_t>(0);
        *id = c.keep(ch.onStateChanged([&c, id, channel, done = std::move(done)] {
            ClientChannel *now = c.session->channel(channel);
            if (!now || (!now->subscribed() && !now->lastError()))
                return;
            const std::error_code result = now->subscribed() ? std::error_code{} : now->lastError();
            c.deliver([done, result] { done(result); });
            // Not from inside the notification: drop the registration from the strand.
            c.run([id](Core &core) { core.handles.erase(*id); });
        }));
    });
}

void AsioClient::unsubscribe(std::string channel)
{
    m_core->run([channel = std::move(channel)](Core &c) { c.session->unsubscribe(channel); });
}

void AsioClient::publish(std::string_view channel, std::string_view event, std::string_view jsonData,
                         std::function<void(std::error_code, AckInfo)> ack, bool skipSelf)
{
    m_core->run([channel = std::string(channel), event = std::string(event), data = std::string(jsonData),
                 ack = std::move(ack), skipSelf](Core &c) mutable {
        std::function<void(std::error_code, AckInfo)> wrapped;
        if (ack)
            wrapped = [&c, ack = std::move(ack)](std::error_code ec, AckInfo info) { c.deliver([ack, ec, info] { ack(ec, info); }); };
        c.session->publish(channel, event, data, std::move(wrapped), skipSelf);
    });
}

std::future<AckInfo> AsioClient::publishAsync(std::string_view channel, std::string_view event, std::string_view jsonData,
                                              bool skipSelf)
{
    auto promise = std::make_shared<std::promise<AckInfo>>();
    auto future = promise->get_future();
    // The promise is fulfilled on the strand, whatever callbackExecutor says: a future needs no loop.
    m_core->run([channel = std::string(channel), event = std::string(event), data = std::string(jsonData), promise,
                 skipSelf](Core &c) {
        c.session->publish(channel, event, data, [promise](std::error_code ec, AckInfo info) {
            if (ec)
                promise->set_exception(std::make_exception_ptr(std::system_error(ec)));
            else
                promise->set_value(info);
        }, skipSelf);
    });
    return future;
}

void AsioClient::request(std::string_view topic, std::string_view jsonPayload,
                         std::function<void(std::error_code, const boost::json::value &)> reply,
                         std::optional<std::chrono::milliseconds> timeout)
{
    m_core->run([topic = std::string(topic), payload = std::string(jsonPayload), reply = std::move(reply), timeout](Core &c) mutable {
        c.session->request(topic, payload, [&c, reply = std::move(reply)](std::error_code ec, const boost::json::value &value) {
            if (!reply)
                return;
            if (!c.callbackExecutor)
                return reply(ec, value);
            c.callbackExecutor([reply, ec, copy = boost::json::value(value)] { reply(ec, copy); });
        }, timeout);
    });
}

std::future<boost::json::value> AsioClient::requestAsync(std::string_view topic, std::string_view jsonPayload,
                                                         std::optional<std::chrono::milliseconds> timeout)
{
    auto promise = std::make_shared<std::promise<boost::json::value>>();
    auto future = promise->get_future();
    m_core->run([topic = std::string(topic), payload = std::string(jsonPayload), promise, timeout](Core &c) {
        c.session->request(topic, payload, [promise](std::error_code ec, const boost::json::value &value) {
            if (ec)
                promise->set_exception(std::make_exception_ptr(std::system_error(ec)));
            else
                promise->set_value(value);
        }, timeout);
    });
    return future;
}

void AsioClient::ping(std::function<void(std::error_code, std::chrono::microseconds)> done,
                      std::optional<std::chrono::milliseconds> timeout)
{
    m_core->run([done = std::move(done), timeout](Core &c) mutable {
        std::function<void(std::error_code, std::chrono::microseconds)> wrapped;
        if (done)
            wrapped = [&c, done = std::move(done)](std::error_code ec, std::chrono::microseconds rtt) {
                c.deliver([done, ec, rtt] { done(ec, rtt); });
            };
        c.session->ping(std::move(wrapped), timeout);
    });
}

void AsioClient::publishForReply(std::string_view channel, std::string_view event, std::string_view jsonData,
                                 std::function<void(std::error_code, const PublishReply &)> reply, PublishOptions options)
{
    m_core->run([channel = std::string(channel), event = std::string(event), data = std::string(jsonData),
                 reply = std::move(reply), options](Core &c) mutable {
        c.session->publishForReply(channel, event, data, [&c, reply = std::move(reply)](std::error_code ec, const PublishReply &r) {
            if (!reply)
                return;
            if (!c.callbackExecutor)
                return reply(ec, r);
            c.callbackExecutor([reply, ec, owned = ReceivedReply{r.offset, r.payload, std::string(r.from)}] {
                reply(ec, PublishReply{owned.offset, owned.payload, owned.from});
            });
        }, options);
    });
}

std::future<ReceivedReply> AsioClient::publishForReplyAsync(std::string_view channel, std::string_view event,
                                                           std::string_view jsonData, PublishOptions options)
{
    auto promise = std::make_shared<std::promise<ReceivedReply>>();
    auto future = promise->get_future();
    m_core->run([channel = std::string(channel), event = std::string(event), data = std::string(jsonData), promise,
                 options](Core &c) {
        c.session->publishForReply(channel, event, data, [promise](std::error_code ec, const PublishReply &r) {
            if (ec)
                promise->set_exception(std::make_exception_ptr(std::system_error(ec)));
            else
                promise->set_value(ReceivedReply{r.offset, r.payload, std::string(r.from)});
        }, options);
    });
    return future;
}

void AsioClient::reply(std::string_view replyTo, std::string_view jsonPayload, std::function<void(std::error_code)> done)
{
    m_core->run([replyTo = std::string(replyTo), payload = std::string(jsonPayload), done = std::move(done)](Core &c) mutable {
        std::function<void(std::error_code)> wrapped;
        if (done)
            wrapped = [&c, done = std::move(done)](std::error_code ec) { c.deliver([done, ec] { done(ec); }); };
        c.session->reply(replyTo, payload, std::move(wrapped));
    });
}

void AsioClient::waitFor(std::string_view pattern, std::chrono::milliseconds timeout,
                         std::function<void(std::error_code, const ClientEvent *)> done)
{
    m_core->run([pattern = std::string(pattern), timeout, done = std::move(done)](Core &c) mutable {
        c.session->waitFor(pattern, timeout, [&c, done = std::move(done)](std::error_code ec, const ClientEvent *event) {
            if (!done)
                return;
            if (!c.callbackExecutor)
                return done(ec, event);
            auto owned = event ? std::make_shared<OwnedEvent>(*event) : nullptr;
            c.callbackExecutor([done, ec, owned] {
                if (!owned)
                    return done(ec, nullptr);
                const ClientEvent view = owned->view();
                done(ec, &view);
            });
        });
    });
}

void AsioClient::dispatch(std::function<void(ClientSession &)> fn)
{
    m_core->run([fn = std::move(fn)](Core &c) { fn(*c.session); });
}

} // namespace switchboard
