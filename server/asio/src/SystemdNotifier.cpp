#include "SystemdNotifier.h"

#include "Log.h"

#include <systemd/sd-daemon.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

namespace switchboard::asio {

SystemdNotifier::SystemdNotifier()
{
    const char *socket = std::getenv("NOTIFY_SOCKET");
    m_enabled = socket && *socket;
    if (!m_enabled) {
        log::debug("systemd notify: NOTIFY_SOCKET not set, no notifications");
        return;
    }
    std::uint64_t usec = 0;
    const int watched = sd_watchdog_enabled(0, &usec);
    if (watched > 0 && usec > 0)
        m_watchdog = std::chrono::microseconds(usec);
    else if (watched < 0)
        log::warn("systemd notify: watchdog settings not usable (", std::strerror(-watched), "): no WATCHDOG=1");
}

void SystemdNotifier::ready(std::string_view status) const
{
    send("READY=1\nSTATUS=" + std::string(status));
}

void SystemdNotifier::stopping(std::string_view status) const
{
    send("STOPPING=1\nSTATUS=" + std::string(status));
}

void SystemdNotifier::status(std::string_view status) const
{
    send("STATUS=" + std::string(status));
}

void SystemdNotifier::watchdog() const
{
    send("WATCHDOG=1");
}

void SystemdNotifier::send(std::string_view state) const
{
    if (!m_enabled)
        return;
    const int result = sd_notify(0, std::string(state).c_str());
    if (result < 0)
        log::limited(LogLevel::Warn, "systemd notify", "systemd notify: sending to NOTIFY_SOCKET failed: " + std::string(std::strerror(-result)));
}

} // namespace switchboard::asio
