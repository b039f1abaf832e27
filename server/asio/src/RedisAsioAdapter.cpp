#include "RedisAsioAdapter.h"

#include <hiredis/async.h>

#include <boost/asio/post.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>

#include <memory>

#include <sys/ioctl.h>

namespace switchboard::asio {
namespace {

/// One hiredis context's watcher. Shared with the pending handlers: hiredis may free the context
/// (cleanup) while a wait is outstanding; the handler then finds `context` null and stops.
struct Watcher : std::enable_shared_from_this<Watcher> {
    Watcher(boost::asio::io_context &ioc, std::mutex &m, redisAsyncContext *ac)
        : descriptor(ioc, ac->c.fd), mutex(m), context(ac)
    {
    }

    boost::asio::posix::stream_descriptor descriptor;
    std::mutex &mutex;
    redisAsyncContext *context; // null after cleanup
    bool reading = false;
    bool writing = false;
    bool readArmed = false;
    bool writeArmed = false; // a wait or a posted write attempt is outstanding

    // All of the following run with `mutex` held.
    void armRead()
    {
        if (readArmed || !context)
            return;
        readArmed = true;
        descriptor.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                              [self = shared_from_this()](const boost::system::error_code &ec) {
                                  std::lock_guard lock(self->mutex);
                                  self->readArmed = false;
                                  if (!ec)
                                      self->onReadable();
                              });
    }

    void onReadable()
    {
        // hiredis reads one buffer per call; drain what the socket holds, since the reactor
        // reports readiness edges, not levels. Bounded so one busy connection cannot starve others.
        for (int round = 0; round < 64 && context && reading; ++round) {
            redisAsyncHandleRead(context);
            int pending = 0;
            if (!context || ::ioctl(descriptor.native_handle(), FIONREAD, &pending) != 0 || pending <= 0)
                break;
        }
        if (context && reading)
            armRead();
    }

    void armWrite(bool wait)
    {
        if (writeArmed || !context)
            return;
        writeArmed = true;
        auto handler = [self = shared_from_this()](const boost::system::error_code &ec) {
            std::lock_guard lock(self->mutex);
            self->writeArmed = false;
            if (ec || !self->context || !self->writing)
                return;
            redisAsyncHandleWrite(self->context);
            if (self->context && self->writing)
                self->armWrite(true); // the socket buffer is full (or connect pending): wait
        };
        if (wait)
            descriptor.async_wait(boost::asio::posix::stream_descriptor::wait_write, std::move(handler));
        else
            boost::asio::post(descriptor.get_executor(), [handler] { handler({}); });
    }

    void cleanup()
    {
        context = nullptr;
        reading = writing = false;
        boost::system::error_code ec;
        descriptor.cancel(ec);
        descriptor.release(); // hiredis closes its own socket
    }
};

/// ac->ev.data: owns one reference to the watcher until cleanup.
using Holder = std::shared_ptr<Watcher>;
Watcher &watcherOf(void *data) { return **static_cast<Holder *>(data); }

void addRead(void *data)
{
    Watcher &w = watcherOf(data);
    w.reading = true;
    w.armRead();
}
void delRead(void *data) { watcherOf(data).reading = false; }
void addWrite(void *data)
{
    Watcher &w = watcherOf(data);
    w.writing = true;
    w.armWrite(false);
}
void delWrite(void *data) { watcherOf(data).writing = false; }
void cleanup(void *data)
{
    auto *holder = static_cast<Holder *>(data);
    (*holder)->cleanup();
    delete holder;
}

} // namespace

redis::RedisEventLoop asioRedisEventLoop(boost::asio::io_context &ioc, std::mutex &coreMutex)
{
    return [&ioc, &coreMutex](redisAsyncContext *ac) {
        if (ac->ev.data)
            return false; // already attached
        try {
            auto *holder = new Holder(std::make_shared<Watcher>(ioc, coreMutex, ac));
            ac->ev.data = holder;
            ac->ev.addRead = &addRead;
            ac->ev.delRead = &delRead;
            ac->ev.addWrite = &addWrite;
            ac->ev.delWrite = &delWrite;
            ac->ev.cleanup = &cleanup;
        } catch (const boost::system::system_error &) {
            return false;
        }
        return true;
    };
}

} // namespace switchboard::asio
