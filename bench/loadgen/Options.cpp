#include "Options.h"

#include "Payload.h"

#include <boost/program_options.hpp>

#include <iostream>
#include <thread>

namespace switchboard::bench {

namespace po = boost::program_options;

std::optional<Options> parseOptions(int argc, char **argv, int &exitCode)
{
    Options o;
    std::string protocol;
    std::string encoding;
    std::vector<std::string> samplePids;
    po::options_description desc(
        "switchboard-loadgen: opens N WebSocket subscribers on one channel, publishes stamped messages\n"
        "through one more connection, and reports deliveries/s, latency percentiles, handshakes/s\n"
        "and the server's memory per connection.\n\nOptions");
    desc.add_options()
        ("help,h", "print this help")
        ("protocol", po::value(&protocol)->required(),
         "switchboard (protocol v1), ws (plain broadcast server), nats (NATS over WebSocket) or pusher (Pusher "
         "protocol 7 subscribers on /app/KEY, a native switchboard publisher on pusher/APP_ID/CHANNEL)")
        ("host", po::value(&o.host)->default_value(o.host), "server address (IPv4 or IPv6 literal)")
        ("port", po::value(&o.port)->required(), "server WebSocket port")
        ("publisher-port", po::value(&o.publisherPort),
         "WebSocket port of the publisher's connection (default: --port); e.g. another node of a cluster")
        ("path", po::value(&o.path),
         "WebSocket path of the subscribers (default /ws for switchboard, "
         "/app/KEY?protocol=7&client=js&version=8.4.0 for pusher, / otherwise)")
        ("publisher-path", po::value(&o.publisherPath),
         "WebSocket path of the publisher (default /ws for pusher, --path otherwise)")
        ("pusher-key", po::value(&o.session.pusherKey)->default_value(o.session.pusherKey),
         "pusher: the app key (gateway --pusher-app ID:KEY:SECRET)")
        ("pusher-app-id", po::value(&o.session.pusherAppId)->default_value(o.session.pusherAppId),
         "pusher: the app id; the publisher publishes on the native channel pusher/ID/CHANNEL")
        ("channel", po::value(&o.session.channel)->default_value(o.session.channel), "channel / subject")
        ("token", po::value(&o.session.token), "switchboard connection token (default: none)")
        ("connections,n", po::value(&o.connections)->default_value(o.connections), "subscriber connections")
        ("payload", po::value(&o.payload)->default_value(o.payload),
         "payload bytes per message (at least 37: the stamp)")
        ("rate", po::value(&o.rate)->default_value(o.rate),
         "messages published per second (each goes to every subscriber); 0 publishes flat out")
        ("window", po::value(&o.window)->default_value(o.window),
         "most messages in flight: published and not yet received by every subscriber")
        ("publish-delay", po::value(&o.publishDelay)->default_value(o.publishDelay),
         "seconds to wait after printing \"ready to publish\" (everything subscribed, publisher ready) before "
         "publishing: time for a script to sample the servers (e.g. reset Redis' command statistics)")
        ("warmup", po::value(&o.warmup)->default_value(o.warmup), "seconds of publishing before measuring")
        ("duration", po::value(&o.duration)->default_value(o.duration), "seconds measured")
        ("io-threads", po::value(&o.ioThreads)->default_value(o.ioThreads), "io threads of the load generator")
        ("busy-poll", po::bool_switch(&o.busyPoll), "io threads poll for readiness without sleeping (each takes a whole core)")
        ("connect-concurrency", po::value(&o.connectConcurrency)->default_value(o.connectConcurrency),
         "upgrades in progress at once")
        ("server-pid", po::value(&o.serverPid)->default_value(o.serverPid),
         "PID of the server: its RSS before and after opening the connections, and its CPU time")
        ("stall-timeout", po::value(&o.stallTimeout)->default_value(o.stallTimeout),
         "seconds after which a message not yet received by every subscriber counts as lost")
        ("memory-warmup", po::value(&o.memoryWarmup)->default_value(o.memoryWarmup),
         "with --server-pid: clients that connect, subscribe and leave before the server's memory is first "
         "sampled, so that what it pays once (code paged in on first use, its tables' first allocations) is "
         "not counted per connection; 0 samples the server as started")
        ("setup-timeout", po::value(&o.setupTimeout)->default_value(o.setupTimeout),
         "seconds allowed to open and subscribe every connection")
        ("sample-pid", po::value(&samplePids)->composing(),
         "NAME=PID: also report the CPU of this process over the window (cpu_NAME_pct in RESULT); repeatable")
        ("label", po::value(&o.label), "name of the server in the RESULT line")
        ("encoding", po::value(&encoding)->default_value("json"),
         "switchboard: json, or binary (the subprotocol switchboard.v1.binary, required of the server)")
        ("subscribe-after-welcome", po::bool_switch(&o.session.subscribeAfterWelcome),
         "switchboard: send subscribe once welcome arrives (one round trip more), as Switchboard's clients "
         "did before 2026-12-07; by default it goes right behind connect, in the same write, as ClientSession sends it");

    po::variables_map vm;
    try {
        po::store(po::parse_command_line(argc, argv, desc), vm);
        if (vm.count("help")) {
            std::cout << desc << "\n";
            exitCode = 0;
            return std::nullopt;
        }
        po::notify(vm);
    } catch (const po::error &e) {
        std::cerr << "switchboard-loadgen: " << e.what() << "\n(see --help)\n";
        exitCode = 2;
        return std::nullopt;
    }

    auto reject = [&](const std::string &why) -> std::optional<Options> {
        std::cerr << "switchboard-loadgen: " << why << "\n";
        exitCode = 2;
        return std::nullopt;
    };
    if (protocol == "switchboard")
        o.session.protocol = Protocol::Switchboard;
    else if (protocol == "ws")
        o.session.protocol = Protocol::WsBroadcast;
    else if (protocol == "nats")
        o.session.protocol = Protocol::Nats;
    else if (protocol == "pusher")
        o.session.protocol = Protocol::Pusher;
    else
        return reject("unknown --protocol " + protocol);
    if (encoding != "json" && encoding != "binary")
        return reject("--encoding must be json or binary");
    o.session.binaryEncoding = encoding == "binary";
    if (o.session.binaryEncoding && o.session.protocol != Protocol::Switchboard)
        return reject("--encoding binary is for --protocol switchboard");
    if (o.session.subscribeAfterWelcome && o.session.protocol != Protocol::Switchboard)
        return reject("--subscribe-after-welcome is for --protocol switchboard");
    if (o.path.empty())
        o.path = defaultPath(o.session);
    if (o.publisherPath.empty())
        o.publisherPath = o.session.protocol == Protocol::Pusher ? defaultPublisherPath(o.session) : o.path;
    if (o.payload < Payload::minimumSize())
        return reject("--payload must be at least " + std::to_string(Payload::minimumSize()));
    if (o.connections == 0 || o.ioThreads == 0 || o.connectConcurrency == 0 || o.window == 0)
        return reject("--connections, --io-threads, --connect-concurrency and --window must be positive");
    if (o.rate < 0 || o.duration <= 0 || o.warmup < 0 || o.publishDelay < 0)
        return reject("--rate, --warmup and --publish-delay must not be negative, --duration must be positive");
    for (const std::string &entry : samplePids) {
        const auto eq = entry.find('=');
        int pid = 0;
        try {
            pid = eq == std::string::npos ? 0 : std::stoi(entry.substr(eq + 1));
        } catch (const std::exception &) {
        }
        if (eq == 0 || pid <= 0 || entry.find_first_of(" \t", 0) != std::string::npos)
            return reject("--sample-pid wants NAME=PID, got " + entry);
        o.samplePids.emplace_back(entry.substr(0, eq), pid);
    }
    if (o.publisherPort == 0)
        o.publisherPort = o.port;
    if (o.label.empty())
        o.label = protocol;
    exitCode = 0;
    return o;
}

} // namespace switchboard::bench
