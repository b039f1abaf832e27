#pragma once
// ObserverList: callbacks registered through ListenerHandle, safe against removal during a
// notification. Private to the client session.

#include "switchboard/ClientSession.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <utility>
#include <vector>

namespace switchboard::client {

/// Observers are called in registration order. Guarantees, for a notification in progress:
/// - an observer removed (handle destroyed or reset) before its turn does not run;
/// - an observer added during the notification runs from the next notification on;
/// - clear() (the owner going away) stops the notification after the current observer.
/// Handles hold a weak reference: they may outlive the list. Not thread-safe.
template <class... Args>
class ObserverList : public std::enable_shared_from_this<ObserverList<Args...>> {
public:
    using Function = std::function<void(Args...)>;

    ListenerHandle add(Function fn)
    {
        auto entry = std::make_shared<Entry>(Entry{++m_lastId, std::move(fn), true});
        m_entries.push_back(entry);
        std::weak_ptr<ObserverList> weak = this->weak_from_this();
        return ListenerHandle([weak, id = entry->id] {
            if (auto self = weak.lock())
                self->remove(id);
        });
    }

    void notify(Args... args)
    {
        auto keepAlive = this->shared_from_this();
        ++m_depth;
        const std::size_t count = m_entries.size(); // observers added meanwhile wait for the next turn
        for (std::size_t i = 0; i < count && !m_cleared; ++i) {
            std::shared_ptr<Entry> entry = m_entries[i];
            if (entry->alive)
                entry->fn(args...);
        }
        if (--m_depth == 0)
            compact();
    }

    /// Removes every observer; a notification in progress stops.
    void clear()
    {
        for (auto &entry : m_entries)
            entry->alive = false;
        m_cleared = m_depth > 0;
        if (m_depth == 0)
            m_entries.clear();
    }

    std::size_t size() const
    {
        std::size_t n = 0;
        for (const auto &entry : m_entries)
            n += entry->alive ? 1 : 0;
        return n;
    }

private:
    struct Entry {
        std::uint64_t id;
        Function fn;
        bool alive;
    };

    void remove(std::uint64_t id)
    {
        for (auto it = m_entries.begin(); it != m_entries.end(); ++it) {
            if ((*it)->id != id)
                continue;
            (*it)->alive = false;
            if (m_depth == 0)
                m_entries.erase(it);
            return;
        }
    }

    void compact()
    {
        std::erase_if(m_entries, [](const std::shared_ptr<Entry> &e) { return !e->alive; });
        m_cleared = false;
    }

    std::vector<std::shared_ptr<Entry>> m_entries;
    std::uint64_t m_lastId = 0;
    int m_depth = 0;
    bool m_cleared = false;
};

} // namespace switchboard::client
