#pragma once
// PendingOperations: frames waiting for their ack, reply or subscribed answer. Private to the client.

#include "switchboard/Error.h"
#include "switchboard/Timer.h"

#include <boost/json/object.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <iterator>
#include <map>
#include <system_error>
#include <utility>
#include <vector>

namespace switchboard::client {

/// Each operation has an ackId (sent in its frame), one deadline on the Timer and a completion
/// called exactly once: with the answering frame, with Error::Timeout when the deadline passes,
/// or with the error given to fail()/failAll(). Its state (entry and timer) is freed before the
/// completion runs, so a completion may add, complete or fail operations. Not thread-safe.
class PendingOperations {
public:
    enum class Kind {
        Ack,       ///< publish waiting for `ack`
        Reply,     ///< request waiting for `reply` (its `ack` only notes that the gateway took it)
        Subscribe, ///< subscribe waiting for `subscribed`
        Ping,      ///< round-trip ping waiting for the `pong` echoing its ackId
        PublishReply, ///< publish with wantReply waiting for a subscriber's `reply` (its `ack` is progress)
    };
    /// `frame` is the answering frame, or null on timeout / failure.
    using Completion = std::function<void(std::error_code, const boost::json::object *frame)>;
    /// An intermediate answer (the `ack` of a publish waiting for its reply); may not touch
    /// the operations.
    using Progress = std::function<void(const boost::json::object &frame)>;

    explicit PendingOperations(Timer &timer) : m_timer(timer) {}
    PendingOperations(const PendingOperations &) = delete;
    PendingOperations &operator=(const PendingOperations &) = delete;
    ~PendingOperations()
    {
        for (auto &[id, op] : m_ops)
            m_timer.cancel(op.timer);
    }

    /// Registers an operation and returns its ackId (never 0).
    std::uint64_t add(Kind kind, std::chrono::milliseconds timeout, Completion done, Progress progress = {})
    {
        const std::uint64_t id = ++m_lastId;
        Operation op{kind, 0, false, std::move(done), std::move(progress)};
        op.timer = m_timer.start(timeout, [this, id] { complete(id, make_error_code(Error::Timeout), nullptr); });
        m_ops.emplace(id, std::move(op));
        return id;
    }

    /// An ackId for a frame whose answer nobody waits for (unsubscribe): late answers carrying
    /// it are recognised by issued() and ignored.
    std::uint64_t reserveId() { return ++m_lastId; }
    bool issued(std::uint64_t id) const { return id != 0 && id <= m_lastId; }

    const Kind *kindOf(std::uint64_t id) const
    {
        auto it = m_ops.find(id);
        return it == m_ops.end() ? nullptr : &it->second.kind;
    }

    /// A gateway ack of an operation that stays pending for its reply (request, publish
    /// waiting for a reply): noted, and handed to the operation's Progress if it has one.
    void markAcked(std::uint64_t id, const boost::json::object &frame)
    {
        auto it = m_ops.find(id);
        if (it == m_ops.end() || it->second.acked)
            return;
        it->second.acked = true;
        if (it->second.progress)
            it->second.progress(frame);
    }

    /// Removes the operation and runs its completion. False when the id is unknown (answered,
    /// timed out or failed already).
    bool complete(std::uint64_t id, std::error_code error, const boost::json::object *frame)
    {
        auto it = m_ops.find(id);
        if (it == m_ops.end())
            return false;
        Operation op = std::move(it->second);
        m_ops.erase(it);
        m_timer.cancel(op.timer);
        if (op.done)
            op.done(error, frame);
        return true;
    }

    /// Fails every operation with `error`, oldest first. Operations added by the completions
    /// are kept.
    void failAll(std::error_code error)
    {
        std::map<std::uint64_t, Operation> ops;
        ops.swap(m_ops);
        for (auto &[id, op] : ops)
            m_timer.cancel(op.timer);
        for (auto &[id, op] : ops) {
            if (op.done)
                op.done(error, nullptr);
        }
    }

    /// Removes every operation without running its completion; returns the completions so the
    /// caller can run them later (for example through an Executor).
    std::vector<Completion> takeAll()
    {
        std::vector<Completion> out;
        for (auto &[id, op] : m_ops) {
            m_timer.cancel(op.timer);
            out.push_back(std::move(op.done));
        }
        m_ops.clear();
        return out;
    }

    /// Publish acks and replies waited for (subscribe answers and pongs are not counted).
    std::size_t waitingCount() const
    {
        std::size_t n = 0;
        for (const auto &[id, op] : m_ops)
            n += op.kind == Kind::Ack || op.kind == Kind::Reply || op.kind == Kind::PublishReply ? 1 : 0;
        return n;
    }
    std::size_t size() const { return m_ops.size(); }

private:
    struct Operation {
        Kind kind;
        TimerId timer;
        bool acked;
        Completion done;
        Progress progress;
    };

    Timer &m_timer;
    std::map<std::uint64_t, Operation> m_ops;
    std::uint64_t m_lastId = 0;
};

} // namespace switchboard::client
