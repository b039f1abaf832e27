#pragma once
// Log: leveled, timestamped lines on stderr. Thread-safe (one line is written atomically).

#include "switchboard/asio/GatewayConfig.h"

#include <sstream>
#include <string_view>

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

} // namespace switchboard::asio::log
