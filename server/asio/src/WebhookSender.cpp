#include "WebhookSender.h"

#include "HttpPost.h"
#include "Log.h"
#include "RequestSigner.h"

#include "switchboard/asio/TokenVerifier.h"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <algorithm>
#include <atomic>
#include <deque>
#include <mutex>
#include <thread>

namespace switchboard::asio {

namespace net = boost::asio;

namespace {

constexpr std::size_t kMaxAnswerBytes = 64 * 1024; // an endpoint's answer is read and ignored

std::int64_t nowMs()
{
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

} // namespace

/// One URL: its queue (shared with enqueue()) and its one request at a time (sender thread, an
/// HttpPost exchange).
struct WebhookSender::Endpoint {
    Endpoint(net::io_context &ioc, HttpUrl u) : url(std::move(u)), timer(ioc) {}

    HttpUrl url;

    std::mutex mutex;
    std::deque<std::shared_ptr<const std::string>> queue; // guarded by mutex
    std::atomic<bool> kickPosted{false};

    // Sender thread only.
    enum class Phase { Idle, Waiting, Sending, BackingOff } phase = Phase::Idle;
    net::steady_timer timer; // flush interval, then backoff
    std::uint64_t timerGeneration = 0;
    std::string body;
    std::string signature;
    std::string delivery;
    std::size_t events = 0;
    unsigned attempt = 0;
};

struct WebhookSender::Impl {
    Impl(WebhookOptions o, Metrics &m) : options(std::move(o)), metrics(m), work(net::make_work_guard(ioc)) {}

    WebhookOptions options;
    Metrics &metrics;
    net::io_context ioc{1};
    net::executor_work_guard<net::io_context::executor_type> work;
    std::vector<std::unique_ptr<Endpoint>> endpoints; // destroyed before the io_context
    std::shared_ptr<boost::asio::ssl::context> tls;   // https:// endpoints share it; null: none
    std::atomic<bool> draining{false};
    std::atomic<std::int64_t> queued{0};   // events waiting, every endpoint
    std::atomic<std::int64_t> inFlight{0}; // batches being sent or waiting for a retry
    std::thread thread;

    void addQueued(std::int64_t n)
    {
        queued.fetch_add(n, std::memory_order_relaxed);
        metrics.webhookQueued.fetch_add(n, std::memory_order_relaxed);
    }

    void post(Endpoint &e)
    {
        if (!e.kickPosted.exchange(true))
            net::post(ioc, [this, &e] {
                e.kickPosted.store(false);
                kick(e);
            });
    }

    /// Starts a batch when one is full (or when draining), else arms the flush timer.
    void kick(Endpoint &e)
    {
        if (e.phase == Endpoint::Phase::Sending || e.phase == Endpoint::Phase::BackingOff)
            return; // done() kicks again
        std::size_t waiting = 0;
        {
            std::lock_guard lock(e.mutex);
            waiting = e.queue.size();
        }
        if (waiting == 0) {
            e.phase = Endpoint::Phase::Idle;
            return;
        }
        if (waiting >= options.batchEvents || draining.load()) {
            startBatch(e);
            return;
        }
        if (e.phase == Endpoint::Phase::Waiting)
            return;
        e.phase = Endpoint::Phase::Waiting;
        const std::uint64_t generation = ++e.timerGeneration;
        e.timer.expires_after(options.flushInterval);
        e.timer.async_wait([this, &e, generation](const boost::system::error_code &ec) {
            if (!ec && generation == e.timerGeneration && e.phase == Endpoint::Phase::Waiting)
                startBatch(e);
        });
    }

    void startBatch(Endpoint &e)
    {
        ++e.timerGeneration; // a flush timer still pending does nothing now
        std::vector<std::shared_ptr<const std::string>> batch;
        {
            std::lock_guard lock(e.mutex);
            const std::size_t n = std::min(options.batchEvents, e.queue.size());
            batch.assign(std::make_move_iterator(e.queue.begin()), std::make_move_iterator(e.queue.begin() + std::ptrdiff_t(n)));
            e.queue.erase(e.queue.begin(), e.queue.begin() + std::ptrdiff_t(n));
        }
        if (batch.empty()) {
            e.phase = Endpoint::Phase::Idle;
            return;
        }
        addQueued(-std::int64_t(batch.size()));
        inFlight.fetch_add(1);
        e.events = batch.size();
        e.body.clear();
        e.body.append(R"({"time_ms":)").append(std::to_string(nowMs())).append(R"(,"events":[)");
        for (std::size_t i = 0; i < batch.size(); ++i) {
            if (i)
                e.body.push_back(',');
            e.body.append(*batch[i]);
        }
        e.body.append("]}");
        e.signature = options.secret.empty()       ? std::string()
                      : !options.pusherKey.empty() ? hmacSha256Hex(options.secret, e.body)
                                                   : signature(options.secret, e.body);
        e.delivery = randomHex(8);
        e.attempt = 0;
        send(e);
    }

    void send(Endpoint &e)
    {
        e.phase = Endpoint::Phase::Sending;
        ++e.attempt;
        HttpPostRequest request;
        request.body = e.body;
        request.headers.emplace_back("X-Switchboard-Delivery", e.delivery);
        if (!options.pusherKey.empty()) {
            request.headers.emplace_back("X-Pusher-Key", options.pusherKey);
            request.headers.emplace_back("X-Pusher-Signature", e.signature);
        } else if (!e.signature.empty()) {
            request.headers.emplace_back("X-Switchboard-Signature", e.signature);
        }
        request.timeout = options.timeout; // one deadline for connect, write and read together
        request.maxAnswerBytes = kMaxAnswerBytes;
        request.tls = tls;
        httpPost(ioc, e.url, std::move(request), [this, &e](HttpPostResult result) {
            if (result.outcome != HttpPostResult::Outcome::Answered)
                return retry(e, result.error);
            answered(e, result.status);
        });
    }

    void answered(Endpoint &e, unsigned status)
    {
        if (status >= 200 && status < 300) {
            metrics.webhookSent.fetch_add(e.events, std::memory_order_relaxed);
            metrics.webhookRequests.fetch_add(1, std::memory_order_relaxed);
            return done(e);
        }
        if (status >= 500)
            return retry(e, "HTTP " + std::to_string(status));
        // 4xx (and anything else): the endpoint refuses this batch; sending it again would not help.
        giveUp(e, "HTTP " + std::to_string(status) + " (not retried)");
    }

    void retry(Endpoint &e, const std::string &reason)
    {
        if (e.attempt > options.retries)
            return giveUp(e, reason + " after " + std::to_string(e.attempt) + " attempts");
        metrics.webhookRetried.fetch_add(1, std::memory_order_relaxed);
        log::limited(LogLevel::Info, "webhook retry",
                     "webhook " + e.url.url + ": " + reason + "; retrying " + std::to_string(e.events) + " events");
        const auto shift = std::min(e.attempt - 1, 20u);
        const auto delay = std::min(options.backoffMax, options.backoffInitial * (std::int64_t(1) << shift));
        e.phase = Endpoint::Phase::BackingOff;
        e.timer.expires_after(delay);
        e.timer.async_wait([this, &e](const boost::system::error_code &ec) {
            if (!ec)
                send(e);
        });
    }

    void giveUp(Endpoint &e, const std::string &reason)
    {
        metrics.webhookFailed.fetch_add(e.events, std::memory_order_relaxed);
        log::limited(LogLevel::Info, "webhook failed",
                     "webhook " + e.url.url + ": " + reason + "; " + std::to_string(e.events) + " events dropped");
        done(e);
    }

    void done(Endpoint &e)
    {
        e.events = 0;
        e.phase = Endpoint::Phase::Idle;
        inFlight.fetch_sub(1);
        kick(e);
    }
};

WebhookSender::WebhookSender(WebhookOptions options, Metrics &metrics)
    : d(std::make_unique<Impl>(std::move(options), metrics))
{
    d->options.batchEvents = std::max<std::size_t>(1, d->options.batchEvents);
    d->options.queueLimit = std::max<std::size_t>(1, d->options.queueLimit);
    d->options.backoffInitial = std::min(d->options.backoffInitial, d->options.backoffMax);
    for (const std::string &url : d->options.urls)
        d->endpoints.push_back(std::make_unique<Endpoint>(d->ioc, HttpUrl::parse(url, "--webhook")));
    const bool anyHttps = std::any_of(d->endpoints.begin(), d->endpoints.end(), [](const auto &e) { return e->url.tls; });
    d->tls = backendTlsContextFor(anyHttps, d->options.tls);
    d->thread = std::thread([this] { d->ioc.run(); });
}

WebhookSender::~WebhookSender()
{
    d->work.reset();
    d->ioc.stop();
    if (d->thread.joinable())
        d->thread.join();
}

void WebhookSender::enqueue(std::string eventJson)
{
    const auto event = std::make_shared<const std::string>(std::move(eventJson));
    for (const auto &endpoint : d->endpoints) {
        bool dropped = false;
        {
            std::lock_guard lock(endpoint->mutex);
            if (endpoint->queue.size() >= d->options.queueLimit) {
                endpoint->queue.pop_front();
                dropped = true;
            }
            endpoint->queue.push_back(event);
        }
        if (dropped) {
            d->metrics.webhookDropped.fetch_add(1, std::memory_order_relaxed);
            log::limited(LogLevel::Info, "webhook queue full",
                         "webhook " + endpoint->url.url + ": queue full (" + std::to_string(d->options.queueLimit)
                             + " events), oldest event dropped");
        } else {
            d->addQueued(1);
        }
        d->post(*endpoint);
    }
}

void WebhookSender::stop(std::chrono::milliseconds deadline)
{
    if (!d->thread.joinable())
        return;
    d->draining.store(true);
    for (const auto &endpoint : d->endpoints)
        d->post(*endpoint);
    const auto until = std::chrono::steady_clock::now() + deadline;
    while ((d->queued.load() > 0 || d->inFlight.load() > 0) && std::chrono::steady_clock::now() < until)
        std::this_thread::sleep_for(std::chrono::milliseconds(10)); // shutdown only: nothing else to do
    if (d->queued.load() > 0 || d->inFlight.load() > 0)
        log::warn("webhooks: stopping with ", d->queued.load(), " events queued and ", d->inFlight.load(),
                  " batches unsent after ", deadline.count(), " ms");
    d->work.reset();
    d->ioc.stop();
    d->thread.join();
}

std::string WebhookSender::signature(std::string_view secret, std::string_view body)
{
    return "sha256=" + hmacSha256Hex(secret, body);
}

} // namespace switchboard::asio
