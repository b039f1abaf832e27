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

LineBudget::LineBudget(unsigned perSecond) : m_perSecond(perSecond ? perSecond : 1) {}

LineBudget::Decision LineBudget::take(std::string_view key, Clock::time_point now)
{
    std::lock_guard lock(m_mutex);
    auto it = m_windows.find(std::string(key));
    if (it == m_windows.end())
        it = m_windows.emplace(std::string(key), Window{now, 0, 0}).first;
    Window &w = it->second;
    if (now - w.start >= std::chrono::seconds(1)) {
        w.start = now;
        w.written = 0;
    }
    if (w.written >= m_perSecond) {
        ++w.suppressed;
        return {false, 0};
    }
    ++w.written;
    const std::uint64_t suppressed = w.suppressed;
    w.suppressed = 0;
    return {true, suppressed};
}

namespace {

LineBudget &budget()
{
    static LineBudget lines(kLimitedLinesPerSecond);
    return lines;
}

void writeLimited(LogLevel level, std::string_view kind, std::string line)
{
    const auto decision = budget().take(kind, LineBudget::Clock::now());
    if (!decision.write)
        return;
    if (decision.suppressed)
        line.append(" (").append(std::to_string(decision.suppressed)).append(" more suppressed)");
    write(level, line);
}

} // namespace

void limited(LogLevel level, std::string_view kind, std::string_view line)
{
    if (enabled(level))
        writeLimited(level, kind, std::string(line));
}

void refusal(std::string_view what, std::string_view peer, std::string_view user, std::string_view reason)
{
    if (!enabled(LogLevel::Info))
        return;
    std::string line = "refused ";
    line.append(what).append(": peer ").append(peer.empty() ? std::string_view("?") : peer);
    if (!user.empty())
        line.append(", user ").append(user);
    line.append(": ").append(reason);
    writeLimited(LogLevel::Info, "refused " + std::string(what), std::move(line));
}

} // namespace switchboard::asio::log
