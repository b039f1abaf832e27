#pragma once
// TopicTree: many TopicFilters, each with values, matched against one Topic at a time.

#include "switchboard/Topic.h"
#include "switchboard/TopicFilter.h"

#include <array>
#include <cassert>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

namespace switchboard {

/// A trie of filter segments. Each node has children for literal segments, one child for `*`
/// and one leaf for `**`; the values of a filter live on the node its last segment leads to.
///
/// match() walks the topic's segments once, following at each level the literal child, the `*`
/// child and the `**` leaf, so its cost depends on the topic's depth and on how many distinct
/// wildcard branches the stored filters create, not on the number of filters or values: a
/// million subscribers of `a/*/c` cost the same walk as one.
///
/// Each (filter, value) pair is stored once: insert() of an existing pair returns false.
/// `Value` must be copy- or move-constructible and equality-comparable. insert() and erase()
/// cost O(depth + values stored on that filter).
///
/// Thread safety: none. The visitor given to match() must not modify the tree (no insert,
/// erase or clear): collect what you need and change the tree after match() returns. Debug
/// builds assert on it.
template <typename Value>
class TopicTree {
public:
    TopicTree() = default;
    TopicTree(const TopicTree &) = delete;
    TopicTree &operator=(const TopicTree &) = delete;
    TopicTree(TopicTree &&) noexcept = default;
    TopicTree &operator=(TopicTree &&) noexcept = default;

    /// Adds `value` under `filter`. Returns false (and changes nothing) when that pair is held.
    bool insert(const TopicFilter &filter, Value value)
    {
        assert(m_visiting == 0 && "TopicTree modified from a match() visitor");
        Node *node = &m_root;
        for (std::string_view segment : filter.segments())
            node = &node->child(segment);
        for (const Value &held : node->values) {
            if (held == value)
                return false;
        }
        if (!node->filter)
            node->filter.emplace(filter);
        node->values.push_back(std::move(value));
        ++m_size;
        return true;
    }

    /// Removes the pair; prunes nodes left without values or children. Returns whether it was held.
    bool erase(const TopicFilter &filter, const Value &value)
    {
        assert(m_visiting == 0 && "TopicTree modified from a match() visitor");
        const auto segments = filter.segments();
        if (!eraseAt(m_root, segments, 0, value))
            return false;
        --m_size;
        return true;
    }

    /// Whether the pair is held.
    bool contains(const TopicFilter &filter, const Value &value) const
    {
        const Node *node = &m_root;
        for (std::string_view segment : filter.segments()) {
            node = node->find(segment);
            if (!node)
                return false;
        }
        for (const Value &held : node->values) {
            if (held == value)
                return true;
        }
        return false;
    }

    /// Calls `visitor(const TopicFilter &filter, const Value &value)` (or `visitor(const Value &)`)
    /// once for every stored pair whose filter matches `topic`. The order is unspecified.
    template <typename Visitor>
    void match(const Topic &topic, Visitor &&visitor) const
    {
        matchValid(topic.str(), visitor);
    }

    /// As above for a topic given as text; returns false (visiting nothing) when it is invalid.
    template <typename Visitor>
    bool match(std::string_view topic, Visitor &&visitor) const
    {
        if (validateTopic(topic))
            return false;
        matchValid(topic, visitor);
        return true;
    }

    /// Number of (filter, value) pairs.
    std::size_t size() const noexcept { return m_size; }
    bool empty() const noexcept { return m_size == 0; }
    /// Trie nodes held, the root included (1 when empty): shows that erase() prunes.
    std::size_t nodeCount() const noexcept { return countNodes(m_root); }

    void clear()
    {
        assert(m_visiting == 0 && "TopicTree modified from a match() visitor");
        m_root = Node{};
        m_size = 0;
    }

private:
    struct SegmentHash {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
    };

    struct Node {
        std::unordered_map<std::string, std::unique_ptr<Node>, SegmentHash, std::equal_to<>> literal;
        std::unique_ptr<Node> single;  ///< `*`
        std::unique_ptr<Node> multi;   ///< `**`: always a leaf
        std::optional<TopicFilter> filter; ///< the filter ending here, once it held values
        std::vector<Value> values;

        const Node *find(std::string_view segment) const
        {
            if (segment == kSingleWildcard)
                return single.get();
            if (segment == kMultiWildcard)
                return multi.get();
            const auto it = literal.find(segment);
            return it == literal.end() ? nullptr : it->second.get();
        }

        Node &child(std::string_view segment)
        {
            std::unique_ptr<Node> *slot = nullptr;
            if (segment == kSingleWildcard) {
                slot = &single;
            } else if (segment == kMultiWildcard) {
                slot = &multi;
            } else {
                auto it = literal.find(segment);
                if (it == literal.end())
                    it = literal.emplace(std::string(segment), nullptr).first;
                slot = &it->second;
            }
            if (!*slot)
                *slot = std::make_unique<Node>();
            return **slot;
        }

        bool unused() const noexcept { return values.empty() && literal.empty() && !single && !multi; }
    };

    static std::size_t countNodes(const Node &node) noexcept
    {
        std::size_t count = 1;
        for (const auto &entry : node.literal)
            count += countNodes(*entry.second);
        if (node.single)
            count += countNodes(*node.single);
        if (node.multi)
            count += countNodes(*node.multi);
        return count;
    }

    template <typename Visitor>
    static void visitValues(const Node &node, Visitor &visitor)
    {
        for (const Value &value : node.values) {
            if constexpr (std::is_invocable_v<Visitor &, const TopicFilter &, const Value &>)
                visitor(*node.filter, value);
            else
                visitor(value);
        }
    }

    template <typename Visitor>
    void matchValid(std::string_view topic, Visitor &visitor) const
    {
        // Topics are validated, so there are at most kMaxTopicDepth segments: no allocation.
        std::array<std::string_view, kMaxTopicDepth> segments;
        std::size_t count = 0;
        for (;;) {
            const auto slash = topic.find('/');
            segments[count++] = topic.substr(0, slash);
            if (slash == std::string_view::npos)
                break;
            topic.remove_prefix(slash + 1);
        }
        ++m_visiting;
        struct Guard {
            std::size_t &counter;
            ~Guard() { --counter; }
        } guard{m_visiting};
        walk(m_root, segments.data(), count, visitor);
    }

    template <typename Visitor>
    static void walk(const Node &node, const std::string_view *segments, std::size_t remaining, Visitor &visitor)
    {
        if (remaining == 0) {
            visitValues(node, visitor);
            return;
        }
        if (node.multi)
            visitValues(*node.multi, visitor); // `**` takes every remaining segment (at least one)
        if (!node.literal.empty()) {
            const auto it = node.literal.find(*segments);
            if (it != node.literal.end())
                walk(*it->second, segments + 1, remaining - 1, visitor);
        }
        if (node.single)
            walk(*node.single, segments + 1, remaining - 1, visitor);
    }

    static bool eraseAt(Node &node, const std::vector<std::string_view> &segments, std::size_t index,
                        const Value &value)
    {
        if (index == segments.size()) {
            for (auto it = node.values.begin(); it != node.values.end(); ++it) {
                if (*it == value) {
                    node.values.erase(it);
                    if (node.values.empty())
                        node.filter.reset();
                    return true;
                }
            }
            return false;
        }
        const std::string_view segment = segments[index];
        std::unique_ptr<Node> *slot = nullptr;
        typename decltype(node.literal)::iterator literalIt;
        if (segment == kSingleWildcard) {
            slot = &node.single;
        } else if (segment == kMultiWildcard) {
            slot = &node.multi;
        } else {
            literalIt = node.literal.find(segment);
            if (literalIt == node.literal.end())
                return false;
            slot = &literalIt->second;
        }
        if (!*slot || !eraseAt(**slot, segments, index + 1, value))
            return false;
        if ((*slot)->unused()) {
            if (slot == &node.single || slot == &node.multi)
                slot->reset();
            else
                node.literal.erase(literalIt);
        }
        return true;
    }

    Node m_root;
    std::size_t m_size = 0;
    mutable std::size_t m_visiting = 0;
};

} // namespace switchboard
