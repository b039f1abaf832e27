#pragma once
// SystemdNotifier: switchboard-gateway's side of systemd's notify protocol (Type=notify,
// sd_notify(3) of libsystemd): READY=1, STOPPING=1, STATUS=<line> and WATCHDOG=1, sent to the
// socket named by NOTIFY_SOCKET. Without NOTIFY_SOCKET (not started by systemd, or not
// Type=notify) every call does nothing. MAINPID is implicit (the sender's pid).

#include <chrono>
#include <string_view>

namespace switchboard::asio {

class SystemdNotifier {
public:
    /// Reads NOTIFY_SOCKET and the watchdog settings (WATCHDOG_USEC, and WATCHDOG_PID when set:
    /// the watchdog is this process's only when it names this pid). Leaves the environment as is.
    SystemdNotifier();

    /// NOTIFY_SOCKET is set: notifications are sent.
    bool enabled() const { return m_enabled; }
    /// The service's watchdog interval (WatchdogSec=) when it watches this process; zero: no
    /// watchdog, send no WATCHDOG=1.
    std::chrono::microseconds watchdogInterval() const { return m_watchdog; }

    /// READY=1 with a first STATUS= line: the gateway serves.
    void ready(std::string_view status) const;
    /// STOPPING=1 with a STATUS= line: the gateway drains and shuts down.
    void stopping(std::string_view status) const;
    /// STATUS=<line>: shown by `systemctl status`. One line, no newline.
    void status(std::string_view status) const;
    /// WATCHDOG=1: the gateway is alive.
    void watchdog() const;

    // Every call is thread-safe (sd_notify opens its own socket per call) and never blocks on
    // the receiver (datagrams); a failed send is logged at warning, rate-limited.

private:
    void send(std::string_view state) const;

    bool m_enabled = false;
    std::chrono::microseconds m_watchdog{0};
};

} // namespace switchboard::asio
