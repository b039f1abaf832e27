#pragma once
// QtExecutor: core's Executor on a Qt event loop.

#include <switchboard/Executor.h>

#include <QObject>

#include <functional>
#include <memory>
#include <mutex>
#include <vector>

namespace switchboard::qtws {

/// Runs posted tasks on the thread that created the executor, from its Qt event loop, in post
/// order. Tasks posted during one turn are run together by a single queued invocation, so a burst
/// of posts costs one event, not one per task.
///
/// Thread safety: post() may be called from any thread. Destroying the executor drops the tasks
/// that have not run yet; destroy it on its own thread.
class QtExecutor final : public Executor {
public:
    QtExecutor();
    ~QtExecutor() override;
    QtExecutor(const QtExecutor &) = delete;
    QtExecutor &operator=(const QtExecutor &) = delete;

    void post(std::function<void()> task) override;

    /// The object whose thread runs the tasks.
    QObject *context() const { return m_context.get(); }

private:
    void runPending();

    std::unique_ptr<QObject> m_context;
    std::mutex m_mutex;
    std::vector<std::function<void()>> m_tasks;   // guarded by m_mutex
    std::vector<std::function<void()>> m_running; // owner thread only
};

} // namespace switchboard::qtws
