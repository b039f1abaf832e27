// bench_gateway_scaling: does switchboard-gateway's throughput grow with --io-threads, and does
// its CPU per delivery stay flat? The gateway runs in this process; the clients too, but they use
// no CPU while a burst is measured, so every core the machine has can go to the gateway.
//
// For each io thread count and run: a fresh Gateway (in-memory engine) with S subscribers of one
// channel and one publisher, all WebSocket clients of this process. A burst: the publisher sends
// M publications at once (one write); the clients' event loop is *not* run, so nothing reads:
// the kernel keeps what the gateway writes in the subscribers' socket buffers (sized so that a
// burst fits). The burst ends when the gateway's /metrics shows every delivery written
// (`switchboard_frames_out_total`, polled every millisecond over one keep-alive connection).
// Measured per burst: wall time (deliveries/s) and this process's CPU time (the gateway's
// threads; the clients sleep) per delivery. Then the clients read everything, untimed, and check
// that each got every publication. Bursts repeat B times per run; the figure of a run is the
// median over its bursts.
//
// Usage: bench_gateway_scaling [--threads "1 2"] [--subscribers 1000] [--messages 24]
//                              [--bursts 20] [--runs 3] [--payload 64]
// Output: one RESULT line per run, then a table (median and min-max over the runs).
#include "IoThread.h"
#include "ProcessStats.h"
#include "WsConnection.h"

#include <switchboard/asio/Gateway.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace net = boost::asio;
namespace http = boost::beast::http;
using net::ip::tcp;
using switchboard::bench::WsConnection;

namespace {

struct Settings {
    std::vector<unsigned> threads{1, 2};
    int subscribers = 1000;
    int messages = 24;
    int bursts = 20;
    int runs = 3;
    int payload = 64;
};

[[noreturn]] void usage(const char *why)
{
    std::cerr << "bench_gateway_scaling: " << why
              << "\nusage: bench_gateway_scaling [--threads \"1 2\"] [--subscribers N] [--messages M]"
                 " [--bursts B] [--runs R] [--payload BYTES]\n";
    std::exit(2);
}

Settings parse(int argc, char **argv)
{
    Settings s;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (i + 1 >= argc)
            usage(("missing value for " + arg).c_str());
        const std::string value = argv[++i];
        auto number = [&] {
            const int n = std::atoi(value.c_str());
            if (n <= 0)
                usage(("bad value for " + arg).c_str());
            return n;
        };
        if (arg == "--threads") {
            s.threads.clear();
            std::istringstream in(value);
            for (unsigned t; in >> t;)
                s.threads.push_back(t);
            if (s.threads.empty() || std::count(s.threads.begin(), s.threads.end(), 0u))
                usage("bad --threads");
        } else if (arg == "--subscribers") s.subscribers = number();
        else if (arg == "--messages") s.messages = number();
        else if (arg == "--bursts") s.bursts = number();
        else if (arg == "--runs") s.runs = number();
        else if (arg == "--payload") s.payload = number();
        else usage(("unknown option " + arg).c_str());
    }
    return s;
}

/// A subscriber or the publisher: counts the messages of the channel it received.
class Client final : public WsConnection::Handler {
public:
    Client(net::io_context &io, std::vector<char> &scratch, std::uint64_t seed) : connection(io, scratch, seed)
    {
        connection.setHandler(this);
    }
    void onMessage(std::string_view data, bool, std::uint64_t) override
    {
        const auto value = boost::json::parse(data);
        const auto &op = value.as_object().at("op").as_string();
        if (op == "welcome")
            welcomed = true;
        else if (op == "subscribed")
            subscribed = true;
        else if (op == "message")
            ++messages;
        else if (op == "error" || op == "disconnect")
            failure += boost::json::serialize(value);
    }
    void onClosed(std::string_view why) override { failure += "closed: " + std::string(why); }

    WsConnection connection;
    bool upgraded = false;
    bool welcomed = false;
    bool subscribed = false;
    std::uint64_t messages = 0;
    std::string failure;
};

/// Runs the clients' loops (subscribers', publisher's) until `done()` or the deadline; false on
/// the deadline.
template <class F> bool runUntil(net::io_context &io, net::io_context &pubIo, F done)
{
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (!done()) {
        if (std::chrono::steady_clock::now() > deadline)
            return false;
        io.restart();
        io.run_for(std::chrono::milliseconds(2));
        pubIo.restart();
        pubIo.poll();
    }
    return true;
}

/// Reads `name` from the gateway's /metrics over one keep-alive connection.
class MetricsReader {
public:
    MetricsReader(std::uint16_t port) : m_socket(m_io) { m_socket.connect({net::ip::make_address("127.0.0.1"), port}); }
    double read(const std::string &name)
    {
        http::request<http::empty_body> request(http::verb::get, "/metrics", 11);
        request.set(http::field::host, "127.0.0.1");
        http::write(m_socket, request);
        http::response<http::string_body> response;
        http::read(m_socket, m_buffer, response);
        const std::string &body = response.body();
        const std::string key = "\n" + name + " ";
        const auto at = body.find(key);
        if (at == std::string::npos)
            throw std::runtime_error("no " + name + " in /metrics");
        return std::strtod(body.c_str() + at + key.size(), nullptr);
    }

private:
    net::io_context m_io;
    tcp::socket m_socket;
    boost::beast::flat_buffer m_buffer;
};

struct RunResult {
    double deliveriesPerSecond;
    double nsPerDelivery;
};

double median(std::vector<double> v)
{
    std::sort(v.begin(), v.end());
    return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

RunResult runOnce(const Settings &s, unsigned threads)
{
    switchboard::asio::GatewayConfig config;
    config.listen = "127.0.0.1";
    config.port = 0;
    config.ioThreads = threads;
    config.apiKey = "bench";
    config.maxConnections = static_cast<std::size_t>(s.subscribers) + 16;
    config.messagesPerSecond = 1e8;
    config.messagesBurst = 1e8;
    config.logLevel = switchboard::asio::LogLevel::Warn;
    switchboard::asio::Gateway gateway(config);
    const std::uint16_t port = gateway.listen();
    std::thread server([&] { gateway.run(); });
    struct StopServer {
        switchboard::asio::Gateway &g;
        std::thread &t;
        ~StopServer()
        {
            g.stop();
            t.join();
        }
    } stopServer{gateway, server};

    net::io_context io;    // the subscribers' loop, run only between bursts
    net::io_context pubIo; // the publisher's: its writes never run a subscriber's read
    std::vector<char> scratch(64 * 1024);
    const tcp::endpoint endpoint(net::ip::make_address("127.0.0.1"), port);
    std::vector<std::unique_ptr<Client>> clients;
    for (int i = 0; i <= s.subscribers; ++i) { // the last one publishes
        auto client = std::make_unique<Client>(i < s.subscribers ? io : pubIo, scratch, 1000 + i);
        Client *c = client.get();
        c->connection.open(endpoint, "127.0.0.1", "/ws", [c, i, &s](bool ok, std::string_view why) {
            if (!ok) {
                c->failure = "upgrade: " + std::string(why);
                return;
            }
            c->upgraded = true;
            c->connection.startReading();
            c->connection.sendText(R"({"op":"connect","version":1,"token":""})");
            c->connection.sendText(R"({"op":"subscribe","channel":"scale"})"); // publishers subscribe too
        });
        clients.push_back(std::move(client));
        if (i % 256 == 255)
            runUntil(io, pubIo, [&] { return std::all_of(clients.begin(), clients.end(), [](auto &x) { return x->upgraded || !x->failure.empty(); }); });
    }
    const bool ready = runUntil(io, pubIo, [&] {
        return std::all_of(clients.begin(), clients.end(), [](auto &c) { return (c->welcomed && c->subscribed) || !c->failure.empty(); });
    });
    for (auto &c : clients)
        if (!ready || !c->failure.empty())
            throw std::runtime_error("setup failed: " + (c->failure.empty() ? std::string("timeout") : c->failure));
    Client &publisher = *clients.back();

    std::string publishBatch;
    const std::string data(static_cast<std::size_t>(s.payload), 'x');
    const std::string frame = R"({"op":"publish","channel":"scale","event":"bench","skipSelf":true,"data":")" + data + "\"}";
    for (int m = 0; m < s.messages; ++m)
        publisher.connection.appendFrame(frame);

    MetricsReader metrics(port);
    std::vector<double> rates, costs;
    const double perBurst = double(s.subscribers) * s.messages;
    for (int b = 0; b < s.bursts; ++b) {
        const double framesBefore = metrics.read("switchboard_frames_out_total");
        const double cpuBefore = switchboard::bench::selfCpuSeconds();
        const auto start = std::chrono::steady_clock::now();
        publisher.connection.flush();
        while (publisher.connection.pendingWriteBytes() > 0) { // the publisher's loop only
            pubIo.restart();
            pubIo.run_one_for(std::chrono::milliseconds(1));
        }
        const auto deadline = start + std::chrono::seconds(30);
        while (metrics.read("switchboard_frames_out_total") < framesBefore + perBurst) {
            if (std::chrono::steady_clock::now() > deadline)
                throw std::runtime_error("burst not written within 30 s: " + std::to_string(metrics.read("switchboard_frames_out_total") - framesBefore)
                                         + (pubIo.restart(), pubIo.poll(), std::string())
                                         + " of " + std::to_string(perBurst) + " frames; publisher: " + publisher.failure);
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        const double cpu = switchboard::bench::selfCpuSeconds() - cpuBefore;
        rates.push_back(perBurst / seconds);
        costs.push_back(cpu * 1e9 / perBurst);
        // Untimed: every subscriber reads its burst (and the appended frames go out again).
        const std::uint64_t want = std::uint64_t(s.messages) * (b + 1);
        if (!runUntil(io, pubIo, [&] {
                return std::all_of(clients.begin(), clients.end() - 1, [&](auto &c) { return c->messages >= want || !c->failure.empty(); });
            }))
            throw std::runtime_error("subscribers did not get every publication");
        for (int m = 0; m < s.messages; ++m)
            publisher.connection.appendFrame(frame);
    }
    for (auto &c : clients)
        c->connection.abort();
    return {median(rates), median(costs)};
}

} // namespace

int main(int argc, char **argv)
{
    const Settings s = parse(argc, argv);
    switchboard::bench::raiseFileLimit();
    std::printf("bench_gateway_scaling: %d subscribers, bursts of %d publications of %d B, %d bursts per run, %d runs, "
                "%u hardware threads\n",
                s.subscribers, s.messages, s.payload, s.bursts, s.runs, std::thread::hardware_concurrency());
    std::map<unsigned, std::vector<RunResult>> results;
    for (int run = 0; run < s.runs; ++run)
        for (unsigned t : s.threads) { // thread counts take turns within a run
            const RunResult r = runOnce(s, t);
            results[t].push_back(r);
            std::printf("RESULT io_threads=%u run=%d deliveries_per_s=%.0f ns_per_delivery=%.0f\n", t, run + 1,
                        r.deliveriesPerSecond, r.nsPerDelivery);
            std::fflush(stdout);
        }
    std::printf("\n| io threads | deliveries/s (M), median (min-max) | CPU per delivery (ns), median (min-max) |\n|---:|---|---|\n");
    for (const auto &[t, rs] : results) {
        std::vector<double> rates, costs;
        for (const auto &r : rs) {
            rates.push_back(r.deliveriesPerSecond / 1e6);
            costs.push_back(r.nsPerDelivery);
        }
        std::printf("| %u | %.2f (%.2f-%.2f) | %.0f (%.0f-%.0f) |\n", t, median(rates), *std::min_element(rates.begin(), rates.end()),
                    *std::max_element(rates.begin(), rates.end()), median(costs), *std::min_element(costs.begin(), costs.end()),
                    *std::max_element(costs.begin(), costs.end()));
    }
    return 0;
}
