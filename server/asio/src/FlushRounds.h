#pragma once
// FlushRounds: on a gateway with one io thread, the WebSocket sessions that get frames while a
// handler runs (a publication fanned out to every subscriber of a channel) are written by one
// handler, posted once, instead of one posted handler each. A fan-out to 1 000 subscribers then
// costs one post and one dispatch, not 1 000: the scheduler's queue operations, a handler
// allocation and a dispatch per delivery are saved (docs/benchmarks.md, "Where the time goes").
// The sessions are written in the order they got their first frame, each with one write of
// everything queued for it, as before.
//
// Each io thread has its own rounds (IoShards.h). With several io threads, the thread that holds
// the core queues sessions of every shard: then a round is shared, under a mutex, and the shard's
// thread runs it; with one, it is touched by the io thread only and takes no lock.
//
// Lifetime: declared before the io_context that runs the rounds, so that a round the io_context
// destroys without running (at shutdown) can still leave its slot.

#include <boost/asio/io_context.hpp>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

namespace switchboard::asio {

class WebSocketSession;

class FlushRounds {
public:
    /// `rounds` counts the rounds run (switchboard_flush_rounds_total); it outlives this object.
    /// `shared`: add() may be called from threads other than the one running the rounds.
    FlushRounds(std::atomic<std::uint64_t> &rounds, bool shared) : m_rounds(rounds), m_shared(shared) {}
    FlushRounds(const FlushRounds &) = delete;
    FlushRounds &operator=(const FlushRounds &) = delete;

    /// Queues `session` for the open round, opening one (one post to `ioc`, which runs it) if none
    /// is. A session is queued at most once at a time (its own flag says so). Any thread when
    /// shared; else only the thread running `ioc`.
    void add(boost::asio::io_context &ioc, std::shared_ptr<WebSocketSession> session);
    bool shared() const { return m_shared; }

private:
    struct Round;
    void run(Round &round);
    /// m_mutex locked when the rounds are shared, else an unlocked lock.
    std::unique_lock<std::mutex> lockIfShared();

    std::atomic<std::uint64_t> &m_rounds;
    const bool m_shared;
    std::mutex m_mutex; ///< when shared: guards m_open, its list and m_spare
    Round *m_open = nullptr; ///< the round that takes new sessions; null: the next add() posts one
    /// The list of the last round run, emptied, for the next one: no allocation per round.
    std::vector<std::shared_ptr<WebSocketSession>> m_spare;
};

} // namespace switchboard::asio
