#pragma once
// IoThreads: the gateway's io threads, every one running the one shared io_context. When probed
// (the systemd watchdog), each thread runs the io_context in slices and answers the probes
// addressed to it between two slices: a thread stuck in a handler answers none, even while the
// other threads keep the io_context going.

#include "EventLoopWatchdog.h"

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

namespace switchboard::asio {

class IoThreads {
public:
    /// `count` threads (at least 1) for `ioc`, which must outlive this object.
    IoThreads(boost::asio::io_context &ioc, unsigned count);

    /// Before run(): threads answer probes, within `slice` of their arrival when idle.
    void enableProbes(std::chrono::milliseconds slice);
    /// One probe per thread, for EventLoopWatchdog (after enableProbes()). A probe may be called
    /// from any thread; the answer runs on the probed io thread.
    std::vector<EventLoopWatchdog::Probe> probes();

    /// Runs the io_context on `count` threads, the calling thread among them, until it is
    /// stopped (or runs out of work); joins the others before returning.
    void run();

private:
    struct Mailbox {
        std::mutex mutex;
        std::vector<EventLoopWatchdog::Answer> answers;
    };
    void runThread(Mailbox &mailbox);

    boost::asio::io_context &m_ioc;
    unsigned m_count;
    std::chrono::milliseconds m_slice{0}; ///< zero: not probed, plain io_context::run()
    std::vector<std::unique_ptr<Mailbox>> m_mailboxes;
};

} // namespace switchboard::asio
