#pragma once
// WaitingCalls: publish, request and ping calls made while the session is connecting or
// reconnecting, held until it is connected. Private to the client.

#include "switchboard/Error.h"
#include "switchboard/Timer.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <system_error>
#include <utility>
#include <vector>

namespace switchboard::client {

/// Each call has a deadline (its own timeout, counted from the call) and two ends, exactly one
/// of which runs: `start(remaining)` when the session is connected (remaining: what is left of
/// the timeout, at least 1 ms), or `fail(error)`: Timeout at the deadline, or the error given to
/// failAll(). Calls start in the order they were made. An entry is removed before its end runs,
/// so an end may add calls. Not thread-safe.
class WaitingCalls {
public:
    using Start = std::function<void(std::chrono::milliseconds remaining)>;
    using Fail = std::function<void(std::error_code)>;

    explicit WaitingCalls(Timer &timer) : m_timer(timer) {}
    WaitingCalls(const WaitingCalls &) = delete;
    WaitingCalls &operator=(const WaitingCalls &) = delete;
    ~WaitingCalls()
    {
        for (const Call &call : m_calls)
            m_timer.cancel(call.timer);
    }

    std::size_t size() const { return m_calls.size(); }

    void add(std::chrono::milliseconds timeout, Start start, Fail fail)
    {
        const std::uint64_t id = ++m_lastId;
        Call call{id, m_timer.now() + timeout, 0, std::move(start), std::move(fail)};
        call.timer = m_timer.start(timeout, [this, id] { expire(id); });
        m_calls.push_back(std::move(call));
    }

    /// Starts every call, oldest first. Calls added meanwhile wait for the next startAll().
    void startAll()
    {
        std::deque<Call> calls;
        calls.swap(m_calls);
        const auto now = m_timer.now();
        for (const Call &call : calls)
            m_timer.cancel(call.timer);
        for (Call &call : calls)
            call.start(std::max(call.deadline - now, std::chrono::milliseconds(1)));
    }

    /// Removes every call and returns their failure ends, oldest first, for the caller to run
    /// (now or later) with the error of its choice.
    std::vector<Fail> takeAll()
    {
        std::vector<Fail> out;
        for (Call &call : m_calls) {
            m_timer.cancel(call.timer);
            out.push_back(std::move(call.fail));
        }
        m_calls.clear();
        return out;
    }

private:
    struct Call {
        std::uint64_t id;
        std::chrono::milliseconds deadline;
        TimerId timer;
        Start start;
        Fail fail;
    };

    void expire(std::uint64_t id)
    {
        auto it = std::find_if(m_calls.begin(), m_calls.end(), [id](const Call &c) { return c.id == id; });
        if (it == m_calls.end())
            return;
        Fail fail = std::move(it->fail);
        m_calls.erase(it);
        fail(make_error_code(Error::Timeout));
    }

    Timer &m_timer;
    std::deque<Call> m_calls;
    std::uint64_t m_lastId = 0;
};

} // namespace switchboard::client
