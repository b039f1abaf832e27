// gateway_launcher: starts switchboard-gateway through GatewayProcess, prints
// "gateway pid <pid>" and waits (at most 60 s) to be killed. tst_childprocesscleanup kills it with
// SIGKILL, which runs no destructor, and checks that the gateway died with it.
#include "GatewayProcess.h"

#include <QCoreApplication>
#include <QThread>

#include <cstdio>

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    gatewaytest::GatewayProcess gateway;
    if (!gateway.start()) {
        std::fprintf(stderr, "gateway_launcher: the gateway did not start\n");
        return 1;
    }
    std::printf("gateway pid %lld\n", static_cast<long long>(gateway.pid()));
    std::fflush(stdout);
    QThread::sleep(60);
    return 0;
}
