#pragma once
// IoShards: the gateway's connections, split between its io threads. Each io thread runs an
// io_context of its own, and every connection lives on one of them for life (round-robin at
// accept): its socket and handlers use that io_context, its deadlines that shard's
// LivenessSweep, and a plain TCP WebSocket's readiness that shard's ReadinessPoller. One thread runs each io_context, so a connection's handlers never run
// concurrently without a strand, and a post from the thread that runs it takes no lock (Asio's
// one-thread scheduler).
//
// Shard 0 is the main io_context: besides its connections it runs the listener, the signals,
// the core's timer and the engine. Frames for a session, queued by whichever thread holds the
// core (CoreHost), are written by the session's own thread: each shard collects the sessions to
// write in rounds (FlushRounds.h), one post per round rather than one per session, so the socket
// writes (most of the cost of a delivery, docs/benchmarks.md) run on every io thread at once.
//
// Lifetime: owns the io_contexts and their rounds; declare it before everything that uses them,
// so that every socket, timer and session is gone before an io_context is destroyed.

#include "FlushRounds.h"
#include "IoTypes.h"
#include "LivenessSweep.h"
#include "ReadinessPoller.h"
#include "ThreadWriteCounters.h"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

namespace switchboard::asio {

struct ServerContext;

class IoShards {
public:
    struct Shard {
        Shard(std::atomic<std::uint64_t> &rounds, bool shared, std::chrono::milliseconds livenessResolution)
            : flushRounds(rounds, shared), liveness(ioc, livenessResolution), poller(ioc)
        {
        }
        FlushRounds flushRounds;       ///< declared first: outlives the io_context's handlers
        boost::asio::io_context ioc{1}; ///< run by one thread
        LivenessSweep liveness;        ///< the deadlines of the shard's connections
        ReadinessPoller poller;        ///< the readiness of its plain TCP WebSocket connections
        ThreadWriteCounters writes;    ///< what its WebSocket sessions wrote (its thread only)
        /// What its connections share (the gateway's), set by the gateway before it listens: a
        /// connection that knows its shard reaches it without a reference of its own.
        ServerContext *context = nullptr;
    };

    /// `count` shards (at least 1); `rounds` counts the rounds of every shard and outlives this.
    /// `livenessResolution`: how late a connection's deadline may fire (LivenessSweep.h).
    IoShards(unsigned count, std::atomic<std::uint64_t> &rounds,
             std::chrono::milliseconds livenessResolution = std::chrono::seconds(1));
    IoShards(const IoShards &) = delete;
    IoShards &operator=(const IoShards &) = delete;
    ~IoShards();

    std::size_t size() const { return m_shards.size(); }
    Shard &at(std::size_t i) { return *m_shards[i]; }
    /// Shard 0: the listener, signals, timers and engine run there too.
    boost::asio::io_context &main() { return m_shards.front()->ioc; }

    /// The shard of the next connection (round-robin); any thread.
    Shard &next();
    /// The shard whose io_context runs `executor` (one of theirs).
    Shard &of(const IoExecutor &executor);

    /// The io_contexts, one per io thread (for IoThreads).
    std::vector<boost::asio::io_context *> contexts();
    /// What the WebSocket sessions of every shard wrote, summed. Any thread.
    ThreadWriteCounters::Totals writeTotals() const;
    /// Stops every io_context: their threads return once their handler ends. Any thread.
    void stop();

private:
    std::vector<std::unique_ptr<Shard>> m_shards;
    /// Keeps a shard's thread running while it has no connection (shards 1..n-1; shard 0 has
    /// the listener). Released at destruction; stop() stops the io_contexts regardless.
    std::vector<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> m_work;
    std::atomic<std::size_t> m_next{0};
};

} // namespace switchboard::asio
