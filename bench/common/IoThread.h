#pragma once
// One io_context run by one thread: the event loop of a benchmark client. Everything a
// connection does happens on this thread, so connections need no locks.
//
// Thread safety: context() may be used from any thread to post work; start(), runSync() and
// stop() are called by the thread that owns the IoThread (never from inside the loop).

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <future>
#include <thread>

namespace switchboard::bench {

class IoThread
{
public:
    IoThread() = default;
    /// Stops the loop and joins the thread (pending handlers are not run).
    ~IoThread() { stop(); }
    IoThread(const IoThread &) = delete;
    IoThread &operator=(const IoThread &) = delete;

    boost::asio::io_context &context() { return m_io; }

    /// Starts the thread. With `busyPoll` it polls for readiness without ever sleeping in
    /// epoll_wait (on loopback a sleeping reader adds its wake-up to the sender's cost), and
    /// takes a whole core.
    void start(bool busyPoll = false);

    /// Runs `f` on the loop and returns its result; the calling thread waits.
    template <typename F>
    auto runSync(F f) -> decltype(f())
    {
        std::packaged_task<decltype(f())()> task(std::move(f));
        auto result = task.get_future();
        boost::asio::post(m_io, [&task] { task(); });
        return result.get();
    }

    bool running() const { return m_thread.joinable(); }
    /// Stops the loop and joins the thread; nothing runs on it afterwards.
    void stop();

private:
    boost::asio::io_context m_io{1};
    std::thread m_thread;
};

} // namespace switchboard::bench
