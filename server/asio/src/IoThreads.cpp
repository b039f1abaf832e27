#include "IoThreads.h"

#include <algorithm>
#include <thread>

namespace switchboard::asio {

IoThreads::IoThreads(boost::asio::io_context &ioc, unsigned count) : m_ioc(ioc), m_count(std::max(1u, count))
{
    for (unsigned i = 0; i < m_count; ++i)
        m_mailboxes.push_back(std::make_unique<Mailbox>());
}

void IoThreads::enableProbes(std::chrono::milliseconds slice)
{
    m_slice = std::max(slice, std::chrono::milliseconds(1));
}

std::vector<EventLoopWatchdog::Probe> IoThreads::probes()
{
    std::vector<EventLoopWatchdog::Probe> out;
    for (auto &mailbox : m_mailboxes)
        out.emplace_back([box = mailbox.get()](EventLoopWatchdog::Answer answer) {
            std::lock_guard lock(box->mutex);
            box->answers.push_back(std::move(answer));
        });
    return out;
}

void IoThreads::runThread(Mailbox &mailbox)
{
    if (m_slice.count() == 0) {
        m_ioc.run();
        return;
    }
    std::vector<EventLoopWatchdog::Answer> answers;
    for (;;) {
        m_ioc.run_for(m_slice);
        {
            std::lock_guard lock(mailbox.mutex);
            answers.swap(mailbox.answers);
        }
        for (auto &answer : answers)
            answer();
        answers.clear();
        if (m_ioc.stopped())
            return;
    }
}

void IoThreads::run()
{
    std::vector<std::thread> threads;
    threads.reserve(m_count - 1);
    for (unsigned i = 1; i < m_count; ++i)
        threads.emplace_back([this, i] { runThread(*m_mailboxes[i]); });
    runThread(*m_mailboxes[0]);
    for (auto &t : threads)
        t.join();
}

} // namespace switchboard::asio
