#include "ProcessStats.h"

#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace switchboard::bench {

std::optional<ProcessSample> sampleProcess(int pid)
{
    const std::string base = "/proc/" + std::to_string(pid);
    ProcessSample sample;

    std::ifstream status(base + "/status");
    if (!status)
        return std::nullopt;
    std::string line;
    bool haveRss = false;
    while (std::getline(status, line)) {
        if (line.rfind("VmRSS:", 0) == 0) {
            std::istringstream fields(line.substr(6));
            std::uint64_t kib = 0;
            fields >> kib;
            sample.rssBytes = kib * 1024;
            haveRss = true;
            break;
        }
    }

    // /proc/PID/stat: the command name is in parentheses and may hold spaces; utime and stime
    // are the 12th and 13th fields after the closing parenthesis.
    std::ifstream statFile(base + "/stat");
    std::string stat((std::istreambuf_iterator<char>(statFile)), std::istreambuf_iterator<char>());
    const auto close = stat.rfind(')');
    if (!haveRss || close == std::string::npos)
        return std::nullopt;
    std::istringstream fields(stat.substr(close + 2));
    std::string field;
    unsigned long long utime = 0;
    unsigned long long stime = 0;
    for (int i = 0; i < 13 && fields >> field; ++i) {
        if (i == 11)
            utime = std::stoull(field);
        else if (i == 12)
            stime = std::stoull(field);
    }
    sample.cpuSeconds = static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
    return sample;
}

std::optional<std::size_t> countOpenFiles(int pid)
{
    std::error_code ec;
    std::filesystem::directory_iterator it("/proc/" + std::to_string(pid) + "/fd", ec);
    if (ec)
        return std::nullopt;
    std::size_t count = 0;
    for (; it != std::filesystem::directory_iterator(); it.increment(ec)) {
        if (ec)
            return std::nullopt;
        ++count;
    }
    return count;
}

std::optional<double> loadAverage()
{
    std::ifstream file("/proc/loadavg");
    double oneMinute = 0;
    if (!(file >> oneMinute))
        return std::nullopt;
    return oneMinute;
}

double selfCpuSeconds()
{
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    auto seconds = [](const timeval &tv) { return static_cast<double>(tv.tv_sec) + tv.tv_usec / 1e6; };
    return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

std::uint64_t raiseFileLimit()
{
    rlimit limit{};
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0)
        return 0;
    if (limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        setrlimit(RLIMIT_NOFILE, &limit);
        getrlimit(RLIMIT_NOFILE, &limit);
    }
    return limit.rlim_cur;
}

} // namespace switchboard::bench
