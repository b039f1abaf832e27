#include "BrowserExecutor.h"

#include <emscripten/eventloop.h>

namespace switchboard::web {

BrowserExecutor::BrowserExecutor() : m_queue(new Queue) {}

BrowserExecutor::~BrowserExecutor()
{
    m_queue->tasks.clear();
    if (m_queue->scheduled)
        m_queue->alive = false; // the scheduled drain frees it
    else
        delete m_queue;
}

void BrowserExecutor::post(std::function<void()> task)
{
    m_queue->tasks.push_back(std::move(task));
    if (!m_queue->scheduled) {
        m_queue->scheduled = true;
        emscripten_set_timeout(&BrowserExecutor::drain, 0, m_queue);
    }
}

void BrowserExecutor::drain(void *opaque)
{
    auto *queue = static_cast<Queue *>(opaque);
    queue->scheduled = false;
    if (!queue->alive) {
        delete queue;
        return;
    }
    // Tasks posted while draining run in a later turn, so the browser gets to handle input and
    // socket events in between. A task may destroy the executor: re-check `alive` each time.
    std::size_t count = queue->tasks.size();
    queue->scheduled = true; // posts made while draining must not schedule a second drain
    while (count-- > 0 && queue->alive && !queue->tasks.empty()) {
        auto task = std::move(queue->tasks.front());
        queue->tasks.pop_front();
        task();
    }
    if (!queue->alive) {
        delete queue;
        return;
    }
    if (queue->tasks.empty())
        queue->scheduled = false;
    else
        emscripten_set_timeout(&BrowserExecutor::drain, 0, queue);
}

} // namespace switchboard::web
