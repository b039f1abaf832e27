// Client + MessageModel: messages per second absorbed while the GUI thread stays responsive.
// The server (Hub, ServerProtocol, QtWebSocketGateway) runs on its own thread and publishes as
// fast as the client keeps up (a bounded number of messages in flight); the main thread runs the
// Client, its Channel and MessageModel, and a 10 ms timer whose lateness measures responsiveness.
//
// Usage: bench_qt_client [seconds=3] [payloadBytes=64] [inFlight=2000]

#include <switchboard/Hub.h>
#include <switchboard/ServerProtocol.h>
#include <switchboard/qt/Client.h>
#include <switchboard/qtws/QtTimer.h>
#include <switchboard/qtws/QtWebSocketGateway.h>

#include <QCoreApplication>
#include <QElapsedTimer>
#include <QThread>
#include <QTimer>

#include <time.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <memory>
#include <vector>

using namespace switchboard;

namespace {

struct ServerSide {
    qtws::QtTimer timer;
    std::unique_ptr<Hub> hub;
    std::unique_ptr<ServerProtocol> protocol;
    std::unique_ptr<qtws::QtWebSocketGateway> gateway;
    QTimer publisher;
};

} // namespace

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    const double seconds = argc > 1 ? std::atof(argv[1]) : 3.0;
    const int payloadBytes = argc > 2 ? std::atoi(argv[2]) : 64;
    const std::uint64_t inFlight = argc > 3 ? std::strtoull(argv[3], nullptr, 10) : 2000;

    std::atomic<std::uint64_t> received{0};
    std::atomic<std::uint64_t> published{0};
    std::atomic<bool> publishing{false};

    QThread serverThread;
    serverThread.start();
    QObject serverContext;
    serverContext.moveToThread(&serverThread);
    ServerSide *server = nullptr;
    quint16 port = 0;
    const std::string payload = "\"" + std::string(std::size_t(std::max(payloadBytes - 2, 0)), 'x') + "\"";
    QMetaObject::invokeMethod(&serverContext, [&] {
        server = new ServerSide;
        HubOptions hubOptions;
        hubOptions.outbox.maxFrames = 1 << 16;
        hubOptions.outbox.maxBytes = 64u << 20;
        server->hub = std::make_unique<Hub>(server->timer, hubOptions);
        server->protocol = std::make_unique<ServerProtocol>(*server->hub, server->timer);
        server->gateway = std::make_unique<qtws::QtWebSocketGateway>(*server->hub, *server->protocol);
        server->gateway->listen();
        port = server->gateway->serverPort();
        QObject::connect(&server->publisher, &QTimer::timeout, &server->publisher, [&] {
            if (!publishing)
                return;
            int burst = 0;
            while (burst < 256 && published.load() - received.load() < inFlight) {
                server->hub->broadcast("load", "m", payload);
                ++published;
                ++burst;
            }
        });
        server->publisher.start(0);
    }, Qt::BlockingQueuedConnection);

    qt::Client client;
    client.setUrl(QUrl(QStringLiteral("ws://127.0.0.1:%1/ws").arg(port)));
    client.open();
    qt::Channel *channel = client.subscribe(QStringLiteral("load"));
    QObject::connect(channel, &qt::Channel::latestChanged, channel, [&] { received = std::uint64_t(channel->received()); });
    QElapsedTimer wait;
    wait.start();
    while (!channel->subscribed() && wait.elapsed() < 10'000)
        QCoreApplication::processEvents(QEventLoop::AllEvents, 10);
    if (!channel->subscribed()) {
        std::fprintf(stderr, "could not subscribe\n");
        return 1;
    }

    // Responsiveness probe: a 10 ms timer; lateness = how much later than due each tick ran.
    std::vector<double> lateness;
    QElapsedTimer tickClock;
    QTimer probe;
    probe.setTimerType(Qt::PreciseTimer);
    qint64 lastTick = -1;
    QObject::connect(&probe, &QTimer::timeout, &probe, [&] {
        const qint64 now = tickClock.nsecsElapsed();
        if (lastTick >= 0)
            lateness.push_back(std::max(0.0, double(now - lastTick) / 1e6 - 10.0));
        lastTick = now;
    });

    publishing = true;
    QElapsedTimer clock;
    clock.start();
    while (clock.elapsed() < 500) // warm-up
        QCoreApplication::processEvents(QEventLoop::AllEvents, 10);
    const std::uint64_t startCount = received.load();
    const qint64 droppedStart = channel->messages()->dropped();
    timespec cpu0{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu0);
    tickClock.start();
    probe.start(10);
    clock.restart();
    while (clock.elapsed() < seconds * 1000)
        QCoreApplication::processEvents(QEventLoop::AllEvents, 10);
    const double elapsed = double(clock.elapsed()) / 1000.0;
    const std::uint64_t count = received.load() - startCount;
    timespec cpu1{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu1);
    const double cpu = double(cpu1.tv_sec - cpu0.tv_sec) + double(cpu1.tv_nsec - cpu0.tv_nsec) / 1e9;
    probe.stop();
    publishing = false;

    std::sort(lateness.begin(), lateness.end());
    const auto pct = [&](double p) {
        return lateness.empty() ? 0.0 : lateness[std::min(lateness.size() - 1, std::size_t(p * double(lateness.size())))];
    };
    std::printf("Client + MessageModel (capacity %d), payload %dB: %.0f messages/s absorbed; 10 ms timer lateness "
                "p50 %.2f ms, p99 %.2f ms, max %.2f ms (%zu ticks); model rows %d, %lld rotated out\n",
                channel->messages()->capacity(), payloadBytes, double(count) / elapsed, pct(0.5), pct(0.99),
                lateness.empty() ? 0.0 : lateness.back(), lateness.size(), channel->messages()->count(),
                static_cast<long long>(channel->messages()->dropped() - droppedStart));
    std::printf("  GUI thread CPU %.1f%% of the run, %.2f us CPU per message (%.0f messages/s per fully used core)\n",
                100.0 * cpu / elapsed, count ? cpu * 1e6 / double(count) : 0.0, count ? double(count) / cpu : 0.0);

    client.close();
    QMetaObject::invokeMethod(&serverContext, [&] { delete server; }, Qt::BlockingQueuedConnection);
    serverThread.quit();
    serverThread.wait();
    return 0;
}
