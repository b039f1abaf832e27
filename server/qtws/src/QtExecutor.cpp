#include "switchboard/qtws/QtExecutor.h"

#include <QMetaObject>

namespace switchboard::qtws {

QtExecutor::QtExecutor() : m_context(std::make_unique<QObject>()) {}

QtExecutor::~QtExecutor() = default;

void QtExecutor::post(std::function<void()> task)
{
    bool first = false;
    {
        std::lock_guard lock(m_mutex);
        first = m_tasks.empty();
        m_tasks.push_back(std::move(task));
    }
    // One queued invocation per batch; the context object dies with the executor, which cancels
    // an invocation still in the event queue.
    if (first)
        QMetaObject::invokeMethod(m_context.get(), [this] { runPending(); }, Qt::QueuedConnection);
}

void QtExecutor::runPending()
{
    {
        std::lock_guard lock(m_mutex);
        m_running.swap(m_tasks);
    }
    // Tasks posted while these run land in m_tasks and schedule the next batch.
    for (auto &task : m_running)
        task();
    m_running.clear();
}

} // namespace switchboard::qtws
