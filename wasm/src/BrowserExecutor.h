#pragma once
// BrowserExecutor: core's Executor on the browser event loop.

#include "switchboard/Executor.h"

#include <deque>
#include <functional>
#include <memory>

namespace switchboard::web {

/// Runs posted tasks in order from a browser timer task (setTimeout 0), all tasks queued at that
/// point in one turn. Thread safety: main browser thread only. Destroying the executor drops the
/// tasks still queued; none runs afterwards.
class BrowserExecutor final : public Executor {
public:
    BrowserExecutor();
    ~BrowserExecutor() override;
    BrowserExecutor(const BrowserExecutor &) = delete;
    BrowserExecutor &operator=(const BrowserExecutor &) = delete;

    void post(std::function<void()> task) override;

private:
    struct Queue {
        std::deque<std::function<void()>> tasks;
        bool scheduled = false;
        bool alive = true;
    };
    static void drain(void *queue);
    Queue *m_queue; // owned; handed to the pending drain when destroyed while one is scheduled
};

} // namespace switchboard::web
