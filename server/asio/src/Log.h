#pragma once
// Log: leveled, timestamped lines on stderr. Thread-safe (one line is written atomically).

#include "switchboard/asio/GatewayConfig.h"

#include <chrono>
#include <cstdint>
#include <mutex>
#include <sstream>
#include <string>
#include <string_view>
#include <unordered_map>

namespace switchboard::asio::log {

void setLevel(LogLevel level);
bool enabled(LogLevel level);
void write(LogLevel level, std::string_view line);

template <class... Args>
void at(LogLevel level, const Args &...args)
{
    if (!enabled(level))
        return;
    std::ostringstream s;
    (s << ... << args);
    write(level, s.str());
}
template <class... Args> void debug(const Args &...a) { at(LogLevel::Debug, a...); }
template <class... Args> void info(const Args &...a) { at(LogLevel::Info, a...); }
template <class... Args> void warn(const Args &...a) { at(LogLevel::Warn, a...); }
template <class... Args> void error(const Args &...a) { at(LogLevel::Error, a...); }

/// A budget of log lines per second for each kind of line, so that a flood of one kind of
/// event (a client sending garbage, an attacker opening sockets) cannot flood the log or slow
/// the io threads down. Thread-safe (one mutex; callers hold it for a map lookup only).
class LineBudget {
public:
    using Clock = std::chrono::steady_clock;

    /// `perSecond` lines of each kind per one-second window (at least 1).
    explicit LineBudget(unsigned perSecond);

    struct Decision {
        bool write = false;           ///< false: over budget, suppress this line
        std::uint64_t suppressed = 0; ///< when writing: lines of this kind suppressed since the last written one
    };
    /// Spends one line of kind `key` at `now`.
    Decision take(std::string_view key, Clock::time_point now);

private:
    struct Window {
        Clock::time_point start;
        unsigned written = 0;
        std::uint64_t suppressed = 0;
    };
    unsigned m_perSecond;
    std::mutex m_mutex;
    std::unordered_map<std::string, Window> m_windows;
};

/// Lines per second per kind allowed by limited() and refusal().
inline constexpr unsigned kLimitedLinesPerSecond = 10;
/// Writes `line` at `level`, at most kLimitedLinesPerSecond lines per second of kind `kind`; the
/// next line written after a flood ends with `(K more suppressed)`. Thread-safe.
void limited(LogLevel level, std::string_view kind, std::string_view line);

/// Lines per second per kind allowed by refusal().
inline constexpr unsigned kRefusalLinesPerSecond = kLimitedLinesPerSecond;

/// Logs a refused client at info level, rate-limited per `what` (kRefusalLinesPerSecond lines
/// per second; the next line written after a flood says how many were suppressed):
///   `refused <what>: peer <peer>, user <user>: <reason>` (user left out when empty).
/// `what` names the kind of refusal ("connection limit", "header timeout", ...); keep it to a
/// few fixed strings, it is the key of the budget. Thread-safe; callable from any thread.
void refusal(std::string_view what, std::string_view peer, std::string_view user, std::string_view reason);

} // namespace switchboard::asio::log
