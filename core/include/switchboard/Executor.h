#pragma once
// Executor: the only way core code defers work. Qt, Asio and the browser implement it.

#include <cstddef>
#include <deque>
#include <functional>

namespace switchboard {

/// Runs tasks later, in the order they were posted, on the thread that owns the executor.
///
/// Thread safety: implementations document whether post() may be called from other threads.
/// A task must not throw; core never posts a task that does.
class Executor {
public:
    virtual ~Executor() = default;
    virtual void post(std::function<void()> task) = 0;
};

/// An executor that queues tasks until runPending() is called. Used by tests, benchmarks and by
/// hosts that drain core work at a known point of their own loop. Not thread-safe.
class QueueExecutor final : public Executor {
public:
    void post(std::function<void()> task) override { m_tasks.push_back(std::move(task)); }

    /// Runs queued tasks, including tasks they post, until the queue is empty. Returns the count.
    std::size_t runPending()
    {
        std::size_t ran = 0;
        while (!m_tasks.empty()) {
            auto task = std::move(m_tasks.front());
            m_tasks.pop_front();
            task();
            ++ran;
        }
        return ran;
    }
    std::size_t pendingCount() const { return m_tasks.size(); }

private:
    std::deque<std::function<void()>> m_tasks;
};

} // namespace switchboard
