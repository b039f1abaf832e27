#include "RedisConnection.h"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <algorithm>
#include <cstring>

namespace switchboard::redis::detail {
namespace {

/// Lives as long as one hiredis context (its `data`); outlives the owner when the owner frees
/// the context, so that hiredis callbacks during the free find a valid (null) owner.
struct Link {
    RedisConnection *connection = nullptr;
    void *owner = nullptr;  // RedisConnection::Impl, null once the owner let go
    bool connected = false; // hiredis reported the TCP connection
    bool dropping = false;  // the owner is freeing the context: the disconnect callback only cleans up
};

struct PendingReply {
    RedisConnection::ReplyHandler handler;
    std::chrono::microseconds sentAt{0};
};

std::string replyText(const redisReply *reply)
{
    if (!reply)
        return "connection lost";
    if (reply->type == REDIS_REPLY_ERROR || reply->type == REDIS_REPLY_STATUS || reply->type == REDIS_REPLY_STRING)
        return std::string(reply->str, reply->len);
    return "unexpected reply";
}

} // namespace

struct RedisConnection::Impl {
    Impl(RedisConnection &q, Timer &t, RedisConnectionOptions o, std::string n, bool s)
        : self(q), timer(t), options(std::move(o)), name(std::move(n)), subscriber(s), backoff(options.backoffMin)
    {
    }

    RedisConnection &self;
    Timer &timer;
    RedisConnectionOptions options;
    std::string name;
    bool subscriber;

    redisAsyncContext *context = nullptr;
    Link *link = nullptr;
    std::shared_ptr<void> transport; // the connector's (rediss://): lives as long as `context`
    std::function<std::string()> transportCloseReason; // the connector's, with `transport`
    bool dialing = false;            // the connector is opening the transport
    std::uint64_t dials = 0;         // numbers dial attempts: answers of abandoned ones are ignored
    bool ready = false;
    bool everReady = false;
    bool stopping = false;
    std::string lastFailure; // logged once per distinct reason while reconnecting
    std::chrono::milliseconds backoff;
    TimerId retryTimer = 0;
    TimerId connectTimer = 0;
    TimerId pingTimer = 0;
    bool pingOutstanding = false;
    std::chrono::milliseconds pingSentAt{0};
    std::uint64_t reconnects = 0;
    std::uint64_t errors = 0;
    std::shared_ptr<Impl *> alive = std::make_shared<Impl *>(this);

    void say(const std::string &message) const
    {
        if (options.log)
            options.log("redis " + name + " " + options.url.display() + ": " + message);
    }

    TimerId after(std::chrono::milliseconds delay, void (Impl::*method)())
    {
        std::weak_ptr<Impl *> weak = alive;
        return timer.start(delay, [weak, method] {
            if (auto self = weak.lock())
                ((*self)->*method)();
        });
    }

    void cancelTimers()
    {
        for (TimerId *id : {&retryTimer, &connectTimer, &pingTimer}) {
            if (*id)
                timer.cancel(*id);
            *id = 0;
        }
    }

    // ---- connecting --------------------------------------------------------------------------

    void connect()
    {
        retryTimer = 0;
        if (stopping || context || dialing)
            return;
        if (!options.url.tls) {
            RedisDialTarget direct;
            direct.host = options.url.host;
            direct.port = options.url.port;
            return open(direct);
        }
        // rediss://: the connector opens the TLS transport first; hiredis connects through it.
        if (!options.connector)
            return failed("rediss:// needs a TLS connector, which this host does not provide");
        dialing = true;
        const std::uint64_t attempt = ++dials;
        connectTimer = after(options.connectTimeout, &Impl::connectTimedOut);
        std::weak_ptr<Impl *> weak = alive;
        std::shared_ptr<void> handle = options.connector(options.url, [weak, attempt](const std::string &error, const RedisDialTarget &target) {
            if (auto self = weak.lock())
                (*self)->dialed(attempt, error, target);
        });
        if (dialing && attempt == dials)
            transport = std::move(handle); // else the attempt is over: releasing the handle closes it
    }

    void dialed(std::uint64_t attempt, const std::string &error, const RedisDialTarget &target)
    {
        if (!dialing || attempt != dials)
            return; // timed out or stopped meanwhile
        dialing = false;
        if (!error.empty())
            return failed(error);
        open(target);
    }

    /// Starts hiredis on `target` (the URL's host and port, or the connector's local endpoint).
    void open(const RedisDialTarget &target)
    {
        transportCloseReason = target.closeReason;
        redisAsyncContext *ac = target.unixPath.empty() ? redisAsyncConnect(target.host.c_str(), target.port)
                                                        : redisAsyncConnectUnix(target.unixPath.c_str());
        if (!ac)
            return failed("out of memory");
        if (ac->err) {
            const std::string reason = ac->errstr;
            redisAsyncFree(ac);
            return failed(reason);
        }
        link = new Link{&self, this};
        ac->data = link;
        context = ac;
        redisAsyncSetConnectCallback(ac, &Impl::connectCallback);
        redisAsyncSetDisconnectCallback(ac, &Impl::disconnectCallback);
        if (!options.eventLoop || !options.eventLoop(ac))
            return drop("cannot attach to the event loop");
        if (!connectTimer)
            connectTimer = after(options.connectTimeout, &Impl::connectTimedOut);
        login();
    }

    void connectTimedOut()
    {
        connectTimer = 0;
        if (dialing) {
            dialing = false;
            ++dials; // a late answer of this dial is ignored
            return failed("no answer within " + std::to_string(options.connectTimeout.count()) + " ms");
        }
        if (!ready)
            drop("no answer within " + std::to_string(options.connectTimeout.count()) + " ms");
    }

    /// AUTH, SELECT, then PING: the connection is ready when the PING is answered.
    void login()
    {
        if (!options.url.password.empty()) {
            std::vector<std::string_view> auth{"AUTH"};
            if (!options.url.user.empty())
                auth.push_back(options.url.user);
            auth.push_back(options.url.password);
            send(auth, [this](const redisReply *r) { expectOk(r, "AUTH"); });
        }
        if (options.url.database != 0) {
            const std::string db = std::to_string(options.url.database);
            send({"SELECT", db}, [this](const redisReply *r) { expectOk(r, "SELECT"); });
        }
        send({"PING"}, [this](const redisReply *r) {
            if (!r || r->type == REDIS_REPLY_ERROR)
                return expectOk(r, "PING");
            becomeReady();
        });
    }

    void expectOk(const redisReply *r, const char *what)
    {
        if (r && r->type != REDIS_REPLY_ERROR)
            return;
        if (r) // a refused login: drop and retry later (the password may be fixed meanwhile)
            dropLater(std::string(what) + " refused: " + replyText(r));
    }

    void becomeReady()
    {
        if (ready || !context)
            return;
        if (connectTimer)
            timer.cancel(connectTimer);
        connectTimer = 0;
        ready = true;
        backoff = options.backoffMin;
        if (everReady)
            ++reconnects;
        if (everReady || !lastFailure.empty())
            say("connected");
        everReady = true;
        lastFailure.clear();
        pingOutstanding = false;
        if (!subscriber && options.pingInterval.count() > 0)
            pingTimer = after(options.pingInterval, &Impl::ping);
        if (self.onReady)
            self.onReady();
    }

    void ping()
    {
        pingTimer = 0;
        if (!ready)
            return;
        if (pingOutstanding) {
            if (timer.now() - pingSentAt >= 3 * options.pingInterval)
                return drop("no reply to PING within " + std::to_string(3 * options.pingInterval.count()) + " ms");
        } else {
            pingOutstanding = true;
            pingSentAt = timer.now();
            send({"PING"}, [this](const redisReply *) { pingOutstanding = false; });
        }
        pingTimer = after(options.pingInterval, &Impl::ping);
    }

    // ---- losing the connection ---------------------------------------------------------------

    /// A failure before the connection became ready, or after it was lost: retry with backoff.
    void failed(const std::string &reason)
    {
        if (connectTimer)
            timer.cancel(connectTimer);
        connectTimer = 0;
        transport.reset(); // closes the connector's transport, if any
        transportCloseReason = nullptr;
        ++errors;
        if (reason != lastFailure) {
            say("unavailable (" + reason + "), retrying");
            lastFailure = reason;
        }
        if (stopping || retryTimer)
            return;
        retryTimer = after(backoff, &Impl::connect);
        backoff = std::min(options.backoffMax, backoff * 2);
    }

    /// The context is gone (hiredis freed it or we did): tell the owner, schedule a reconnect.
    void lost(const std::string &hiredisReason)
    {
        std::string reason = hiredisReason;
        if (transportCloseReason) { // e.g. why Redis closed the TLS connection under hiredis
            const std::string why = transportCloseReason();
            if (!why.empty())
                reason += " (" + why + ")";
        }
        transportCloseReason = nullptr;
        context = nullptr;
        link = nullptr;
        transport.reset();
        const bool wasReady = ready;
        ready = false;
        pingOutstanding = false;
        cancelTimers();
        if (wasReady) {
            say("connection lost: " + reason);
            lastFailure = reason;
            ++errors;
            if (!stopping && !retryTimer) {
                retryTimer = after(backoff, &Impl::connect);
                backoff = std::min(options.backoffMax, backoff * 2);
            }
            if (self.onLost)
                self.onLost(reason);
        } else {
            failed(reason);
        }
    }

    /// Frees the context now; must not run inside a hiredis callback (use dropLater there).
    void drop(const std::string &reason)
    {
        redisAsyncContext *ac = context;
        Link *l = link;
        if (!ac)
            return;
        ready = false; // commands sent from the failure callbacks below are refused
        l->dropping = true;
        const bool connected = l->connected;
        redisAsyncFree(ac); // pending replies get null; the disconnect callback deletes a connected link
        if (!connected)
            delete l;
        lost(reason);
    }

    void dropLater(const std::string &reason)
    {
        ready = false;
        std::weak_ptr<Impl *> weak = alive;
        redisAsyncContext *ac = context;
        timer.start(std::chrono::milliseconds(0), [weak, ac, reason] {
            if (auto self = weak.lock(); self && (*self)->context == ac)
                (*self)->drop(reason);
        });
    }

    // ---- hiredis callbacks -------------------------------------------------------------------

    static Impl *ownerOf(const redisAsyncContext *ac)
    {
        auto *l = static_cast<Link *>(ac->data);
        return l ? static_cast<Impl *>(l->owner) : nullptr;
    }

    static void connectCallback(const redisAsyncContext *ac, int status)
    {
        auto *l = static_cast<Link *>(ac->data);
        if (status == REDIS_OK) {
            l->connected = true;
            return;
        }
        // hiredis frees the context after this returns; no disconnect callback follows.
        Impl *owner = static_cast<Impl *>(l->owner);
        const std::string reason = ac->errstr;
        const bool dropping = l->dropping;
        delete l;
        const_cast<redisAsyncContext *>(ac)->data = nullptr;
        if (owner && !dropping)
            owner->lost(reason);
    }

    static void disconnectCallback(const redisAsyncContext *ac, int status)
    {
        auto *l = static_cast<Link *>(ac->data);
        if (!l)
            return;
        Impl *owner = static_cast<Impl *>(l->owner);
        const bool dropping = l->dropping;
        const std::string reason = status == REDIS_OK ? std::string("closed") : std::string(ac->errstr);
        delete l;
        const_cast<redisAsyncContext *>(ac)->data = nullptr;
        if (owner && !dropping)
            owner->lost(reason);
    }

    static void replyCallback(redisAsyncContext *ac, void *reply, void *privdata)
    {
        std::unique_ptr<PendingReply> pending(static_cast<PendingReply *>(privdata));
        Impl *owner = ownerOf(ac);
        if (!owner)
            return; // the owner is gone: nobody to tell
        const auto *r = static_cast<const redisReply *>(reply);
        if (!r)
            owner->ready = false;
        else if (owner->options.onRoundTrip)
            owner->options.onRoundTrip(owner->timer.nowPrecise() - pending->sentAt);
        if (pending->handler)
            pending->handler(r);
    }

    static void pushCallback(redisAsyncContext *ac, void *reply, void *)
    {
        Impl *owner = ownerOf(ac);
        if (!owner || !reply)
            return;
        if (owner->self.onPush)
            owner->self.onPush(*static_cast<const redisReply *>(reply));
    }

    // ---- sending -----------------------------------------------------------------------------

    bool send(const std::vector<std::string_view> &args, ReplyHandler handler)
    {
        if (!context)
            return false;
        std::vector<const char *> argv;
        std::vector<std::size_t> lengths;
        argv.reserve(args.size());
        lengths.reserve(args.size());
        for (std::string_view a : args) {
            argv.push_back(a.data());
            lengths.push_back(a.size());
        }
        auto *pending = new PendingReply{std::move(handler), timer.nowPrecise()};
        if (redisAsyncCommandArgv(context, &Impl::replyCallback, pending, int(argv.size()), argv.data(), lengths.data())
            != REDIS_OK) {
            delete pending;
            return false;
        }
        return true;
    }

    bool sendPubSub(std::string_view verb, std::string_view channel)
    {
        if (!ready || !context)
            return false;
        const char *argv[2] = {verb.data(), channel.data()};
        const std::size_t lengths[2] = {verb.size(), channel.size()};
        return redisAsyncCommandArgv(context, &Impl::pushCallback, nullptr, 2, argv, lengths) == REDIS_OK;
    }
};

RedisConnection::RedisConnection(Timer &timer, RedisConnectionOptions options, std::string name, bool subscriber)
    : d(std::make_unique<Impl>(*this, timer, std::move(options), std::move(name), subscriber))
{
}

RedisConnection::~RedisConnection()
{
    d->stopping = true;
    d->cancelTimers();
    if (d->context) {
        Link *l = d->link;
        l->owner = nullptr; // replies that fail during the free reach nobody
        l->dropping = true;
        const bool connected = l->connected;
        redisAsyncFree(d->context);
        if (!connected)
            delete l;
    }
    d->transport.reset();
}

void RedisConnection::start()
{
    d->connect();
}

bool RedisConnection::ready() const
{
    return d->ready;
}

bool RedisConnection::command(const std::vector<std::string_view> &args, ReplyHandler reply)
{
    return d->ready && d->send(args, std::move(reply));
}

bool RedisConnection::subscribe(std::string_view channel)
{
    return d->sendPubSub("SUBSCRIBE", channel);
}

bool RedisConnection::unsubscribe(std::string_view channel)
{
    return d->sendPubSub("UNSUBSCRIBE", channel);
}

std::uint64_t RedisConnection::reconnects() const
{
    return d->reconnects;
}

std::uint64_t RedisConnection::errors() const
{
    return d->errors;
}

} // namespace switchboard::redis::detail
