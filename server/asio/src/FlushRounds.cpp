#include "FlushRounds.h"

#include "WebSocketSession.h"

#include <boost/asio/post.hpp>

namespace switchboard::asio {

namespace {
/// A round's list keeps its capacity for the next round up to this many sessions.
constexpr std::size_t kKeepSessions = 64 * 1024;
} // namespace

std::unique_lock<std::mutex> FlushRounds::lockIfShared()
{
    return m_shared ? std::unique_lock(m_mutex) : std::unique_lock(m_mutex, std::defer_lock);
}

/// The sessions of one round. Owned by its posted handler: destroyed with it, run or not.
struct FlushRounds::Round {
    FlushRounds &owner;
    std::vector<std::shared_ptr<WebSocketSession>> sessions;

    /// Call with the owner's lock held (when shared).
    explicit Round(FlushRounds &o) : owner(o) { sessions.swap(owner.m_spare); }
    Round(const Round &) = delete;
    Round &operator=(const Round &) = delete;
    ~Round()
    {
        const auto lock = owner.lockIfShared();
        if (owner.m_open == this)
            owner.m_open = nullptr;
    }
};

void FlushRounds::add(boost::asio::io_context &ioc, std::shared_ptr<WebSocketSession> session)
{
    const auto lock = lockIfShared();
    if (!m_open) {
        auto round = std::make_unique<Round>(*this);
        m_open = round.get();
        boost::asio::post(ioc, [round = std::move(round)] { round->owner.run(*round); });
    }
    m_open->sessions.push_back(std::move(session));
}

void FlushRounds::run(Round &round)
{
    {
        const auto lock = lockIfShared();
        if (m_open == &round)
            m_open = nullptr; // sessions given frames from here on go to the next round
    }
    m_rounds.fetch_add(1, std::memory_order_relaxed);
    for (const auto &session : round.sessions)
        session->flush();
    round.sessions.clear();
    const auto lock = lockIfShared();
    if (round.sessions.capacity() <= kKeepSessions && round.sessions.capacity() > m_spare.capacity())
        round.sessions.swap(m_spare);
}

} // namespace switchboard::asio
