#pragma once
// A switchboard-gateway child process on 127.0.0.1, port 0: started with the soak, never
// outliving it (PR_SET_PDEATHSIG kills it if the soak dies; the destructor stops it).
//
// Thread safety: none; owned and used by the soak's main thread.

#include <chrono>
#include <string>
#include <vector>

namespace switchboard::bench {

class GatewayChild
{
public:
    GatewayChild() = default;
    ~GatewayChild() { stop(); }
    GatewayChild(const GatewayChild &) = delete;
    GatewayChild &operator=(const GatewayChild &) = delete;

    /// Starts `program` with `args` and waits (bounded by `timeout`) for its "listening on
    /// 127.0.0.1:PORT" line. Returns false, with error() saying why, if it does not come.
    bool start(const std::string &program, const std::vector<std::string> &args,
               std::chrono::milliseconds timeout);

    int pid() const { return m_pid; }
    unsigned short port() const { return m_port; }
    const std::string &error() const { return m_error; }
    /// False once the process has exited (reaps it).
    bool running();
    /// SIGTERM, then SIGKILL if it has not exited within 5 s.
    void stop();

private:
    int m_pid = 0;
    int m_stdout = -1; // kept open: the gateway must never write to a closed pipe
    unsigned short m_port = 0;
    std::string m_error;
};

} // namespace switchboard::bench
