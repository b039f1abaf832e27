#include "IoThreads.h"

#include <algorithm>
#include <stdexcept>
#include <thread>

namespace switchboard::asio {

IoThreads::IoThreads(boost::asio::io_context &ioc, unsigned count)
    : IoThreads(std::vector<boost::asio::io_context *>(std::max(1u, count), &ioc))
{
}

IoThreads::IoThreads(std::vector<boost::asio::io_context *> perThread) : m_contexts(std::move(perThread))
{
    if (m_contexts.empty())
        throw std::invalid_argument("IoThreads: no io_context");
    for (std::size_t i = 0; i < m_contexts.size(); ++i)
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

void IoThreads::runThread(boost::asio::io_context &ioc, Mailbox &mailbox)
{
    if (m_slice.count() == 0) {
        ioc.run();
        return;
    }
    std::vector<EventLoopWatchdog::Answer> answers;
    for (;;) {
        ioc.run_for(m_slice);
        {
            std::lock_guard lock(mailbox.mutex);
            answers.swap(mailbox.answers);
        }
        for (auto &answer : answers)
            answer();
        answers.clear();
        if (ioc.stopped())
            return;
    }
}

void IoThreads::run()
{
    std::vector<std::thread> threads;
    threads.reserve(m_contexts.size() - 1);
    for (std::size_t i = 1; i < m_contexts.size(); ++i)
        threads.emplace_back([this, i] { runThread(*m_contexts[i], *m_mailboxes[i]); });
    runThread(*m_contexts[0], *m_mailboxes[0]);
    for (auto &t : threads)
        t.join();
}

} // namespace switchboard::asio
