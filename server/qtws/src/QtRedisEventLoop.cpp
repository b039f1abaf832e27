#include "QtRedisEventLoop.h"

#include <hiredis/async.h>

#include <QObject>
#include <QSocketNotifier>

#include <memory>

namespace switchboard::qtws {
namespace {

/// One hiredis context's notifiers; ac->ev.data points here until hiredis calls cleanup.
struct Watcher {
    explicit Watcher(redisAsyncContext *ac)
        : context(ac), read(ac->c.fd, QSocketNotifier::Read), write(ac->c.fd, QSocketNotifier::Write)
    {
        read.setEnabled(false);
        write.setEnabled(false);
        // The notifiers are the context objects: nothing runs after the watcher is gone.
        QObject::connect(&read, &QSocketNotifier::activated, &read, [this] { dispatch(&redisAsyncHandleRead); });
        QObject::connect(&write, &QSocketNotifier::activated, &write, [this] { dispatch(&redisAsyncHandleWrite); });
    }

    /// hiredis may free the context (and call cleanup) inside the handler; the watcher then
    /// outlives the call and is deleted here, once hiredis has returned.
    void dispatch(void (*handle)(redisAsyncContext *))
    {
        if (!context)
            return;
        dispatching = true;
        handle(context);
        dispatching = false;
        if (!context)
            delete this; // Qt 6 tolerates the sender's deletion in its own activation
    }

    void cleanup()
    {
        context = nullptr;
        read.setEnabled(false);
        write.setEnabled(false);
        if (!dispatching)
            delete this;
    }

    redisAsyncContext *context; // null after cleanup
    QSocketNotifier read;
    QSocketNotifier write;
    bool dispatching = false;
};

Watcher &watcherOf(void *data) { return *static_cast<Watcher *>(data); }
void addRead(void *data) { watcherOf(data).read.setEnabled(true); }
void delRead(void *data) { watcherOf(data).read.setEnabled(false); }
void addWrite(void *data) { watcherOf(data).write.setEnabled(true); }
void delWrite(void *data) { watcherOf(data).write.setEnabled(false); }
void cleanup(void *data) { watcherOf(data).cleanup(); }

} // namespace

redis::RedisEventLoop qtRedisEventLoop()
{
    return [](redisAsyncContext *ac) {
        if (ac->ev.data || ac->c.fd < 0)
            return false; // already attached, or no socket
        auto *watcher = new Watcher(ac);
        ac->ev.data = watcher;
        ac->ev.addRead = &addRead;
        ac->ev.delRead = &delRead;
        ac->ev.addWrite = &addWrite;
        ac->ev.delWrite = &delWrite;
        ac->ev.cleanup = &cleanup;
        return true;
    };
}

} // namespace switchboard::qtws
