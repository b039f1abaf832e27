#include "SoakOptions.h"

#include "Payload.h"

#include <boost/program_options.hpp>

#include <iostream>

namespace switchboard::bench {

namespace po = boost::program_options;

std::optional<SoakOptions> parseSoakOptions(int argc, char **argv, int &exitCode)
{
    SoakOptions o;
    po::options_description desc(
        "switchboard-soak: keeps N WebSocket subscribers churning against a Switchboard gateway\n"
        "(connect, subscribe, receive, leave with a clean close or a TCP reset, replaced by a new\n"
        "one) while publishing at a steady rate over the HTTP API. Every report interval prints\n"
        "one row: connections, connects/s, deliveries/s, lost deliveries and the gateway's fds,\n"
        "RSS and CPU. Exits 1 when a connected subscriber lost a message, a connection failed\n"
        "or the gateway's fds or RSS grew beyond the bounds.\n\nOptions");
    desc.add_options()
        ("help,h", "print this help")
        ("url", po::value(&o.url), "base URL of a running gateway (http://127.0.0.1:8080 or ws://...)")
        ("spawn", po::value(&o.spawn),
         "start this switchboard-gateway on 127.0.0.1, port 0 (it dies with the soak)")
        ("gateway-arg", po::value(&o.gatewayArgs)->composing(),
         "extra flag for the started gateway (repeatable, e.g. --gateway-arg=--io-threads=1)")
        ("gateway-pid", po::value(&o.gatewayPid), "with --url: the gateway process to sample")
        ("api-key", po::value(&o.apiKey), "HTTP API key (with --spawn: random unless given)")
        ("token-secret", po::value(&o.tokenSecret),
         "token secret: every connection gets its own signed token (with --spawn: random unless given)")
        ("connections,n", po::value(&o.connections)->default_value(o.connections), "subscriber connections")
        ("churn", po::value(&o.churn)->default_value(o.churn),
         "connections replaced per second (random lifetimes around connections/churn seconds)")
        ("channels", po::value(&o.channels)->default_value(o.channels), "channels published to")
        ("channels-per-connection", po::value(&o.channelsPerConnection)->default_value(o.channelsPerConnection),
         "channels each connection subscribes to")
        ("publish-rate", po::value(&o.publishRate)->default_value(o.publishRate),
         "publications per second over all channels (HTTP API, batched while a request is in flight)")
        ("payload", po::value(&o.payload)->default_value(o.payload), "bytes of each publication's data")
        ("reset-fraction", po::value(&o.resetFraction)->default_value(o.resetFraction),
         "share of leaving connections that reset the TCP connection instead of closing cleanly")
        ("connect-concurrency", po::value(&o.connectConcurrency)->default_value(o.connectConcurrency),
         "upgrades in progress at once")
        ("duration", po::value(&o.duration)->default_value(o.duration), "seconds of churn and publishing")
        ("report-interval", po::value(&o.reportInterval)->default_value(o.reportInterval),
         "seconds between report rows")
        ("drain-timeout", po::value(&o.drainTimeout)->default_value(o.drainTimeout),
         "seconds a leaving subscriber waits for the publications acknowledged before it left")
        ("close-timeout", po::value(&o.closeTimeout)->default_value(o.closeTimeout),
         "seconds allowed for the closing handshake (then a reset, counted)")
        ("seed", po::value(&o.seed)->default_value(o.seed), "random seed (0: from the clock)")
        ("max-fd-growth", po::value(&o.maxFdGrowth)->default_value(o.maxFdGrowth),
         "most gateway fds the last row may have over the first")
        ("max-rss-growth", po::value(&o.maxRssGrowthMiB)->default_value(o.maxRssGrowthMiB),
         "most gateway RSS (MiB) the last row may have over the first");

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
        std::cerr << "switchboard-soak: " << e.what() << "\n(see --help)\n";
        exitCode = 2;
        return std::nullopt;
    }

    auto reject = [&](const std::string &why) -> std::optional<SoakOptions> {
        std::cerr << "switchboard-soak: " << why << "\n";
        exitCode = 2;
        return std::nullopt;
    };
    if (o.url.empty() == o.spawn.empty())
        return reject("give exactly one of --url and --spawn");
    if (!o.url.empty() && o.apiKey.empty())
        return reject("--url needs --api-key");
    if (o.connections == 0 || o.channels == 0 || o.channelsPerConnection == 0 || o.connectConcurrency == 0)
        return reject("--connections, --channels, --channels-per-connection and --connect-concurrency must be positive");
    if (o.channelsPerConnection > o.channels)
        return reject("--channels-per-connection must not exceed --channels");
    if (o.churn < 0 || o.publishRate <= 0 || o.duration <= 0 || o.reportInterval <= 0 || o.drainTimeout < 0
        || o.closeTimeout <= 0)
        return reject("--churn must not be negative; --publish-rate, --duration, --report-interval and "
                      "--close-timeout must be positive");
    if (o.resetFraction < 0 || o.resetFraction > 1)
        return reject("--reset-fraction is a share between 0 and 1");
    if (o.payload < Payload::minimumSize())
        return reject("--payload must be at least " + std::to_string(Payload::minimumSize()));
    exitCode = 0;
    return o;
}

} // namespace switchboard::bench
