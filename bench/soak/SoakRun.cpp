#include "SoakRun.h"

#include "ChannelLedger.h"
#include "ConnectionPool.h"
#include "GatewayChild.h"
#include "GatewayMetrics.h"
#include "HttpClient.h"
#include "IoThread.h"
#include "ProcessStats.h"
#include "SoakCounters.h"
#include "SoakPublisher.h"

#include <switchboard/asio/TokenVerifier.h>

#include <boost/asio/ip/address.hpp>
#include <boost/url/parse.hpp>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <future>
#include <iostream>
#include <memory>
#include <optional>
#include <thread>

namespace switchboard::bench {

namespace {

using SteadyClock = std::chrono::steady_clock;
namespace http = boost::beast::http;
using Samples = std::map<std::string, double, std::less<>>;

std::string fixed(double value, int decimals)
{
    char buffer[64];
    std::snprintf(buffer, sizeof buffer, "%.*f", decimals, value);
    return buffer;
}

template <typename T>
std::string orDash(const std::optional<T> &value, int decimals = 0)
{
    return value ? fixed(static_cast<double>(*value), decimals) : std::string("-");
}

std::string pad(const std::string &text, std::size_t width)
{
    return text.size() >= width ? text : std::string(width - text.size(), ' ') + text;
}

double mib(std::uint64_t bytes) { return static_cast<double>(bytes) / 1048576.0; }

SteadyClock::duration seconds(double s)
{
    return std::chrono::duration_cast<SteadyClock::duration>(std::chrono::duration<double>(s));
}

std::optional<double> sample(const std::optional<Samples> &samples, std::string_view name)
{
    if (!samples)
        return std::nullopt;
    const auto it = samples->find(name);
    return it == samples->end() ? std::nullopt : std::optional(it->second);
}

struct GatewayAddress
{
    boost::asio::ip::tcp::endpoint endpoint;
    std::string hostHeader;
};

// http://HOST:PORT or ws://HOST:PORT with HOST an IP literal (the soak runs on loopback).
std::optional<GatewayAddress> parseGatewayUrl(const std::string &url, std::string &why)
{
    const auto parsed = boost::urls::parse_uri(url);
    if (!parsed) {
        why = "cannot parse --url " + url;
        return std::nullopt;
    }
    const auto scheme = parsed->scheme();
    if (scheme != "http" && scheme != "ws") {
        why = "--url must be http:// or ws:// (TLS is not supported by the soak)";
        return std::nullopt;
    }
    std::string host = parsed->host_address();
    if (host.size() > 2 && host.front() == '[')
        host = host.substr(1, host.size() - 2);
    boost::system::error_code ec;
    const auto address = boost::asio::ip::make_address(host, ec);
    if (ec) {
        why = "--url needs an IP address, not " + host;
        return std::nullopt;
    }
    const unsigned short port = parsed->has_port() ? parsed->port_number() : 80;
    return GatewayAddress{{address, port}, std::string(parsed->encoded_authority())};
}

std::string utcNow()
{
    const std::time_t now = std::time(nullptr);
    char buffer[32];
    std::strftime(buffer, sizeof buffer, "%Y-%m-%d %H:%M:%S UTC", std::gmtime(&now));
    return buffer;
}

} // namespace

int runSoak(const SoakOptions &o)
{
    const std::uint64_t fileLimit = raiseFileLimit();
    const std::uint64_t filesNeeded = o.connections + o.connections / 10 + 64;
    if (fileLimit < filesNeeded)
        std::cerr << "warning: open-file limit " << fileLimit << " is below " << filesNeeded
                  << " (raise the hard limit: ulimit -Hn)\n";

    // 1. The gateway.
    GatewayChild child;
    std::string apiKey = o.apiKey;
    std::string tokenSecret = o.tokenSecret;
    GatewayAddress gateway;
    int gatewayPid = o.gatewayPid;
    if (!o.spawn.empty()) {
        if (apiKey.empty())
            apiKey = switchboard::asio::randomHex(16);
        if (tokenSecret.empty())
            tokenSecret = switchboard::asio::randomHex(32);
        std::vector<std::string> args{"--listen", "127.0.0.1", "--port", "0", "--api-key", apiKey,
                                      "--token-secret", tokenSecret, "--max-connections",
                                      std::to_string(2 * o.connections + 100), "--log-level", "warn"};
        args.insert(args.end(), o.gatewayArgs.begin(), o.gatewayArgs.end());
        // The child inherits the raised open-file limit.
        if (!child.start(o.spawn, args, std::chrono::seconds(15))) {
            std::cerr << "switchboard-soak: " << o.spawn << ": " << child.error() << "\n";
            return 1;
        }
        gateway.endpoint = {boost::asio::ip::make_address("127.0.0.1"), child.port()};
        gateway.hostHeader = "127.0.0.1:" + std::to_string(child.port());
        gatewayPid = child.pid();
    } else {
        std::string why;
        const auto parsed = parseGatewayUrl(o.url, why);
        if (!parsed) {
            std::cerr << "switchboard-soak: " << why << "\n";
            return 2;
        }
        gateway = *parsed;
    }

    std::cout << "switchboard-soak: " << utcNow() << ", gateway " << gateway.hostHeader
              << (gatewayPid > 0 ? " (pid " + std::to_string(gatewayPid) + ")" : std::string(" (not sampled)"))
              << "\n  " << o.connections << " connections, churn " << fixed(o.churn, 1) << "/s (mean lifetime "
              << (o.churn > 0 ? fixed(static_cast<double>(o.connections) / o.churn, 0) + " s" : std::string("whole run"))
              << "), " << o.channelsPerConnection << " of " << o.channels << " channels each, "
              << fixed(o.publishRate, 1) << " publications/s of " << o.payload << " B over HTTP, "
              << fixed(o.resetFraction * 100, 0) << "% of leaves reset, "
              << (tokenSecret.empty() ? "anonymous" : "one token per connection") << "\n  duration "
              << fixed(o.duration, 0) << " s, report every " << fixed(o.reportInterval, 0) << " s, open-file limit "
              << fileLimit << ", load average " << orDash(loadAverage(), 2) << std::endl;

    // 2. The client side, all on one io thread.
    IoThread io;
    ChannelLedger ledger(o.channels);
    SoakCounters counters;
    HttpClient publishHttp(io.context(), gateway.endpoint, gateway.hostHeader);
    HttpClient metricsHttp(io.context(), gateway.endpoint, gateway.hostHeader);
    SoakPublisher publisher(io.context(), publishHttp, apiKey, ledger, counters, o.publishRate, o.payload);

    ConnectionPool::TokenFactory tokens;
    std::shared_ptr<switchboard::asio::TokenVerifier> signer;
    if (!tokenSecret.empty()) {
        signer = std::make_shared<switchboard::asio::TokenVerifier>(tokenSecret);
        const std::int64_t expiresAt = static_cast<std::int64_t>(std::time(nullptr))
                                       + static_cast<std::int64_t>(o.duration + o.drainTimeout + o.closeTimeout) + 3600;
        tokens = [signer, expiresAt](std::uint64_t id) {
            switchboard::asio::TokenClaims claims;
            claims.subject = "soak-" + std::to_string(id);
            claims.channels = {std::string(ChannelLedger::kPrefix) + "**"};
            claims.expiresAt = expiresAt;
            return signer->issue(claims);
        };
    }
    ConnectionPool::Settings poolSettings;
    poolSettings.connections = o.connections;
    poolSettings.churn = o.churn;
    poolSettings.channelsPerConnection = o.channelsPerConnection;
    poolSettings.resetFraction = o.resetFraction;
    poolSettings.concurrency = o.connectConcurrency;
    poolSettings.drainTimeout = std::chrono::milliseconds(static_cast<std::int64_t>(o.drainTimeout * 1000));
    poolSettings.closeTimeout = std::chrono::milliseconds(static_cast<std::int64_t>(o.closeTimeout * 1000));
    poolSettings.seed = o.seed != 0 ? o.seed : static_cast<std::uint32_t>(SteadyClock::now().time_since_epoch().count());
    SoakSubscriber::Target target{gateway.endpoint, gateway.hostHeader, "/ws"};
    ConnectionPool pool(io.context(), poolSettings, target, ledger, counters, std::move(tokens));

    // Everything above is used by the io thread: stop it before any of it is destroyed.
    struct StopOnExit
    {
        IoThread &thread;
        ~StopOnExit() { thread.stop(); }
    } stopOnExit{io};

    auto scrape = [&]() -> std::optional<Samples> {
        auto result = std::make_shared<std::promise<std::optional<Samples>>>();
        auto future = result->get_future();
        boost::asio::post(io.context(), [&, result] {
            metricsHttp.request(http::verb::get, "/metrics", {}, {},
                                [result](boost::system::error_code ec, HttpClient::Response response) {
                                    if (ec || response.result() != http::status::ok)
                                        result->set_value(std::nullopt);
                                    else
                                        result->set_value(parseUnlabelledSamples(response.body()));
                                });
        });
        if (future.wait_for(std::chrono::seconds(15)) != std::future_status::ready)
            return std::nullopt;
        return future.get();
    };
    auto gatewayGone = [&] { return !o.spawn.empty() && !child.running(); };
    const auto processSample = [&] { return gatewayPid > 0 ? sampleProcess(gatewayPid) : std::nullopt; };
    const auto fdSample = [&] { return gatewayPid > 0 ? countOpenFiles(gatewayPid) : std::nullopt; };

    io.start();
    const auto idleProcess = processSample();
    const auto idleFds = fdSample();

    // 3. Churn and publish, one row per interval.
    const auto start = SteadyClock::now();
    boost::asio::post(io.context(), [&] {
        pool.start();
        publisher.start();
    });
    std::cout << "\n" << pad("elapsed s", 9) << pad("open", 7) << pad("conn/s", 8) << pad("deliv/s", 10)
              << pad("lost", 8) << pad("gw fds", 8) << pad("gw RSS MiB", 11) << pad("gw CPU %", 9)
              << pad("gw conns", 9) << pad("gw drops", 10) << pad("problems", 9) << pad("load", 6) << std::endl;

    struct Row
    {
        double elapsed = 0;
        std::optional<std::size_t> fds;
        std::optional<std::uint64_t> rss;
    };
    std::vector<Row> rows;
    SoakCounters previous;
    auto previousProcess = processSample();
    auto previousAt = start;
    std::optional<double> lastDrops;
    bool gatewayDied = false;
    auto problemCount = [](const SoakCounters &c) {
        return c.unexpectedCloses + c.upgradeFailures + c.closeProblems + c.serverErrors + c.publishErrors
               + c.drainTimeouts;
    };

    for (int step = 1;; ++step) {
        const double at = std::min(o.duration, o.reportInterval * step);
        std::this_thread::sleep_until(start + seconds(at));
        if (gatewayGone()) {
            gatewayDied = true;
            std::cout << "the gateway exited during the soak\n";
            break;
        }
        const auto now = SteadyClock::now();
        const SoakCounters c = io.runSync([&] { return counters; });
        const auto process = processSample();
        const auto fds = fdSample();
        const auto metrics = scrape();
        const double interval = std::chrono::duration<double>(now - previousAt).count();
        std::optional<double> cpu;
        if (process && previousProcess)
            cpu = (process->cpuSeconds - previousProcess->cpuSeconds) / interval * 100.0;
        std::optional<double> drops;
        if (const auto d = sample(metrics, "switchboard_drops_total"))
            drops = *d + sample(metrics, "switchboard_slow_disconnects_total").value_or(0);
        if (drops)
            lastDrops = drops;
        std::cout << pad(fixed(std::chrono::duration<double>(now - start).count(), 0), 9) << pad(std::to_string(c.open), 7)
                  << pad(fixed(static_cast<double>(c.upgrades - previous.upgrades) / interval, 1), 8)
                  << pad(fixed(static_cast<double>(c.deliveries - previous.deliveries) / interval, 0), 10)
                  << pad(std::to_string(c.lost), 8) << pad(orDash(fds), 8)
                  << pad(process ? fixed(mib(process->rssBytes), 1) : "-", 11) << pad(orDash(cpu, 1), 9)
                  << pad(orDash(sample(metrics, "switchboard_websocket_connections")), 9) << pad(orDash(drops), 10)
                  << pad(std::to_string(problemCount(c)), 9) << pad(orDash(loadAverage(), 2), 6) << std::endl;
        rows.push_back(Row{at, fds, process ? std::optional(process->rssBytes) : std::nullopt});
        previous = c;
        previousProcess = process;
        previousAt = now;
        if (at >= o.duration)
            break;
    }

    // 4. Stop publishing, let every subscriber collect what it is owed and leave.
    auto drained = std::make_shared<std::promise<void>>();
    auto drainedFuture = drained->get_future();
    boost::asio::post(io.context(), [&, drained] { publisher.stop([drained] { drained->set_value(); }); });
    if (drainedFuture.wait_for(std::chrono::seconds(15)) != std::future_status::ready)
        std::cout << "the last publish request did not finish within 15 s\n";
    io.runSync([&] {
        pool.leaveAll();
        return 0;
    });
    const auto leaveDeadline = SteadyClock::now() + seconds(o.drainTimeout + o.closeTimeout + 10);
    std::size_t live = 0;
    while ((live = io.runSync([&] { return pool.live(); })) > 0 && SteadyClock::now() < leaveDeadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    const SoakCounters total = io.runSync([&] { return counters; });
    const double elapsed = std::chrono::duration<double>(SteadyClock::now() - start).count();

    // 5. The gateway once everybody has gone: its connections gauge back to 0, then fds and RSS.
    std::optional<double> gatewayConnections;
    std::optional<Samples> finalMetrics;
    const auto settleDeadline = SteadyClock::now() + std::chrono::seconds(10);
    do {
        finalMetrics = scrape();
        gatewayConnections = sample(finalMetrics, "switchboard_websocket_connections");
        if (gatewayConnections && *gatewayConnections == 0)
            break;
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
    } while (SteadyClock::now() < settleDeadline && !gatewayGone());
    const auto afterProcess = processSample();
    const auto afterFds = fdSample();
    if (const auto d = sample(finalMetrics, "switchboard_drops_total"))
        lastDrops = *d + sample(finalMetrics, "switchboard_slow_disconnects_total").value_or(0);

    // 6. Summary and verdict.
    std::vector<std::string> failures;
    if (gatewayDied)
        failures.push_back("the gateway exited");
    if (total.lost > 0)
        failures.push_back(std::to_string(total.lost) + " deliveries lost");
    // The gateway's drop counters are reported, not judged: they also count frames refused by
    // sessions that are already closing (see docs/benchmarks.md, "Soak"). A frame dropped for a
    // connected subscriber shows up as a lost delivery.
    if (total.unexpectedCloses + total.upgradeFailures + total.closeProblems + total.serverErrors + total.publishErrors > 0)
        failures.push_back("connection or request problems (below)");
    if (live > 0)
        failures.push_back(std::to_string(live) + " connections did not finish leaving");
    std::optional<std::int64_t> fdGrowth;
    std::optional<double> rssGrowth;
    if (rows.size() >= 2 && rows.front().fds && rows.back().fds)
        fdGrowth = static_cast<std::int64_t>(*rows.back().fds) - static_cast<std::int64_t>(*rows.front().fds);
    if (rows.size() >= 2 && rows.front().rss && rows.back().rss)
        rssGrowth = mib(*rows.back().rss) - mib(*rows.front().rss);
    if (fdGrowth && *fdGrowth > static_cast<std::int64_t>(o.maxFdGrowth))
        failures.push_back("gateway fds grew by " + std::to_string(*fdGrowth));
    if (rssGrowth && *rssGrowth > o.maxRssGrowthMiB)
        failures.push_back("gateway RSS grew by " + fixed(*rssGrowth, 1) + " MiB");

    std::cout << "\nsummary after " << fixed(elapsed, 0) << " s: " << total.connectsStarted << " connects ("
              << total.upgrades << " upgraded, " << total.ready << " subscribed), " << total.cleanCloses
              << " clean closes, " << total.resets << " resets; " << total.published << " publications, "
              << total.deliveries << " deliveries, lost " << total.lost << "\n";
    std::cout << "problems: " << total.unexpectedCloses << " unexpected closes, " << total.upgradeFailures
              << " upgrade failures, " << total.closeProblems << " closing handshake failures, " << total.drainTimeouts
              << " drain timeouts, " << total.serverErrors << " server errors, " << total.publishErrors
              << " publish errors; gateway drops + slow disconnects " << orDash(lastDrops) << "\n";
    if (!rows.empty())
        std::cout << "gateway fds: first row " << orDash(rows.front().fds) << ", last row " << orDash(rows.back().fds)
                  << " (growth " << orDash(fdGrowth) << ", bound " << o.maxFdGrowth << "); RSS first row "
                  << (rows.front().rss ? fixed(mib(*rows.front().rss), 1) : "-") << " MiB, last row "
                  << (rows.back().rss ? fixed(mib(*rows.back().rss), 1) : "-") << " MiB (growth "
                  << orDash(rssGrowth, 1) << ", bound " << fixed(o.maxRssGrowthMiB, 0) << ")\n";
    std::cout << "gateway before the soak: " << orDash(idleFds) << " fds, "
              << (idleProcess ? fixed(mib(idleProcess->rssBytes), 1) : "-") << " MiB; after every connection left: "
              << orDash(afterFds) << " fds, " << (afterProcess ? fixed(mib(afterProcess->rssBytes), 1) : "-")
              << " MiB, " << orDash(gatewayConnections) << " WebSocket connections (the soak's two HTTP connections are still open)\n";
    if (!total.problems.empty()) {
        std::cout << "first problems seen:\n";
        for (const auto &p : total.problems)
            std::cout << "  " << p << "\n";
    }
    std::cout << "RESULT " << (failures.empty() ? "ok" : "FAIL") << " connections=" << o.connections
              << " connects=" << total.connectsStarted << " deliveries=" << total.deliveries << " lost=" << total.lost
              << " drops=" << orDash(lastDrops) << " fd_growth=" << orDash(fdGrowth)
              << " rss_growth_mib=" << orDash(rssGrowth, 1) << " unexpected_closes=" << total.unexpectedCloses << "\n";
    for (const auto &f : failures)
        std::cout << "FAIL: " << f << "\n";
    return failures.empty() ? 0 : 1;
}

} // namespace switchboard::bench
