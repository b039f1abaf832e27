#pragma once
// ListenerRegistry: ClientSession listeners keyed by dotted patterns. Private to the client.

#include "switchboard/ClientSession.h"

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace switchboard::client {

/// A listener pattern split on '.'. `*` matches exactly one segment; `**` (last segment only)
/// matches one or more trailing segments. Keys are "channel.event": the channel may itself hold
/// dots (each is a segment boundary), the event never does.
class DottedPattern {
public:
    /// Returns false for an invalid pattern: empty, an empty segment, `**` not last, or a
    /// wildcard mixed into a segment (`ab*`).
    bool assign(std::string_view pattern);
    bool matches(std::string_view key) const;
    bool hasWildcard() const { return m_wildcard; }
    const std::string &text() const { return m_text; }

private:
    std::string m_text;
    std::vector<std::string> m_segments;
    bool m_wildcard = false;
};

/// Listeners registered with ClientSession::on()/once(). Same removal guarantees as
/// ObserverList: a listener whose handle is gone never runs, even mid-dispatch; a listener added
/// during a dispatch waits for the next event; a once-listener is removed before it runs, so it
/// runs at most once even when the dispatch re-enters. Not thread-safe.
class ListenerRegistry : public std::enable_shared_from_this<ListenerRegistry> {
public:
    /// Returns an inactive handle (nothing registered) when the pattern is invalid.
    ListenerHandle add(std::string_view pattern, ClientListener listener, bool once);

    /// Message events: every listener whose pattern matches event.key.
    void dispatchMessage(const ClientEvent &event) { dispatch(event, true); }
    /// Lifecycle events ("session.started", "error", "close"): listeners registered with exactly
    /// that key (wildcards do not catch lifecycle events).
    void dispatchLifecycle(const ClientEvent &event) { dispatch(event, false); }

    std::size_t size() const;

private:
    struct Entry {
        std::uint64_t id;
        DottedPattern pattern;
        ClientListener fn;
        bool once;
        bool alive;
    };

    void dispatch(const ClientEvent &event, bool message);
    void remove(std::uint64_t id);

    std::vector<std::shared_ptr<Entry>> m_entries;
    std::uint64_t m_lastId = 0;
    int m_depth = 0;
};

// ---- implementation (header-only: this folder holds private helpers of ClientSession.cpp) ----

inline bool DottedPattern::assign(std::string_view pattern)
{
    m_text.assign(pattern);
    m_segments.clear();
    m_wildcard = false;
    if (pattern.empty())
        return false;
    std::size_t start = 0;
    while (true) {
        const std::size_t dot = pattern.find('.', start);
        const std::string_view segment = pattern.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
        if (segment.empty())
            return false;
        if (segment.find('*') != std::string_view::npos && segment != "*" && segment != "**")
            return false;
        if (!m_segments.empty() && m_segments.back() == "**")
            return false; // `**` only in last position
        m_wildcard = m_wildcard || segment.front() == '*';
        m_segments.emplace_back(segment);
        if (dot == std::string_view::npos)
            break;
        start = dot + 1;
    }
    return true;
}

inline bool DottedPattern::matches(std::string_view key) const
{
    if (!m_wildcard)
        return key == m_text;
    std::size_t pos = 0;          // start of the next key segment
    bool keyDone = key.empty();   // no key segment left
    for (const std::string &segment : m_segments) {
        if (keyDone)
            return false;
        if (segment == "**")
            return true; // at least one segment is left, and `**` is always last
        const std::size_t dot = key.find('.', pos);
        const std::string_view current = key.substr(pos, dot == std::string_view::npos ? std::string_view::npos : dot - pos);
        if (segment != "*" && segment != current)
            return false;
        if (dot == std::string_view::npos)
            keyDone = true;
        else
            pos = dot + 1;
    }
    return keyDone;
}

inline ListenerHandle ListenerRegistry::add(std::string_view pattern, ClientListener listener, bool once)
{
    DottedPattern parsed;
    if (!listener || !parsed.assign(pattern))
        return {};
    auto entry = std::make_shared<Entry>(Entry{++m_lastId, std::move(parsed), std::move(listener), once, true});
    m_entries.push_back(entry);
    std::weak_ptr<ListenerRegistry> weak = weak_from_this();
    return ListenerHandle([weak, id = entry->id] {
        if (auto self = weak.lock())
            self->remove(id);
    });
}

inline void ListenerRegistry::dispatch(const ClientEvent &event, bool message)
{
    auto keepAlive = shared_from_this();
    ++m_depth;
    const std::size_t count = m_entries.size();
    for (std::size_t i = 0; i < count; ++i) {
        std::shared_ptr<Entry> entry = m_entries[i];
        if (!entry->alive)
            continue;
        const bool hit = message ? entry->pattern.matches(event.key) : entry->pattern.text() == event.key;
        if (!hit)
            continue;
        if (entry->once)
            entry->alive = false; // before the call: a re-entrant dispatch must not run it again
        entry->fn(event);
    }
    if (--m_depth == 0)
        std::erase_if(m_entries, [](const std::shared_ptr<Entry> &e) { return !e->alive; });
}

inline void ListenerRegistry::remove(std::uint64_t id)
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

inline std::size_t ListenerRegistry::size() const
{
    std::size_t n = 0;
    for (const auto &entry : m_entries)
        n += entry->alive ? 1 : 0;
    return n;
}

} // namespace switchboard::client
