#include "switchboard/asio/Gateway.h"

#include "ConnectProxy.h"
#include "CoreHost.h"
#include "EventLoopWatchdog.h"
#include "IoThreads.h"
#include "Listener.h"
#include "Log.h"
#include "Metrics.h"
#include "ServerContext.h"
#include "SseSession.h"
#include "RpcProxy.h"
#include "SubscribeProxy.h"
#include "SystemdNotifier.h"
#include "PusherWebhooks.h"
#include "WebhookEvents.h"
#include "WebhookSender.h"
#include "WebSocketSession.h"

#include "switchboard/asio/TokenVerifier.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <cctype>
#include <csignal>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <optional>
#include <thread>
#include <unistd.h>
#include <utility>

namespace switchboard::asio {

namespace {

unsigned threadCount(const GatewayConfig &c)
{
    if (c.ioThreads)
        return c.ioThreads;
    return std::max(1u, std::thread::hardware_concurrency());
}

/// How late a WebSocket's deadline may fire (LivenessSweep.h): an eighth of the shortest of its
/// timeouts (ping, idle, write progress, the closing handshake's wait), between 5 ms and 1 s.
std::chrono::milliseconds livenessResolution(const GatewayConfig &c)
{
    std::chrono::milliseconds shortest = WebSocketSession::closeWait(c);
    for (const auto timeout : {c.wsPingInterval, c.wsIdleTimeout, c.writeTimeout})
        if (timeout.count() > 0)
            shortest = std::min(shortest, timeout);
    return std::clamp(shortest / 8, std::chrono::milliseconds(5), std::chrono::milliseconds(1000));
}

std::filesystem::path findStaticDir(const GatewayConfig &c)
{
    if (!c.staticDir.empty())
        return c.staticDir;
    std::error_code ec;
    const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (ec)
        return {};
    for (const auto &candidate : {exe.parent_path() / "web", exe.parent_path().parent_path() / "share" / "switchboard" / "web"}) {
        if (std::filesystem::is_directory(candidate, ec))
            return candidate;
    }
    return {};
}

/// Why a listening socket could not be opened, in words for the person who started the gateway
/// (the system's message without the library's source location, and what to do about it).
std::string describeListenError(const boost::system::error_code &ec)
{
    std::string text = ec.message();
    if (!text.empty())
        text[0] = char(std::tolower(static_cast<unsigned char>(text[0])));
    if (ec == boost::asio::error::address_in_use)
        text += " (another program holds this port: stop it, choose another --port, or --port 0 for any free one)";
    else if (ec == boost::asio::error::access_denied)
        text += " (ports below 1024 need CAP_NET_BIND_SERVICE, e.g. AmbientCapabilities= in a systemd unit)";
    else if (ec == boost::system::errc::address_not_available)
        text += " (no interface of this machine has that address)";
    return text;
}

/// Flushes a written file to disk, so that the rename that follows never exposes a file whose
/// content is still only in the page cache.
bool syncFile(const std::filesystem::path &path)
{
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    const bool ok = ::fsync(fd) == 0;
    ::close(fd);
    return ok;
}

std::unique_ptr<WebhookSender> makeWebhookSender(const GatewayConfig &c, Metrics &metrics)
{
    if (c.webhooks.empty())
        return nullptr;
    WebhookOptions o;
    o.urls = c.webhooks;
    o.secret = c.webhookSecret;
    o.queueLimit = c.webhookQueue;
    o.batchEvents = c.webhookBatch;
    o.flushInterval = c.webhookFlushInterval;
    o.timeout = c.webhookTimeout;
    o.retries = c.webhookRetries;
    o.backoffMax = c.webhookBackoffMax;
    o.tls = {c.backendCa, c.backendCert, c.backendKey};
    return std::make_unique<WebhookSender>(std::move(o), metrics);
}

std::unique_ptr<RpcProxy> makeRpcProxy(const GatewayConfig &c, Metrics &metrics)
{
    if (c.rpcProxy.empty())
        return nullptr;
    RpcProxyOptions o;
    o.url = c.rpcProxy;
    o.timeout = c.rpcTimeout;
    o.concurrency = c.rpcConcurrency;
    o.tls = {c.backendCa, c.backendCert, c.backendKey};
    o.signingSecret = c.proxySecret;
    return std::make_unique<RpcProxy>(std::move(o), metrics);
}

std::unique_ptr<ConnectProxy> makeConnectProxy(const GatewayConfig &c, Metrics &metrics)
{
    if (c.connectProxy.empty())
        return nullptr;
    ConnectProxyOptions o;
    o.url = c.connectProxy;
    o.timeout = c.connectProxyTimeout;
    o.concurrency = c.connectProxyConcurrency;
    o.tls = {c.backendCa, c.backendCert, c.backendKey};
    o.signingSecret = c.proxySecret;
    return std::make_unique<ConnectProxy>(std::move(o), metrics);
}

std::unique_ptr<SubscribeProxy> makeSubscribeProxy(const GatewayConfig &c, Metrics &metrics)
{
    if (c.subscribeProxy.empty())
        return nullptr;
    SubscribeProxyOptions o;
    o.url = c.subscribeProxy;
    o.timeout = c.subscribeProxyTimeout;
    o.concurrency = c.subscribeProxyConcurrency;
    o.tls = {c.backendCa, c.backendCert, c.backendKey};
    o.signingSecret = c.proxySecret;
    return std::make_unique<SubscribeProxy>(std::move(o), metrics);
}

} // namespace

struct Gateway::Impl {
    explicit Impl(GatewayConfig c)
        : config(std::move(c))
        , tcp(effectiveTcpLimit(config), metrics)
        , shards(threadCount(config), metrics.flushRounds, livenessResolution(config))
        , ioc(shards.main())
        , generatedKey(config.apiKey.empty())
        , generatedSecret(config.tokenSecret.empty())
        , tokens(generatedSecret ? randomHex(32) : config.tokenSecret)
        , webhooks(makeWebhookSender(config, metrics))
        , pusherWebhooks(config.pusherWebhooks.empty() ? nullptr : std::make_unique<PusherWebhooks>(config, metrics))
        , core(ioc, config, tokens, metrics)
        , rpc(makeRpcProxy(config, metrics))
        , connectProxy(makeConnectProxy(config, metrics))
        , subscribeProxy(makeSubscribeProxy(config, metrics))
        , context(config, ioc, core, metrics, tokens, generatedKey ? randomHex(16) : config.apiKey, findStaticDir(config), tcp)
        , signals(ioc, SIGINT, SIGTERM)
        , drainTimer(ioc)
    {
        context.shards = &shards;
        for (std::size_t i = 0; i < shards.size(); ++i)
            shards.at(i).context = &context;
        if (config.tlsEnabled()) {
            tls.emplace(boost::asio::ssl::context::tls_server);
            tls->set_options(boost::asio::ssl::context::default_workarounds | boost::asio::ssl::context::no_sslv2
                             | boost::asio::ssl::context::no_sslv3 | boost::asio::ssl::context::no_tlsv1
                             | boost::asio::ssl::context::no_tlsv1_1);
            try {
                tls->use_certificate_chain_file(config.tlsCertificate);
                tls->use_private_key_file(config.tlsKey, boost::asio::ssl::context::pem);
            } catch (const boost::system::system_error &e) {
                throw std::runtime_error("cannot load TLS certificate or key: " + std::string(e.what()));
            }
            context.tls = &*tls;
        }
        if (webhooks || pusherWebhooks)
            core.locked([&] {
                installWebhookHooks(core.hub(), webhooks.get(), pusherWebhooks.get(),
                                    [this](std::string_view channel, bool occupied, std::function<void(bool)> done) {
                                        core.channelOccupancy(channel, occupied, std::move(done));
                                    });
            });
        if (pusherWebhooks && core.pusher())
            core.locked([&] {
                core.pusher()->setClientEventHook([hooks = pusherWebhooks.get()](const PusherClientEvent &e) { hooks->clientEvent(e); });
            });
        if (rpc)
            core.locked([&] { core.protocol().setDefaultRequestHandler([this](const RequestContext &c, std::shared_ptr<Responder> r) {
                proxyRequest(c, std::move(r));
            }); });
        if (connectProxy)
            core.locked([&] { core.protocol().setAsyncConnectAuthenticator([this](const ConnectRequest &r, ConnectAnswer a) {
                authenticateConnect(r, std::move(a));
            }); });
        if (subscribeProxy) // replaces the token's channel patterns for private and presence joins
            core.locked([&] { core.hub().setAsyncAuthorizer([this](const AuthRequest &r, AuthAnswer answer) {
                proxySubscribe(r, std::move(answer));
            }); });
    }

    /// Inside core.locked() (the connect authenticator). A token the gateway accepts wins (and
    /// an expired one of ours is 3004, so the client refreshes it); every other connect, with
    /// no token or a token the gateway does not know, goes to the connect proxy, whose answer
    /// comes back on the proxy's thread and is delivered under the core lock.
    void authenticateConnect(const ConnectRequest &request, ConnectAnswer answer)
    {
        if (!request.token.empty()) {
            ConnectDecision byToken = tokenDecision(tokens, request.token);
            if (byToken.accepted || byToken.expired)
                return answer(std::move(byToken));
        }
        ConnectCall call;
        call.session = std::string(request.sessionId);
        call.client = std::string(request.clientName);
        call.token = std::string(request.token);
        call.data = std::string(request.data);
        call.headers = request.connection.headers;
        call.transport = request.connection.transport;
        call.remote = request.connection.remoteAddress;
        call.refresh = request.refresh;
        const bool accepted = connectProxy->call(std::move(call), [this, answer](ConnectDecision decision) {
            core.locked([&] { answer(std::move(decision)); });
        });
        if (!accepted)
            answer(ConnectProxy::busyDecision());
    }

    /// Inside core.locked() (the Hub's authorizer): hands the join to the subscribe proxy; its
    /// decision comes back on the proxy's thread and is delivered under the core lock.
    void proxySubscribe(const AuthRequest &request, AuthAnswer answer)
    {
        SubscribeCall call;
        call.channel = std::string(request.channel);
        call.type = request.type;
        call.user = request.principal.userId;
        call.userInfo = request.principal.userInfo;
        call.session = std::string(request.sessionId);
        call.client = std::string(request.clientName);
        call.auth = std::string(request.auth);
        call.data = std::string(request.channelData);
        std::string session = call.session;
        const bool accepted = subscribeProxy->authorize(
            std::move(call), [this, answer, session = std::move(session)](AuthDecision decision) mutable {
                core.locked([&] {
                    // The Hub ignores an answer for a join it cancelled; count the ones whose
                    // session left meanwhile. The answer (and the join it holds) goes under the lock.
                    if (!core.hub().principal(session))
                        metrics.subscribeProxyAbandoned.fetch_add(1, std::memory_order_relaxed);
                    AuthAnswer deliver = std::move(answer);
                    deliver(std::move(decision));
                });
            });
        if (!accepted)
            answer(SubscribeProxy::busyDecision());
    }

    /// Inside core.locked() (the default request handler): hands the request to the RPC proxy;
    /// its answer comes back on the proxy's thread and is delivered under the core lock.
    void proxyRequest(const RequestContext &context, std::shared_ptr<Responder> responder)
    {
        RpcCall call;
        call.topic = std::string(context.topic);
        call.payload = std::string(context.payload);
        call.user = context.principal.userId;
        call.userInfo = context.principal.userInfo;
        call.session = std::string(context.sessionId);
        call.client = std::string(context.clientName);
        call.expectsReply = context.expectsReply;
        const bool expectsReply = context.expectsReply;
        const bool accepted = rpc->call(std::move(call), [this, expectsReply, responder](RpcOutcome outcome) {
            if (!expectsReply)
                return; // fire-and-forget: nobody to answer, no need for the core lock
            core.locked([&] {
                if (outcome.ok)
                    responder->reply(std::move(outcome.payload));
                else
                    responder->fail(std::move(outcome.message), outcome.status, std::move(outcome.trace));
            });
        });
        if (!accepted) {
            RpcOutcome busy = RpcProxy::busyOutcome();
            responder->fail(std::move(busy.message), busy.status, {});
        }
    }

    /// Restores the history snapshot, if one is configured and exists, and removes the file. A
    /// snapshot that cannot be used is moved aside (FILE.rejected) and the gateway starts with
    /// empty history.
    void loadHistory()
    {
        if (config.historySnapshot.empty())
            return;
        const std::filesystem::path path(config.historySnapshot);
        std::error_code fsError;
        if (!std::filesystem::exists(path, fsError)) {
            log::info("history snapshot ", path.string(), " does not exist yet: starting with empty history");
            return;
        }
        std::ifstream file(path, std::ios::binary);
        std::error_code error;
        SnapshotStats stats;
        if (!file)
            error = SnapshotError::Unreadable;
        else
            stats = core.locked([&] { return core.memoryBroker()->loadSnapshot(file, error); });
        if (error) {
            const std::filesystem::path aside = path.string() + ".rejected";
            std::filesystem::rename(path, aside, fsError);
            log::warn("history snapshot ", path.string(), " not loaded (", error.message(), "), moved to ",
                      aside.string(), ": starting with empty history");
            return;
        }
        log::info("history snapshot loaded from ", path.string(), ": ", stats.streams, " streams, ", stats.publications,
                  " publications (", stats.droppedStreams, " streams and ", stats.expiredPublications,
                  " publications expired or no longer kept)");
        // Consumed: if this process dies without a graceful shutdown, the next start must not
        // restore this older state under the same epochs (offsets published since would be
        // reused for other publications); it starts with new epochs instead.
        std::filesystem::remove(path, fsError);
        if (fsError)
            log::warn("history snapshot ", path.string(), " could not be removed after loading: ", fsError.message());
    }

    /// Writes the history snapshot: to FILE.tmp first, synced, then renamed over FILE, so a
    /// crash mid-write leaves the previous snapshot intact.
    void saveHistory()
    {
        if (config.historySnapshot.empty())
            return;
        const std::filesystem::path path(config.historySnapshot);
        const std::filesystem::path temp = path.string() + ".tmp";
        SnapshotStats stats;
        bool written = false;
        {
            std::ofstream file(temp, std::ios::binary | std::ios::trunc);
            if (file) {
                stats = core.locked([&] { return core.memoryBroker()->saveSnapshot(file); });
                file.close();
                written = !file.fail();
            }
        }
        std::error_code fsError;
        if (written && syncFile(temp))
            std::filesystem::rename(temp, path, fsError);
        if (!written || fsError) {
            std::filesystem::remove(temp, fsError);
            log::error("history snapshot could not be written to ", path.string());
            return;
        }
        log::info("history snapshot saved to ", path.string(), ": ", stats.streams, " streams, ", stats.publications,
                  " publications");
    }

    /// The STATUS= line systemd shows: what the gateway serves right now. On an io thread.
    std::string statusLine(std::string_view state)
    {
        const std::size_t pusher = core.locked([&] { return core.pusher() ? core.pusher()->connectionCount() : 0; });
        std::string line(state);
        line += ": " + std::to_string(metrics.wsSessions.load()) + " WebSocket";
        if (core.pusher())
            line += " (" + std::to_string(pusher) + " Pusher)";
        line += ", " + std::to_string(metrics.sseSessions.load()) + " SSE connections";
        return line;
    }

    /// Refreshes STATUS= every config.systemdStatusInterval until shutdown.
    void scheduleStatus()
    {
        statusTimer.expires_after(std::max(config.systemdStatusInterval, std::chrono::milliseconds(1)));
        statusTimer.async_wait([this](const boost::system::error_code &ec) {
            if (ec || stopping.load())
                return;
            systemd.status(statusLine("serving"));
            scheduleStatus();
        });
    }

    /// An io thread did not answer the watchdog's probe: no WATCHDOG=1 this round. Logged once
    /// per streak of missed rounds (and once when the threads answer again). Watchdog thread.
    void watchdogMissed(std::size_t hung)
    {
        metrics.systemdWatchdogMissed.fetch_add(1, std::memory_order_relaxed);
        if (watchdogMissStreak++ == 0)
            log::warn("systemd watchdog: ", hung, " io thread(s) did not run their probe within ",
                      std::chrono::duration_cast<std::chrono::milliseconds>(systemd.watchdogInterval()).count() / 2,
                      " ms: WATCHDOG=1 withheld until every io thread answers (systemd restarts the gateway after WatchdogSec)");
    }
    void watchdogAlive()
    {
        if (const std::uint64_t missed = std::exchange(watchdogMissStreak, 0))
            log::warn("systemd watchdog: every io thread answers again after ", missed, " missed round(s): WATCHDOG=1 resumes");
        systemd.watchdog();
    }

    void beginShutdown()
    {
        if (stopping.exchange(true))
            return;
        boost::asio::post(ioc, [this] {
            log::info("shutting down: closing sessions (3000), draining for up to ", config.drainTimeout.count(), " ms");
            statusTimer.cancel();
            if (systemd.enabled())
                systemd.stopping(statusLine("stopping, draining"));
            if (listener)
                listener->stop();
            context.setOnDrained([this] { shards.stop(); });
            context.shuttingDown.store(true);
            core.locked([&] {
                core.protocol().closeAll(DisconnectCode::Shutdown, "server shutting down");
                if (PusherProtocol *pusher = core.pusher())
                    pusher->closeAll("server shutting down");
            });
            for (const auto &sse : context.sseSessions())
                sse->close(DisconnectCode::Shutdown, "server shutting down");
            if (context.connections() == 0) {
                shards.stop();
                return;
            }
            drainTimer.expires_after(config.drainTimeout);
            drainTimer.async_wait([this](const boost::system::error_code &ec) {
                if (ec)
                    return;
                log::warn("drain deadline reached with ", context.connections(), " connections open");
                shards.stop();
            });
        });
    }

    GatewayConfig config;
    // Before the io_context: the handlers it destroys last may still count and release slots.
    Metrics metrics;
    TcpConnections tcp;
    IoShards shards;              // the io_contexts: destroyed after every socket and session
    boost::asio::io_context &ioc; // the main one (shard 0): listener, signals, timers, engine
    bool generatedKey;
    bool generatedSecret;
    TokenVerifier tokens;
    std::unique_ptr<WebhookSender> webhooks; // outlives the Hub, whose hooks queue on it
    std::unique_ptr<PusherWebhooks> pusherWebhooks; // the same, for the Pusher apps' webhooks
    CoreHost core;
    std::unique_ptr<RpcProxy> rpc; // destroyed before the core its answers lock
    std::unique_ptr<ConnectProxy> connectProxy; // destroyed before the core its answers lock
    std::unique_ptr<SubscribeProxy> subscribeProxy; // destroyed before the core its answers lock
    std::optional<boost::asio::ssl::context> tls;
    ServerContext context;
    std::shared_ptr<Listener> listener;
    boost::asio::signal_set signals;
    boost::asio::steady_timer drainTimer;
    std::atomic<bool> stopping{false};
    SystemdNotifier systemd; // NOTIFY_SOCKET unset: does nothing
    boost::asio::steady_timer statusTimer{ioc};
    std::uint64_t watchdogMissStreak = 0; ///< only on the watchdog's thread
};

Gateway::Gateway(GatewayConfig config) : d(std::make_unique<Impl>(std::move(config)))
{
    log::setLevel(d->config.logLevel);
    d->loadHistory();
}

Gateway::~Gateway() = default;

std::uint16_t Gateway::listen()
{
    const auto address = boost::asio::ip::make_address(d->config.listen);
    try {
        d->listener = std::make_shared<Listener>(d->context, tcp::endpoint(address, d->config.port));
    } catch (const boost::system::system_error &e) {
        throw std::runtime_error("cannot listen on " + d->config.listen + ':' + std::to_string(d->config.port) + ": "
                                 + describeListenError(e.code()));
    }
    return d->listener->localEndpoint().port();
}

int Gateway::run()
{
    if (!d->listener)
        listen();
    d->listener->start();
    d->signals.async_wait([this](const boost::system::error_code &ec, int signal) {
        if (ec)
            return;
        log::info("signal ", signal, " received");
        stop();
    });
    const unsigned n = threadCount(d->config);
    log::info("serving with ", n, " io thread(s)", d->context.staticDir.empty() ? std::string() : ", static files from " + d->context.staticDir.string());
    log::info("limits: ", d->context.tcp.limit(), " TCP connections, ", d->config.maxConnections,
              " WebSocket + SSE connections, request deadline ", d->config.headerTimeout.count(), " ms");
    if (d->config.maxConnections > d->context.tcp.limit())
        log::warn("--max-connections ", d->config.maxConnections, " cannot be reached: the TCP connection limit is ",
                  d->context.tcp.limit(), " (raise the open-file limit or set --max-tcp-connections)");
    if (d->webhooks)
        log::info("webhooks: ", d->config.webhooks.size(), " URL(s), ", d->config.webhookSecret.empty() ? "unsigned" : "signed",
                  ", queue ", d->config.webhookQueue, " events per URL");
    if (d->pusherWebhooks)
        log::info("pusher webhooks: ", d->config.pusherWebhooks.size(), " URL(s), signed with their app's secret");
    if (d->rpc)
        log::info("rpc proxy: ", d->config.rpcProxy, ", timeout ", d->config.rpcTimeout.count(), " ms, ",
                  d->config.rpcConcurrency, " in flight at most, ", d->config.proxySecret.empty() ? "unsigned" : "signed",
                  d->config.backendCa.empty() ? std::string() : ", TLS also trusts " + d->config.backendCa);
    if (d->connectProxy)
        log::info("connect proxy: ", d->config.connectProxy, ", timeout ", d->config.connectProxyTimeout.count(), " ms, ",
                  d->config.connectProxyConcurrency, " in flight at most");
    if (d->subscribeProxy)
        log::info("subscribe proxy: ", d->config.subscribeProxy, " authorizes private and presence joins, timeout ",
                  d->config.subscribeProxyTimeout.count(), " ms, ", d->config.subscribeProxyConcurrency,
                  " in flight at most, authorization deadline ", d->config.authorizationTimeout.count(), " ms");
    IoThreads threads(d->shards.contexts());
    std::optional<EventLoopWatchdog> watchdog;
    if (const auto interval = std::chrono::duration_cast<std::chrono::milliseconds>(d->systemd.watchdogInterval()); interval.count() > 0) {
        // WATCHDOG=1 at half the interval, and only when each io thread ran its probe: a thread
        // stuck in a handler answers none within the quarter interval it gets.
        threads.enableProbes(interval / 4);
        watchdog.emplace(threads.probes(), interval / 2, [this] { d->watchdogAlive(); },
                         [this](std::size_t hung) { d->watchdogMissed(hung); });
    }
    if (d->systemd.enabled()) {
        log::info("systemd notify: READY=1 now, STATUS= every ", d->config.systemdStatusInterval.count(), " ms",
                  watchdog ? ", WATCHDOG=1 every " + std::to_string(d->systemd.watchdogInterval().count() / 2000) + " ms while every io thread answers" : std::string());
        boost::asio::post(d->ioc, [this] {
            d->systemd.ready(d->statusLine("serving"));
            d->scheduleStatus();
        });
    }
    threads.run();
    watchdog.reset(); // the io threads are gone: no more WATCHDOG=1 (systemd is in the stop phase)
    // Every session is closed and drained (or the drain deadline passed): history is final, and
    // the disconnects are queued as webhook events.
    if (d->rpc)
        d->rpc->stop(); // answers still pending have no client left to reach
    if (d->connectProxy)
        d->connectProxy->stop();
    if (d->subscribeProxy)
        d->subscribeProxy->stop();
    if (d->webhooks)
        d->webhooks->stop(d->config.drainTimeout);
    if (d->pusherWebhooks)
        d->pusherWebhooks->stop(d->config.drainTimeout);
    d->saveHistory();
    log::info("stopped");
    return 0;
}

void Gateway::stop()
{
    d->beginShutdown();
}

const std::string &Gateway::apiKey() const
{
    return d->context.apiKey;
}

bool Gateway::generatedApiKey() const
{
    return d->generatedKey;
}

bool Gateway::generatedTokenSecret() const
{
    return d->generatedSecret;
}

std::string Gateway::developmentToken() const
{
    TokenClaims claims;
    claims.subject = "dev";
    claims.infoJson = R"({"name":"Developer"})";
    claims.channels = {"**"};
    claims.expiresAt = std::chrono::duration_cast<std::chrono::seconds>(
                           std::chrono::system_clock::now().time_since_epoch()).count() + 24 * 3600;
    return d->tokens.issue(claims);
}

} // namespace switchboard::asio
