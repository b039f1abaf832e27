#include "IoThread.h"

#include <boost/asio/executor_work_guard.hpp>

namespace switchboard::bench {

void IoThread::start(bool busyPoll)
{
    m_thread = std::thread([this, busyPoll] {
        auto guard = boost::asio::make_work_guard(m_io);
        if (busyPoll) {
            while (!m_io.stopped())
                m_io.poll();
        } else {
            m_io.run();
        }
    });
}

void IoThread::stop()
{
    if (!m_thread.joinable())
        return;
    m_io.stop();
    m_thread.join();
}

} // namespace switchboard::bench
