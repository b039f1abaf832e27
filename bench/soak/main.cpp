// switchboard-soak: the gateway soak benchmark (docs/benchmarks.md, "Soak").

#include "SoakOptions.h"
#include "SoakRun.h"

#include <exception>
#include <iostream>

int main(int argc, char **argv)
{
    int exitCode = 0;
    const auto options = switchboard::bench::parseSoakOptions(argc, argv, exitCode);
    if (!options)
        return exitCode;
    try {
        return switchboard::bench::runSoak(*options);
    } catch (const std::exception &e) {
        std::cerr << "switchboard-soak: " << e.what() << "\n";
        return 1;
    }
}
