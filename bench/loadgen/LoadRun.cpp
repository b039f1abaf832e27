#include "LoadRun.h"

#include "Clock.h"
#include "DeliveryTracker.h"
#include "IoWorker.h"
#include "ProcessStats.h"
#include "RunState.h"

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

namespace switchboard::bench {

namespace {

using SteadyClock = std::chrono::steady_clock;

SteadyClock::time_point atNs(std::uint64_t ns)
{
    return SteadyClock::time_point(std::chrono::nanoseconds(ns));
}

std::string fixed(double value, int decimals)
{
    char buffer[64];
    std::snprintf(buffer, sizeof buffer, "%.*f", decimals, value);
    return buffer;
}

std::string micros(std::uint64_t ns) { return fixed(static_cast<double>(ns) / 1e3, 1); }

const char *protocolName(Protocol protocol)
{
    switch (protocol) {
    case Protocol::Switchboard: return "switchboard";
    case Protocol::WsBroadcast: return "ws";
    case Protocol::Nats: return "nats";
    case Protocol::Pusher: return "pusher";
    }
    return "?";
}

// Resident memory the server gained per connection between two samples, in KB (1000 bytes).
std::optional<double> perConnectionKb(const std::optional<ProcessSample> &before,
                                      const std::optional<ProcessSample> &after, std::uint64_t connections)
{
    if (!before || !after || connections == 0)
        return std::nullopt;
    const double grown = static_cast<double>(after->rssBytes) - static_cast<double>(before->rssBytes);
    return grown / static_cast<double>(connections) / 1000.0;
}

} // namespace

int runLoad(const Options &o)
{
    const std::uint64_t fileLimit = raiseFileLimit();
    if (o.connections + 64 > fileLimit)
        std::cerr << "warning: open-file limit " << fileLimit << " is below " << o.connections + 64 << "\n";

    std::cout << "switchboard-loadgen: " << o.label << " (" << protocolName(o.session.protocol) << ") ws://"
              << o.host << ":" << o.port << o.path
              << (o.publisherPort != o.port || o.publisherPath != o.path
                      ? " (publisher on ws://" + o.host + ":" + std::to_string(o.publisherPort) + o.publisherPath + ")"
                      : "") << ", " << o.connections << " subscribers, " << o.payload
              << " B payload, "
              << (o.rate > 0 ? "rate " + fixed(o.rate, 1) + " msg/s" : "flat out, window " + std::to_string(o.window))
              << ", " << o.ioThreads << " io thread(s)\n";

    RunState state;
    DeliveryTracker tracker;
    std::vector<std::unique_ptr<IoWorker>> workers;
    for (unsigned i = 0; i < o.ioThreads; ++i) {
        workers.push_back(std::make_unique<IoWorker>(i, o, state, tracker));
        workers.back()->startThread();
    }
    auto shutdown = [&] {
        for (auto &worker : workers)
            worker->shutdown();
    };
    const auto setupDeadline = SteadyClock::now() + std::chrono::duration_cast<SteadyClock::duration>(
                                                        std::chrono::duration<double>(o.setupTimeout));
    auto sampleServer = [&]() -> std::optional<ProcessSample> {
        return o.serverPid > 0 ? sampleProcess(o.serverPid) : std::nullopt;
    };

    // 0. Warm-up: a few clients connect, subscribe and leave (reset) before the memory baseline,
    // so that what the server pays once is in the baseline: its code paged in on first use (about
    // 1 MB of switchboard-gateway's, which a Node server has paged in before its first client),
    // the first allocations of its tables. Then the figure per connection is what one more
    // connection costs.
    if (o.serverPid > 0 && o.memoryWarmup > 0) {
        Options warm = o;
        warm.connections = o.memoryWarmup;
        RunState warmState;
        DeliveryTracker warmTracker;
        IoWorker worker(0, warm, warmState, warmTracker);
        worker.startThread();
        worker.openSubscribers(warm.connections, std::min(warm.connections, o.connectConcurrency));
        warmState.waitUntil([&] { return warmState.upgraded + warmState.upgradeFailed >= warm.connections; }, setupDeadline);
        worker.startSessions();
        warmState.waitUntil([&] { return warmState.ready + warmState.failed >= warmState.upgraded; }, setupDeadline);
        std::cout << "memory warm-up: " << warmState.ready << " of " << warm.connections << " clients subscribed and left\n";
        worker.shutdown();
        std::this_thread::sleep_for(std::chrono::milliseconds(500)); // the server closes them
    }

    // 1. Handshakes: TCP connect + HTTP upgrade, nothing else on the wire yet.
    const auto idle = sampleServer();
    const std::uint64_t openStart = nowNs();
    for (unsigned i = 0; i < o.ioThreads; ++i) {
        const std::size_t share = o.connections / o.ioThreads + (i < o.connections % o.ioThreads ? 1 : 0);
        const std::size_t concurrency = std::max<std::size_t>(1, o.connectConcurrency / o.ioThreads);
        workers[i]->openSubscribers(share, concurrency);
    }
    state.waitUntil([&] { return state.upgraded + state.upgradeFailed >= o.connections; }, setupDeadline);
    const std::uint64_t upgraded = state.upgraded;
    const double handshakeSeconds =
        upgraded ? static_cast<double>(state.lastUpgradeNs - openStart) / 1e9 : 0.0;
    const double handshakesPerSecond = handshakeSeconds > 0 ? static_cast<double>(upgraded) / handshakeSeconds : 0.0;
    std::cout << "handshakes: " << upgraded << " upgraded, " << state.upgradeFailed << " failed in "
              << fixed(handshakeSeconds, 3) << " s = " << fixed(handshakesPerSecond, 0) << " /s\n";
    const auto opened = sampleServer();

    // 2. Subscribe.
    const std::uint64_t subscribeStart = nowNs();
    for (auto &worker : workers)
        worker->startSessions();
    state.waitUntil([&] { return state.ready + state.failed >= upgraded; }, setupDeadline);
    const std::uint64_t ready = state.ready;
    const double subscribeSeconds =
        ready ? static_cast<double>(state.lastReadyNs - std::min<std::uint64_t>(state.lastReadyNs, subscribeStart)) / 1e9
              : 0.0;
    // Connect + upgrade + subscribe completions/s: the two phases run back to back, so a
    // connection's setup takes its share of both.
    const double setupSeconds = handshakeSeconds + subscribeSeconds;
    const double setupsPerSecond = ready && setupSeconds > 0 ? static_cast<double>(ready) / setupSeconds : 0.0;
    std::cout << "subscribed: " << ready << " of " << upgraded << " in " << fixed(subscribeSeconds, 3)
              << " s; connect + subscribe: " << fixed(setupsPerSecond, 0) << " /s\n";
    const auto subscribed = sampleServer();
    const auto kbOpen = perConnectionKb(idle, opened, upgraded);
    const auto kbSubscribed = perConnectionKb(idle, subscribed, ready);
    if (idle && subscribed)
        std::cout << "server memory: RSS " << fixed(static_cast<double>(idle->rssBytes) / 1048576.0, 1)
                  << " MiB before, " << fixed(static_cast<double>(subscribed->rssBytes) / 1048576.0, 1)
                  << " MiB with the connections: " << (kbOpen ? fixed(*kbOpen, 2) : "?") << " KB per open, "
                  << (kbSubscribed ? fixed(*kbSubscribed, 2) : "?") << " KB per subscribed connection\n";
    if (ready == 0) {
        std::cout << "no subscriber ready; problems:\n" << state.problems();
        shutdown();
        return 1;
    }

    // 3. Publisher.
    const std::uint64_t failedBefore = state.failed;
    workers[0]->openPublisher();
    if (!state.waitUntil([&] { return state.publisherReady || state.failed > failedBefore; }, setupDeadline)
        || !state.publisherReady) {
        std::cout << "publisher not ready; problems:\n" << state.problems();
        shutdown();
        return 1;
    }

    if (o.publishDelay > 0) {
        std::cout << "ready to publish; publishing in " << fixed(o.publishDelay, 1) << " s" << std::endl;
        std::this_thread::sleep_for(std::chrono::duration<double>(o.publishDelay));
    }

    // 4. Publish: warm-up, measured window, drain.
    tracker.setExpected(static_cast<std::uint32_t>(ready));
    const std::uint64_t windowStart = nowNs() + static_cast<std::uint64_t>(o.warmup * 1e9);
    const std::uint64_t windowEnd = windowStart + static_cast<std::uint64_t>(o.duration * 1e9);
    state.windowStartNs = windowStart;
    state.windowEndNs = windowEnd;
    const std::uint64_t failedAtStart = state.failed;
    workers[0]->startPublishing();
    std::this_thread::sleep_until(atNs(windowStart));
    const auto cpuStart = sampleServer();
    const double selfStart = selfCpuSeconds();
    std::vector<std::optional<ProcessSample>> othersStart;
    for (const auto &[name, pid] : o.samplePids)
        othersStart.push_back(sampleProcess(pid));
    std::this_thread::sleep_until(atNs(windowEnd));
    const auto cpuEnd = sampleServer();
    const double selfEnd = selfCpuSeconds();
    std::string othersCpu; // " cpu_NAME_pct=N" per --sample-pid
    for (std::size_t i = 0; i < o.samplePids.size(); ++i) {
        const auto end = sampleProcess(o.samplePids[i].second);
        othersCpu += " cpu_" + o.samplePids[i].first + "_pct="
                     + (othersStart[i] && end
                            ? fixed((end->cpuSeconds - othersStart[i]->cpuSeconds) / o.duration * 100, 0)
                            : std::string("na"));
    }
    const auto drainTimeout = std::chrono::duration_cast<SteadyClock::duration>(
        std::chrono::duration<double>(o.stallTimeout + 2.0));
    const Publisher::Counters published = workers[0]->stopPublishingSync(drainTimeout);

    IoWorker::Snapshot total;
    for (auto &worker : workers) {
        const auto s = worker->snapshotSync();
        total.latency.merge(s.latency);
        total.windowDeliveries += s.windowDeliveries;
        total.totalDeliveries += s.totalDeliveries;
        total.deliveryWireBytes += s.deliveryWireBytes;
    }
    const std::uint64_t disconnects = state.failed - failedAtStart;
    shutdown();

    // 5. Report.
    const double perSecond = static_cast<double>(total.windowDeliveries) / o.duration;
    const auto &h = total.latency;
    std::optional<double> serverCpu;
    if (cpuStart && cpuEnd)
        serverCpu = (cpuEnd->cpuSeconds - cpuStart->cpuSeconds) / o.duration;
    const double selfCpu = (selfEnd - selfStart) / o.duration;
    std::cout << "delivered: " << total.windowDeliveries << " in " << fixed(o.duration, 2) << " s = "
              << fixed(perSecond / 1e6, 3) << " M deliveries/s (" << fixed(perSecond / static_cast<double>(ready), 0)
              << " msg/s to each of " << ready << " subscribers)\n";
    std::cout << "latency publish->receive (us): p50 " << micros(h.quantile(0.5)) << "  p99 "
              << micros(h.quantile(0.99)) << "  p99.9 " << micros(h.quantile(0.999)) << "  max " << micros(h.max())
              << "\n";
    std::cout << "published " << published.sent << " messages: " << published.completed << " reached every subscriber, "
              << published.retired << " timed out missing " << published.missedDeliveries << " deliveries, "
              << published.inFlight << " still in flight; " << disconnects << " disconnects, " << state.serverErrors
              << " server errors\n";
    std::cout << "cpu: server " << (serverCpu ? fixed(*serverCpu * 100, 0) + "%" : std::string("?"));
    if (serverCpu && perSecond > 0)
        std::cout << " (" << fixed(*serverCpu * 1e9 / perSecond, 0) << " ns per delivery)";
    std::cout << ", load generator " << fixed(selfCpu * 100, 0) << "%";
    if (!othersCpu.empty())
        std::cout << ";" << othersCpu;
    std::cout << "\n";
    const std::string problems = state.problems();
    if (!problems.empty())
        std::cout << "problems seen:\n" << problems;

    std::cout << "RESULT label=" << o.label << " protocol=" << protocolName(o.session.protocol)
              << " subscribers=" << ready << " payload=" << o.payload << " rate=" << fixed(o.rate, 1)
              << " window=" << o.window << " io_threads=" << o.ioThreads
              << " deliveries_per_s=" << fixed(perSecond, 0) << " p50_us=" << micros(h.quantile(0.5))
              << " p90_us=" << micros(h.quantile(0.9))
              << " p99_us=" << micros(h.quantile(0.99)) << " p999_us=" << micros(h.quantile(0.999))
              << " max_us=" << micros(h.max()) << " handshakes_per_s=" << fixed(handshakesPerSecond, 0)
              << " setups_per_s=" << fixed(setupsPerSecond, 0)
              << " kb_per_conn_open=" << (kbOpen ? fixed(*kbOpen, 2) : "na")
              << " kb_per_conn_subscribed=" << (kbSubscribed ? fixed(*kbSubscribed, 2) : "na")
              << " memory_warmup=" << (o.serverPid > 0 ? o.memoryWarmup : 0)
              << " server_cpu_pct=" << (serverCpu ? fixed(*serverCpu * 100, 0) : "na")
              << " loadgen_cpu_pct=" << fixed(selfCpu * 100, 0) << " missed=" << published.missedDeliveries
              << " disconnects=" << disconnects << " server_errors=" << state.serverErrors
              << " busy_poll=" << (o.busyPoll ? 1 : 0) << " published=" << published.sent
              << " encoding=" << (o.session.binaryEncoding ? "binary" : "json") << " wire_bytes_per_delivery="
              << (total.totalDeliveries ? fixed(double(total.deliveryWireBytes) / double(total.totalDeliveries), 1) : "na")
              << othersCpu << "\n";
    return total.windowDeliveries > 0 ? 0 : 1;
}

} // namespace switchboard::bench
