#include "BackendClient.h"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <algorithm>
#include <atomic>
#include <thread>

namespace switchboard::asio {

namespace net = boost::asio;

struct BackendClient::Impl {
    Impl(BackendClientOptions o, BackendMetrics &m)
        : options(std::move(o)), metrics(m), url(HttpUrl::parse(options.url, options.flag)),
          tls(backendTlsContextFor(url.tls, options.tls))
    {
        options.concurrency = std::max<std::size_t>(1, options.concurrency);
    }

    BackendClientOptions options;
    BackendMetrics &metrics;
    HttpUrl url;
    std::shared_ptr<net::ssl::context> tls; // one for every request; null for http://
    net::io_context ioc{1};
    net::executor_work_guard<net::io_context::executor_type> work{net::make_work_guard(ioc)};
    std::atomic<std::size_t> inFlight{0};
    std::thread thread;
};

BackendClient::BackendClient(BackendClientOptions options, BackendMetrics &metrics)
    : d(std::make_unique<Impl>(std::move(options), metrics))
{
    d->thread = std::thread([impl = d.get()] { impl->ioc.run(); });
}

BackendClient::~BackendClient()
{
    stop();
}

void BackendClient::stop()
{
    if (!d->thread.joinable())
        return;
    d->work.reset();
    d->ioc.stop();
    d->thread.join();
}

const BackendClientOptions &BackendClient::options() const { return d->options; }

bool BackendClient::post(std::string body, std::function<void(const HttpPostResult &)> done)
{
    BackendMetrics &metrics = d->metrics;
    metrics.requests.fetch_add(1, std::memory_order_relaxed);
    // Reserve a slot; over the limit the request is refused without touching the backend.
    if (d->inFlight.fetch_add(1) >= d->options.concurrency) {
        d->inFlight.fetch_sub(1);
        metrics.busy.fetch_add(1, std::memory_order_relaxed);
        return false;
    }
    metrics.inFlight.fetch_add(1, std::memory_order_relaxed);
    HttpPostRequest request;
    request.body = std::move(body);
    request.timeout = d->options.timeout;
    request.maxAnswerBytes = d->options.maxAnswerBytes;
    request.tls = d->tls;
    request.signingSecret = d->options.signingSecret;
    const auto started = std::chrono::steady_clock::now();
    Impl *impl = d.get();
    net::post(d->ioc, [impl, request = std::move(request), done = std::move(done), started]() mutable {
        httpPost(impl->ioc, impl->url, std::move(request), [impl, done = std::move(done), started](HttpPostResult result) {
            impl->inFlight.fetch_sub(1);
            impl->metrics.inFlight.fetch_sub(1, std::memory_order_relaxed);
            impl->metrics.seconds.observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
            done(result);
        });
    });
    return true;
}

void BackendClient::countFailure(const HttpPostResult &result)
{
    BackendMetrics &m = d->metrics;
    switch (result.outcome) {
    case HttpPostResult::Outcome::Timeout: m.timeouts.fetch_add(1, std::memory_order_relaxed); break;
    case HttpPostResult::Outcome::Unreachable: m.failedUnreachable.fetch_add(1, std::memory_order_relaxed); break;
    case HttpPostResult::Outcome::BadAnswer: m.failedInvalid.fetch_add(1, std::memory_order_relaxed); break;
    case HttpPostResult::Outcome::Answered:
        // A 2xx the proxy could not use is an invalid answer; any other status is counted as such.
        (result.status >= 200 && result.status < 300 ? m.failedInvalid : m.failedStatus).fetch_add(1, std::memory_order_relaxed);
        break;
    }
}

} // namespace switchboard::asio
