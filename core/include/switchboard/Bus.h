#pragma once
// Bus: the in-process event bus. Parts of one application publish events on hierarchical
// topics; listeners subscribe with TopicFilters.

#include "switchboard/Executor.h"
#include "switchboard/Topic.h"
#include "switchboard/TopicFilter.h"

#include <any>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace switchboard {

class Bus;
class BusSubscription;

namespace detail {
struct BusState;
struct BusSubscriber;
} // namespace detail

/// One event. `topics` must hold at least one topic; an event matching a subscription through
/// several topics still reaches its listener once. `name` is free text for the listener
/// ("user.updated"); `payload` holds any copyable value: read it with
/// `std::any_cast<const T>(&event.payload)` (nullptr when it holds another type).
///
/// The bus keeps one immutable copy of each published event, shared by every listener and
/// released after the last delivery: listeners receive `const BusEvent &` and must copy what
/// they keep. Put large payloads behind a `std::shared_ptr<const T>` to make publishing cheap.
struct BusEvent {
    std::vector<Topic> topics;
    std::string name;
    std::any payload;
};

/// Owns one subscription: destroying it, reset() or unsubscribe() removes the listener, and the
/// listener never runs afterwards, not even for events that were already queued or that are
/// being delivered right now. Move-only. A default-constructed handle is inactive.
/// Outliving the Bus is allowed: the handle then just becomes inactive.
class [[nodiscard]] BusSubscription {
public:
    BusSubscription() = default;
    BusSubscription(BusSubscription &&other) noexcept;
    BusSubscription &operator=(BusSubscription &&other) noexcept;
    BusSubscription(const BusSubscription &) = delete;
    BusSubscription &operator=(const BusSubscription &) = delete;
    ~BusSubscription();

    /// Adds a filter. Returns false if the subscription already has it or is inactive.
    bool addFilter(const TopicFilter &filter);
    /// Parses and adds; returns the TopicError of an invalid filter, Error::NotFound when the
    /// subscription is inactive, and success (also when the filter was already present).
    std::error_code addFilter(std::string_view filter);
    /// Removes a filter. Returns false if the subscription does not have it. Takes effect at
    /// once: an event being delivered right now no longer reaches this listener through it.
    bool removeFilter(const TopicFilter &filter);
    /// The filters, in the order they were added.
    std::vector<TopicFilter> filters() const;

    void unsubscribe();
    void reset() { unsubscribe(); }
    bool active() const noexcept;
    /// Unique per bus, increasing in subscription order; 0 when inactive.
    std::uint64_t id() const noexcept;
    /// Exceptions thrown by this subscription's listener so far.
    std::size_t listenerErrors() const noexcept;

private:
    friend struct detail::BusState;
    explicit BusSubscription(std::shared_ptr<detail::BusSubscriber> subscriber);
    std::shared_ptr<detail::BusSubscriber> m_subscriber;
};

/// What a listener learns besides the event. Valid only during the listener call.
class BusContext {
public:
    /// The first of the event's topics that matched this subscription.
    const Topic &topic() const noexcept { return *m_topic; }
    /// The subscription's filter that matched topic() (the earliest added, when several did).
    const TopicFilter &filter() const noexcept { return *m_filter; }
    /// The handle of the subscription being delivered to, wherever it lives now (the handle may
    /// have been moved since subscribe()). The listener may call addFilter(), removeFilter() or
    /// unsubscribe() on it; after it has destroyed or reset the handle, it must not call this.
    BusSubscription &subscription() const noexcept;
    Bus &bus() const noexcept { return *m_bus; }
    /// True inside publishSync() (also for queued events it delivers first), false when the
    /// executor delivers an event queued by publish().
    bool synchronous() const noexcept { return m_synchronous; }

private:
    friend struct detail::BusState;
    BusContext() = default;
    const Topic *m_topic = nullptr;
    const TopicFilter *m_filter = nullptr;
    detail::BusSubscriber *m_subscriber = nullptr;
    Bus *m_bus = nullptr;
    bool m_synchronous = false;
};

/// A listener. Exceptions it throws are caught, counted (Bus::listenerErrors(),
/// BusSubscription::listenerErrors()) and never reach the publisher.
using BusListener = std::function<void(const BusContext &context, const BusEvent &event)>;

/// The event bus.
///
/// Threads: none of its own, and no locking: create it, publish, subscribe and drop handles on
/// the thread that runs `executor`. The executor must outlive the bus; the bus may die with
/// tasks still queued (they then do nothing).
///
/// Delivery and order:
/// - publish() queues the event and returns at once; a task posted to the executor delivers it.
/// - publishSync() first delivers, in order, every event still queued by publish(), then its own
///   event, and returns when all of them reached every matching listener.
/// - So every listener sees events in the order they were published, whatever mix of publish()
///   and publishSync() was used. Among the listeners of one event, the order is subscription order.
/// - The recipients of an event are the subscriptions matching it when its delivery starts: a
///   subscription created by a listener during the delivery does not get that event; one that
///   is removed (or whose matching filters are removed) before its turn is skipped.
///
/// What a listener may do (re-entrancy):
/// - subscribe, add or remove filters, unsubscribe itself or others: allowed, effective at once.
/// - publish(): allowed; the event is queued behind the others.
/// - publishSync(): allowed. The nested event, and every older event still queued (which may
///   include the event of an enclosing publishSync()), is delivered completely before the call
///   returns. To keep the order per listener, a listener that has not yet received the event
///   being delivered when the call was made gets it first. The calling listener itself is
///   re-entered if the nested event matches it. Nesting deeper than kMaxNesting fails with
///   Error::TooLarge and delivers nothing.
/// - destroying the Bus: not allowed.
class Bus {
public:
    static constexpr std::size_t kMaxNesting = 32;

    explicit Bus(Executor &executor);
    ~Bus();
    Bus(const Bus &) = delete;
    Bus &operator=(const Bus &) = delete;

    /// Subscribes with no filter yet (add some with addFilter()), with one, or with several.
    BusSubscription subscribe(BusListener listener);
    BusSubscription subscribe(const TopicFilter &filter, BusListener listener);
    BusSubscription subscribe(const std::vector<TopicFilter> &filters, BusListener listener);

    /// Queues the event for delivery by the executor. Fails with TopicError::Empty (nothing
    /// queued) when the event has no topic.
    std::error_code publish(BusEvent event);
    /// Convenience: one topic, a name and a payload.
    std::error_code publish(Topic topic, std::string name, std::any payload = {});

    /// Delivers before returning (see the class comment). Fails with TopicError::Empty when the
    /// event has no topic, Error::TooLarge when nested deeper than kMaxNesting.
    std::error_code publishSync(BusEvent event);
    std::error_code publishSync(Topic topic, std::string name, std::any payload = {});

    std::size_t subscriptionCount() const noexcept;
    /// Events queued by publish() and not delivered yet.
    std::size_t pendingCount() const noexcept;
    /// Events accepted by publish() and publishSync().
    std::uint64_t publishedCount() const noexcept;
    /// Listener calls made.
    std::uint64_t deliveredCount() const noexcept;
    /// Exceptions thrown by listeners (caught by the bus).
    std::uint64_t listenerErrors() const noexcept;

private:
    std::shared_ptr<detail::BusState> d;
};

} // namespace switchboard
