// The whole gateway behind one TCP connection: HTTP parsing and routing, the HTTP API, /sse,
// /metrics, static files and WebSocket upgrades followed by client frames (on /ws, and on the
// Pusher endpoint of the app whose key is fuzz-app-key), all in the real
// Gateway (its io threads, the core lock, the Hub). Each input is written raw to a new
// connection to 127.0.0.1, the write side is shut, and the answer is read until the gateway
// closes. Invariants: the gateway never crashes (ASan, UBSan), answers with an HTTP status line
// or nothing, and closes every connection within 10 s of the client's end of input.
#include "FuzzSupport.h"

#include <switchboard/asio/Gateway.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>

using namespace switchboard::asio;

namespace {

std::uint16_t g_port = 0;

/// Starts one gateway for the whole run; it is never stopped (it lives until the process exits).
void startGateway()
{
    GatewayConfig config;
    config.port = 0;
    config.apiKey = "fuzz-key";
    config.tokenSecret = "fuzz-secret";
    config.ioThreads = 2;
    config.logLevel = LogLevel::Off;
    config.maxBodyBytes = 64 * 1024;
    config.maxFrameBytes = 16 * 1024;
    config.sseHeartbeat = std::chrono::seconds(1);
    config.drainTimeout = std::chrono::milliseconds(100);
    config.staticDir = "/nonexistent-switchboard-fuzz-web";
    config.pusherApps = {switchboard::PusherApp{"1", "fuzz-app-key", "fuzz-app-secret"}};
    auto *gateway = new Gateway(config); // reachable until exit: not a leak
    g_port = gateway->listen();
    std::thread([gateway] { gateway->run(); }).detach();
}

/// Connects `fd` to the gateway. libFuzzer's timeout alarm (SIGALRM, every few seconds) can
/// interrupt connect(): the connection then completes in the background, so wait for it
/// instead of taking EINTR for a refusal.
void connectOrAbort(int fd, const sockaddr_in &address)
{
    if (::connect(fd, reinterpret_cast<const sockaddr *>(&address), sizeof address) == 0)
        return;
    int error = errno;
    if (error == EINTR || error == EINPROGRESS) {
        pollfd p{fd, POLLOUT, 0};
        int ready = 0;
        do
            ready = ::poll(&p, 1, 10'000);
        while (ready < 0 && errno == EINTR);
        socklen_t length = sizeof error;
        if (ready == 1 && ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) == 0 && error == 0)
            return;
        if (ready != 1)
            error = ready == 0 ? ETIMEDOUT : errno;
    }
    std::fprintf(stderr, "connect to the gateway failed: %s\n", std::strerror(error));
    std::abort();
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int *, char ***)
{
    startGateway();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    FUZZ_CHECK(fd >= 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(g_port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connectOrAbort(fd, address);
    std::size_t sent = 0;
    while (sent < size) {
        const ssize_t n = ::send(fd, data + sent, size - sent, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break; // the gateway closed early (a refused request): fine
        sent += std::size_t(n);
    }
    ::shutdown(fd, SHUT_WR);

    std::string answer;
    char buffer[16 * 1024];
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (true) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) {
            std::fprintf(stderr, "the gateway kept the connection open 10 s after the input ended\n");
            std::abort();
        }
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, int(left.count())) <= 0)
            continue;
        const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break; // closed (or reset)
        if (answer.size() < 64)
            answer.append(buffer, std::size_t(n));
    }
    ::close(fd);
    FUZZ_CHECK(answer.empty() || answer.rfind("HTTP/1.", 0) == 0);
    return 0;
}
