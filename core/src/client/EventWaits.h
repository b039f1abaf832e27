#pragma once
// EventWaits: ClientSession::waitFor(), one-shot waits for the next event matching a pattern,
// each bounded by its own deadline. Private to the client.

#include "switchboard/ClientSession.h"
#include "switchboard/Error.h"
#include "switchboard/Timer.h"

#include "ListenerRegistry.h"

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace switchboard::client {

/// Each wait is a once-listener on the session's ListenerRegistry plus a Timer deadline; exactly
/// one of its ends runs: the event (Done with no error), Timeout at the deadline, or the error the
/// owner gives the completions it takes (takeAll()). The wait's listener and timer are removed
/// before its completion runs, so a completion may add waits. Destroying EventWaits drops the
/// waits without calling them. Not thread-safe.
class EventWaits {
public:
    using Done = std::function<void(std::error_code, const ClientEvent *event)>;

    EventWaits(Timer &timer, std::shared_ptr<ListenerRegistry> listeners)
        : m_timer(timer), m_listeners(std::move(listeners))
    {
    }
    EventWaits(const EventWaits &) = delete;
    EventWaits &operator=(const EventWaits &) = delete;
    ~EventWaits()
    {
        for (auto &[id, wait] : m_waits)
            m_timer.cancel(wait.timer);
    }

    /// False (nothing registered, `done` not called) when the pattern is invalid.
    bool add(std::string_view pattern, std::chrono::milliseconds timeout, Done done)
    {
        const std::uint64_t id = ++m_lastId;
        ListenerHandle listener = m_listeners->add(pattern, [this, id](const ClientEvent &event) { finish(id, {}, &event); }, true);
        if (!listener.active())
            return false;
        const TimerId timer = m_timer.start(timeout, [this, id] { finish(id, make_error_code(Error::Timeout), nullptr); });
        m_waits.emplace(id, Wait{std::move(listener), timer, std::move(done)});
        return true;
    }

    /// Removes every wait (listener and timer) and returns their completions, oldest first, for
    /// the caller to run with the error of its choice.
    std::vector<Done> takeAll()
    {
        std::vector<Done> out;
        for (auto &[id, wait] : m_waits) {
            m_timer.cancel(wait.timer);
            wait.listener.reset();
            out.push_back(std::move(wait.done));
        }
        m_waits.clear();
        return out;
    }

    std::size_t size() const { return m_waits.size(); }

private:
    struct Wait {
        ListenerHandle listener;
        TimerId timer;
        Done done;
    };

    void finish(std::uint64_t id, std::error_code error, const ClientEvent *event)
    {
        auto it = m_waits.find(id);
        if (it == m_waits.end())
            return;
        Wait wait = std::move(it->second);
        m_waits.erase(it);
        m_timer.cancel(wait.timer);
        wait.listener.reset();
        wait.done(error, event);
    }

    Timer &m_timer;
    std::shared_ptr<ListenerRegistry> m_listeners;
    std::map<std::uint64_t, Wait> m_waits;
    std::uint64_t m_lastId = 0;
};

} // namespace switchboard::client
