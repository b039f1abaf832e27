#include "Log.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>

namespace switchboard::asio::log {

namespace {
std::atomic<LogLevel> g_level{LogLevel::Info};
constexpr const char *kNames[] = {"TRACE", "DEBUG", "INFO", "WARN", "ERROR", "OFF"};
}

void setLevel(LogLevel level) { g_level.store(level, std::memory_order_relaxed); }

bool enabled(LogLevel level)
{
    return level >= g_level.load(std::memory_order_relaxed) && level != LogLevel::Off;
}

void write(LogLevel level, std::string_view line)
{
    using namespace std::chrono;
    const auto now = system_clock::now();
    const std::time_t secs = system_clock::to_time_t(now);
    const auto ms = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char stamp[32];
    std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    // One fprintf per line: stdio locks the stream, so lines from io threads never interleave.
    std::fprintf(stderr, "%s.%03dZ %-5s %.*s\n", stamp, static_cast<int>(ms), kNames[static_cast<int>(level)],
                 static_cast<int>(line.size()), line.data());
}

} // namespace switchboard::asio::log
