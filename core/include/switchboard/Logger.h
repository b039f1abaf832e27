#pragma once
// Logger: where core components that run on the user's side (ClientSession) say what they do.
// The Qt layer forwards to QLoggingCategory, the browser layer to the console.

#include <functional>
#include <string_view>

namespace switchboard {

enum class LogLevel { Debug, Info, Warning, Error };

constexpr std::string_view logLevelName(LogLevel level) noexcept
{
    switch (level) {
    case LogLevel::Debug: return "debug";
    case LogLevel::Info: return "info";
    case LogLevel::Warning: return "warning";
    case LogLevel::Error: return "error";
    }
    return "info";
}

/// Called with one line (no trailing newline), on the thread that drives the component. It may
/// not call back into the component. Empty: nothing is formatted, nothing is logged.
using Logger = std::function<void(LogLevel level, std::string_view message)>;

} // namespace switchboard
