// switchboard-gateway: parse the configuration, start the Gateway, serve until SIGTERM/SIGINT.
#include <switchboard/asio/Gateway.h>

#include <cstdio>
#include <exception>
#include <iostream>

int main(int argc, char *argv[])
{
    using namespace switchboard::asio;
    const ConfigParse parsed = parseCommandLine(argc, argv, std::cout, std::cerr);
    if (!parsed.config)
        return parsed.exitCode;
    try {
        Gateway gateway(*parsed.config);
        const auto port = gateway.listen();
        if (gateway.generatedApiKey())
            std::cout << "api key: " << gateway.apiKey() << " (generated; set --api-key)\n";
        if (gateway.generatedTokenSecret())
            std::cout << "development token: " << gateway.developmentToken() << " (random secret; set --token-secret)\n";
        std::cout << "listening on " << parsed.config->listen << ':' << port << std::endl;
        return gateway.run();
    } catch (const std::exception &e) {
        std::cerr << "switchboard-gateway: " << e.what() << std::endl;
        return 1;
    }
}
