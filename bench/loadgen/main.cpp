// switchboard-loadgen: the load generator of the Switchboard gateway benchmark
// (docs/benchmarks.md, "Gateway load test (side by side)").

#include "LoadRun.h"
#include "Options.h"

#include <exception>
#include <iostream>

int main(int argc, char **argv)
{
    int exitCode = 0;
    const auto options = switchboard::bench::parseOptions(argc, argv, exitCode);
    if (!options)
        return exitCode;
    try {
        return switchboard::bench::runLoad(*options);
    } catch (const std::exception &e) {
        std::cerr << "switchboard-loadgen: " << e.what() << "\n";
        return 1;
    }
}
