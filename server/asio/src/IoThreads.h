#pragma once
// IoThreads: the gateway's io threads, each running its io_context: the gateway gives every
// thread its own (its shard of the connections, IoShards.h); several threads may also share one.
// When probed (the systemd watchdog), each thread runs its io_context in slices and answers the
// probes addressed to it between two slices: a thread stuck in a handler answers none, even while
// the other threads keep going.

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
    /// `count` threads (at least 1) sharing `ioc`, which must outlive this object.
    IoThreads(boost::asio::io_context &ioc, unsigned count);
    /// One thread per entry (at least one), thread i running `perThread[i]`; entries may repeat.
    /// The io_contexts must outlive this object.
    explicit IoThreads(std::vector<boost::asio::io_context *> perThread);

    /// Before run(): threads answer probes, within `slice` of their arrival when idle.
    void enableProbes(std::chrono::milliseconds slice);
    /// One probe per thread, for EventLoopWatchdog (after enableProbes()). A probe may be called
    /// from any thread; the answer runs on the probed io thread.
    std::vector<EventLoopWatchdog::Probe> probes();

    /// Runs the threads, the calling thread as the first, each until its io_context is stopped
    /// (or runs out of work); joins the others before returning.
    void run();

private:
    struct Mailbox {
        std::mutex mutex;
        std::vector<EventLoopWatchdog::Answer> answers;
    };
    void runThread(boost::asio::io_context &ioc, Mailbox &mailbox);

    std::vector<boost::asio::io_context *> m_contexts; ///< one per thread
    std::chrono::milliseconds m_slice{0}; ///< zero: not probed, plain io_context::run()
    std::vector<std::unique_ptr<Mailbox>> m_mailboxes;
};

} // namespace switchboard::asio
