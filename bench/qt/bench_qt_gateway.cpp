// Qt gateway: fan-out deliveries/s to N local subscribers, memory per idle connection, and
// WebSocket + Switchboard handshakes/s. The gateway (Hub, ServerProtocol, QtWebSocketGateway)
// runs on the main thread; the load comes from plain POSIX sockets on a second thread.
//
// Usage: bench_qt_gateway [subscribers=1000] [payloadBytes=64] [seconds=3] [idleConnections=2000]
//        bench_qt_gateway serve <port>   (a Qt gateway for bench/loadgen's switchboard-loadgen:
//                                         no rate limit, 20 000 connections, prints its PID)

#include "PosixWebSocketPeer.h"

#include <switchboard/Hub.h>
#include <switchboard/ServerProtocol.h>
#include <switchboard/qtws/QtTimer.h>
#include <switchboard/qtws/QtWebSocketGateway.h>

#include <QCoreApplication>
#include <QElapsedTimer>
#include <QTimer>

#include <malloc.h>
#include <sys/epoll.h>
#include <time.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <string_view>
#include <thread>
#include <vector>

using namespace switchboard;

namespace {

double threadCpuSeconds()
{
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return double(ts.tv_sec) + double(ts.tv_nsec) / 1e9;
}

long rssKb()
{
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line))
        if (line.rfind("VmRSS:", 0) == 0)
            return std::stol(line.substr(6));
    return 0;
}

template <typename Pred>
void runUntil(Pred done, int timeoutMs = 60'000)
{
    QElapsedTimer t;
    t.start();
    while (!done() && t.elapsed() < timeoutMs)
        QCoreApplication::processEvents(QEventLoop::AllEvents, 10);
}

/// Opens `count` connections (upgrade + connect frame, optionally subscribe), then optionally
/// reads and counts frames with epoll until `stop`.
struct Peers {
    std::vector<int> fds;
    std::atomic<std::uint64_t> frames{0};
    std::atomic<bool> stop{false};
    std::atomic<bool> ready{false};
    std::thread thread;

    void start(std::uint16_t port, int count, const char *channel, bool read)
    {
        thread = std::thread([this, port, count, channel, read] {
            const std::string connectFrame = bench::clientTextFrame(R"({"op":"connect","version":1})");
            const std::string subscribeFrame = channel
                ? bench::clientTextFrame(std::string(R"({"op":"subscribe","channel":")") + channel + "\"}")
                : std::string();
            std::vector<bench::FrameCounter> counters(static_cast<std::size_t>(count));
            for (int i = 0; i < count; ++i) {
                const int fd = bench::connectTcp(port);
                std::string rest;
                if (fd < 0 || !bench::upgrade(fd, port, rest)) {
                    std::fprintf(stderr, "connection %d failed\n", i);
                    break;
                }
                bench::writeAll(fd, connectFrame + subscribeFrame);
                fds.push_back(fd);
            }
            ready = true;
            if (!read)
                return;
            const int ep = epoll_create1(0);
            for (std::size_t i = 0; i < fds.size(); ++i) {
                epoll_event ev{};
                ev.events = EPOLLIN;
                ev.data.u64 = i;
                epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev);
            }
            std::vector<epoll_event> events(256);
            std::vector<char> buffer(1 << 16);
            while (!stop) {
                const int n = epoll_wait(ep, events.data(), int(events.size()), 50);
                std::uint64_t got = 0;
                for (int e = 0; e < n; ++e) {
                    const std::size_t i = events[std::size_t(e)].data.u64;
                    const ssize_t r = ::read(fds[i], buffer.data(), buffer.size());
                    if (r > 0)
                        got += counters[i].feed(buffer.data(), std::size_t(r));
                }
                frames += got;
            }
            ::close(ep);
        });
    }
    void finish()
    {
        stop = true;
        if (thread.joinable())
            thread.join();
        for (int fd : fds)
            ::close(fd);
        fds.clear();
    }
};

struct Server {
    Server()
        : hub(timer, hubOptions()), protocol(hub, timer, protocolOptions()), gateway(hub, protocol, gatewayOptions())
    {
        gateway.listen();
    }
    static HubOptions hubOptions()
    {
        HubOptions o;
        o.outbox.maxFrames = 1 << 16;
        o.outbox.maxBytes = 64u << 20;
        return o;
    }
    static ServerProtocolOptions protocolOptions()
    {
        ServerProtocolOptions o;
        o.limits.opsPerSecond = 1e9;
        o.limits.opsBurst = 1e9;
        return o;
    }
    static qtws::QtGatewayOptions gatewayOptions()
    {
        qtws::QtGatewayOptions o;
        o.maxConnections = 20'000;
        o.listenBacklog = 4096;
        o.idleTimeout = std::chrono::milliseconds(600'000);
        o.pingInterval = std::chrono::milliseconds(600'000);
        return o;
    }
    qtws::QtTimer timer;
    Hub hub;
    ServerProtocol protocol;
    qtws::QtWebSocketGateway gateway;
};

void fanout(int subscribers, int payloadBytes, double seconds, std::uint64_t messagesInFlight)
{
    Server server;
    const std::uint16_t port = server.gateway.serverPort();
    Peers peers;
    peers.start(port, subscribers, "bench", true);
    // Every peer gets welcome + subscribed before the first message.
    runUntil([&] { return peers.frames.load() >= 2 * std::uint64_t(subscribers); });
    const std::string payload = "\"" + std::string(std::size_t(std::max(payloadBytes - 2, 0)), 'x') + "\"";
    const std::uint64_t base = peers.frames.load();
    std::uint64_t published = 0;
    const std::uint64_t window = messagesInFlight * std::uint64_t(subscribers);

    // Wakes the loop every millisecond to look at the readers' progress, so the gateway thread
    // sleeps instead of spinning while the window is full (its CPU time is then its real cost).
    QTimer wake;
    wake.start(1);
    QElapsedTimer clock;
    clock.start();
    double cpuStart = threadCpuSeconds();
    std::uint64_t measuredFrom = 0;
    bool measuring = false;
    double measureStartMs = 0;
    while (true) {
        const std::uint64_t delivered = peers.frames.load() - base;
        if (!measuring && clock.elapsed() > 500) { // warm-up
            measuring = true;
            measuredFrom = delivered;
            measureStartMs = double(clock.elapsed());
            cpuStart = threadCpuSeconds();
        }
        if (measuring && double(clock.elapsed()) - measureStartMs >= seconds * 1000.0) {
            const double elapsed = (double(clock.elapsed()) - measureStartMs) / 1000.0;
            const double cpu = threadCpuSeconds() - cpuStart;
            const double count = double(delivered - measuredFrom);
            std::printf("fanout subscribers=%d payload=%dB in-flight=%llu msgs: %.0f deliveries/s, server CPU %.1f%%, "
                        "%.0f ns CPU/delivery\n",
                        subscribers, payloadBytes, static_cast<unsigned long long>(messagesInFlight), count / elapsed,
                        100.0 * cpu / elapsed, count > 0 ? cpu * 1e9 / count : 0.0);
            break;
        }
        while (published * std::uint64_t(subscribers) < delivered + window) {
            server.hub.broadcast("bench", "m", payload);
            ++published;
        }
        QCoreApplication::processEvents(QEventLoop::AllEvents | QEventLoop::WaitForMoreEvents);
    }
    const auto counters = server.gateway.counters();
    std::printf("  frames written %llu in %llu socket flushes (%.1f frames per flush), drops %llu\n",
                static_cast<unsigned long long>(counters.framesWritten), static_cast<unsigned long long>(counters.flushes),
                double(counters.framesWritten) / double(std::max<std::uint64_t>(counters.flushes, 1)),
                static_cast<unsigned long long>(server.hub.counters().drops));
    peers.finish();
}

/// `channel` set: every connection also subscribes to it.
void idleMemory(int connections, const char *channel)
{
    Server server;
    malloc_trim(0);
    const long rssBefore = rssKb();
    const std::size_t heapBefore = mallinfo2().uordblks;
    Peers peers;
    peers.start(server.gateway.serverPort(), connections, channel, false);
    runUntil([&] {
        return server.hub.counters().sessions == std::size_t(connections)
            && (!channel || server.hub.subscriberCount(channel) == std::size_t(connections));
    });
    for (int i = 0; i < 5; ++i)
        QCoreApplication::processEvents(QEventLoop::AllEvents); // deleteLater, handshake leftovers
    const std::size_t heapAfter = mallinfo2().uordblks;
    const long rssAfter = rssKb();
    std::printf("idle connections=%d%s: heap %.1f KB per connection, RSS %.1f KB per connection (user space; the "
                "client sockets are plain fds)\n",
                connections, channel ? " (subscribed)" : "", double(heapAfter - heapBefore) / 1024.0 / connections,
                double(rssAfter - rssBefore) / connections);
    peers.stop = true;
    peers.finish();
}

void handshakes(double seconds)
{
    Server server;
    const std::uint16_t port = server.gateway.serverPort();
    std::atomic<bool> stop{false};
    std::atomic<bool> exited{false};
    std::atomic<std::uint64_t> done{0};
    std::thread client([&] {
        const std::string connectFrame = bench::clientTextFrame(R"({"op":"connect","version":1})");
        std::vector<char> buffer(4096);
        while (!stop) {
            const int fd = bench::connectTcp(port);
            std::string rest;
            if (fd < 0 || !bench::upgrade(fd, port, rest)) {
                if (fd >= 0)
                    ::close(fd);
                continue;
            }
            bench::writeAll(fd, connectFrame);
            bench::FrameCounter counter;
            std::size_t frames = counter.feed(rest.data(), rest.size());
            while (frames == 0) { // the welcome frame
                const ssize_t n = ::read(fd, buffer.data(), buffer.size());
                if (n <= 0)
                    break;
                frames += counter.feed(buffer.data(), std::size_t(n));
            }
            ::close(fd);
            if (frames > 0)
                ++done;
        }
        exited = true;
    });
    QElapsedTimer clock;
    clock.start();
    const double cpuStart = threadCpuSeconds();
    while (clock.elapsed() < seconds * 1000)
        QCoreApplication::processEvents(QEventLoop::AllEvents, 10);
    const double elapsed = double(clock.elapsed()) / 1000.0;
    const double cpu = threadCpuSeconds() - cpuStart;
    const std::uint64_t count = done.load();
    stop = true;
    while (!exited) // the client may be waiting for the server to answer its last handshake
        QCoreApplication::processEvents(QEventLoop::AllEvents, 10);
    client.join();
    std::printf("handshakes (TCP + WebSocket upgrade + connect/welcome, then close): %.0f/s, server CPU %.1f%%\n",
                double(count) / elapsed, 100.0 * cpu / elapsed);
}

} // namespace

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    if (argc > 2 && std::string_view(argv[1]) == "serve") {
        Server server;
        server.gateway.close();
        auto options = Server::gatewayOptions();
        options.port = static_cast<quint16>(std::atoi(argv[2]));
        server.gateway.setOptions(options);
        if (!server.gateway.listen()) {
            std::fprintf(stderr, "listen failed: %s\n", qPrintable(server.gateway.errorString()));
            return 1;
        }
        std::printf("Qt gateway on ws://127.0.0.1:%u/ws, pid %lld\n", server.gateway.serverPort(),
                    static_cast<long long>(QCoreApplication::applicationPid()));
        std::fflush(stdout);
        return app.exec();
    }
    const int subscribers = argc > 1 ? std::atoi(argv[1]) : 1000;
    const int payload = argc > 2 ? std::atoi(argv[2]) : 64;
    const double seconds = argc > 3 ? std::atof(argv[3]) : 3.0;
    const int idle = argc > 4 ? std::atoi(argv[4]) : 2000;
    fanout(subscribers, payload, seconds, 64);
    fanout(subscribers, payload, seconds, 1);
    idleMemory(idle, nullptr);
    idleMemory(idle, "idle");
    handshakes(seconds);
    return 0;
}
