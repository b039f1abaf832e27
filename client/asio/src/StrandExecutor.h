#pragma once
// StrandExecutor: core Executor on an Asio strand. ClientSession posts its deferred work here.

#include <switchboard/Executor.h>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/post.hpp>

#include <memory>

namespace switchboard::asioclient {

/// post() may be called from any thread; tasks run on the strand in post order. Tasks still
/// queued when the executor is destroyed never run (they hold only a weak reference).
class StrandExecutor final : public Executor {
public:
    explicit StrandExecutor(boost::asio::any_io_executor strand) : m_strand(std::move(strand)) {}
    void post(std::function<void()> task) override
    {
        boost::asio::post(m_strand, [alive = std::weak_ptr<int>(m_alive), task = std::move(task)] {
            if (alive.lock())
                task();
        });
    }

private:
    boost::asio::any_io_executor m_strand;
    std::shared_ptr<int> m_alive = std::make_shared<int>(0);
};

} // namespace switchboard::asioclient
