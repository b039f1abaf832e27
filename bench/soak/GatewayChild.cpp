#include "GatewayChild.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <regex>
#include <thread>

namespace switchboard::bench {

namespace {
using Clock = std::chrono::steady_clock;
}

bool GatewayChild::start(const std::string &program, const std::vector<std::string> &args,
                         std::chrono::milliseconds timeout)
{
    int out[2];
    if (pipe2(out, O_CLOEXEC) != 0) {
        m_error = std::string("pipe: ") + std::strerror(errno);
        return false;
    }
    std::vector<std::string> argvStrings{program};
    argvStrings.insert(argvStrings.end(), args.begin(), args.end());
    std::vector<char *> argv;
    for (auto &arg : argvStrings)
        argv.push_back(arg.data());
    argv.push_back(nullptr);

    const pid_t parent = getpid();
    const pid_t pid = fork();
    if (pid < 0) {
        m_error = std::string("fork: ") + std::strerror(errno);
        close(out[0]);
        close(out[1]);
        return false;
    }
    if (pid == 0) {
        // Child: die with the soak, even if it is killed before it can stop us.
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        dup2(out[1], STDOUT_FILENO);
        execv(program.c_str(), argv.data());
        _exit(127);
    }
    close(out[1]);
    m_pid = pid;
    m_stdout = out[0];

    const std::regex listening(R"(listening on 127\.0\.0\.1:(\d+))");
    std::string text;
    const auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        pollfd p{m_stdout, POLLIN, 0};
        if (poll(&p, 1, static_cast<int>(std::max<std::int64_t>(1, left.count()))) <= 0)
            continue;
        char buffer[1024];
        const ssize_t n = read(m_stdout, buffer, sizeof buffer);
        if (n <= 0) {
            m_error = "the gateway exited before listening (see its messages above)";
            stop();
            return false;
        }
        text.append(buffer, static_cast<std::size_t>(n));
        std::smatch match;
        if (std::regex_search(text, match, listening)) {
            m_port = static_cast<unsigned short>(std::stoul(match[1].str()));
            return true;
        }
    }
    m_error = "no \"listening on 127.0.0.1:PORT\" line within the start timeout";
    stop();
    return false;
}

bool GatewayChild::running()
{
    if (m_pid <= 0)
        return false;
    int status = 0;
    if (waitpid(m_pid, &status, WNOHANG) == m_pid) {
        m_pid = 0;
        return false;
    }
    return true;
}

void GatewayChild::stop()
{
    if (m_pid > 0) {
        kill(m_pid, SIGTERM);
        const auto deadline = Clock::now() + std::chrono::seconds(5);
        int status = 0;
        while (waitpid(m_pid, &status, WNOHANG) == 0) {
            if (Clock::now() >= deadline) {
                kill(m_pid, SIGKILL);
                waitpid(m_pid, &status, 0);
                break;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        m_pid = 0;
    }
    if (m_stdout >= 0) {
        close(m_stdout);
        m_stdout = -1;
    }
}

} // namespace switchboard::bench
