#include "switchboard/Bus.h"

#include "switchboard/Error.h"
#include "switchboard/TopicTree.h"

#include <algorithm>
#include <deque>

namespace switchboard {
namespace detail {

/// One filter of one subscription. Shared so that a delivery in progress keeps the filter it
/// reports in BusContext alive even if the listener removes it.
struct FilterSlot : std::enable_shared_from_this<FilterSlot> {
    explicit FilterSlot(TopicFilter f, std::uint64_t s) : filter(std::move(f)), serial(s) {}
    TopicFilter filter;
    std::uint64_t serial; ///< increasing per bus: tells which filter was added first
};

/// The state behind a BusSubscription handle. Shared by the handle and by deliveries in
/// progress, so that a listener that unsubscribes itself is not destroyed while it runs.
struct BusSubscriber : std::enable_shared_from_this<BusSubscriber> {
    std::weak_ptr<BusState> bus;
    BusListener listener;
    std::vector<std::shared_ptr<FilterSlot>> filters; ///< in the order added
    BusSubscription *handle = nullptr;                 ///< follows the handle through moves
    std::uint64_t id = 0;
    std::size_t errors = 0;
    bool active = true;

    bool holds(const FilterSlot *slot) const noexcept
    {
        return std::any_of(filters.begin(), filters.end(), [slot](const auto &f) { return f.get() == slot; });
    }
};

namespace {

/// What the tree stores per (filter, subscription).
struct TreeEntry {
    BusSubscriber *subscriber;
    FilterSlot *slot;
    friend bool operator==(const TreeEntry &, const TreeEntry &) = default;
};

struct Recipient {
    std::shared_ptr<BusSubscriber> subscriber;
    std::shared_ptr<const FilterSlot> slot;
    std::size_t topicIndex = 0;
    bool done = false;
};

/// One event being delivered: its recipients, fixed when the delivery starts, sorted by
/// subscription id, each marked once it has had its turn.
struct Delivery {
    std::shared_ptr<const BusEvent> event;
    std::vector<Recipient> recipients;
    bool synchronous = false;

    Recipient *find(std::uint64_t subscriberId)
    {
        const auto it = std::lower_bound(recipients.begin(), recipients.end(), subscriberId,
                                         [](const Recipient &r, std::uint64_t id) { return r.subscriber->id < id; });
        return it != recipients.end() && it->subscriber->id == subscriberId ? &*it : nullptr;
    }
};

} // namespace

struct BusState : std::enable_shared_from_this<BusState> {
    explicit BusState(Executor &e, Bus &b) : executor(e), bus(&b) {}

    Executor &executor;
    Bus *bus; ///< null once the Bus is destroyed
    TopicTree<TreeEntry> tree;
    /// Events queued by publish(), with their publish sequence number.
    std::deque<std::pair<std::uint64_t, std::shared_ptr<const BusEvent>>> pending;
    /// Deliveries running now, oldest first: more than one when a listener calls publishSync().
    std::vector<Delivery *> inProgress;
    std::uint64_t nextSubscriberId = 1;
    std::uint64_t nextSerial = 1;
    std::size_t subscriptions = 0;
    std::uint64_t published = 0;
    std::uint64_t delivered = 0;
    std::uint64_t errors = 0;

    BusSubscription subscribe(const std::vector<TopicFilter> &filters, BusListener listener)
    {
        auto subscriber = std::make_shared<BusSubscriber>();
        subscriber->bus = weak_from_this();
        subscriber->listener = std::move(listener);
        subscriber->id = nextSubscriberId++;
        ++subscriptions;
        for (const TopicFilter &filter : filters)
            addFilter(*subscriber, filter);
        return BusSubscription(std::move(subscriber));
    }

    bool addFilter(BusSubscriber &subscriber, const TopicFilter &filter)
    {
        for (const auto &slot : subscriber.filters) {
            if (slot->filter == filter)
                return false;
        }
        auto slot = std::make_shared<FilterSlot>(filter, nextSerial++);
        tree.insert(filter, TreeEntry{&subscriber, slot.get()});
        subscriber.filters.push_back(std::move(slot));
        return true;
    }

    bool removeFilter(BusSubscriber &subscriber, const TopicFilter &filter)
    {
        auto &filters = subscriber.filters;
        const auto it = std::find_if(filters.begin(), filters.end(), [&](const auto &s) { return s->filter == filter; });
        if (it == filters.end())
            return false;
        tree.erase(filter, TreeEntry{&subscriber, it->get()});
        filters.erase(it);
        return true;
    }

    void remove(BusSubscriber &subscriber)
    {
        for (const auto &slot : subscriber.filters)
            tree.erase(slot->filter, TreeEntry{&subscriber, slot.get()});
        subscriber.filters.clear();
        --subscriptions;
    }

    void post()
    {
        executor.post([weak = weak_from_this()] {
            if (auto self = weak.lock())
                self->deliverOnePending();
        });
    }

    void deliverOnePending()
    {
        // An earlier publishSync() may have delivered this task's event already.
        if (pending.empty() || !bus)
            return;
        auto event = std::move(pending.front().second);
        pending.pop_front();
        deliver(std::move(event), false);
    }

    /// Delivers the queued events up to sequence number `last`. Events that listeners queue
    /// meanwhile are newer and stay queued.
    void drainPendingThrough(std::uint64_t last)
    {
        while (!pending.empty() && pending.front().first <= last && bus) {
            auto event = std::move(pending.front().second);
            pending.pop_front();
            deliver(std::move(event), true);
        }
    }

    void deliver(std::shared_ptr<const BusEvent> event, bool synchronous)
    {
        Delivery delivery;
        delivery.synchronous = synchronous;
        delivery.event = std::move(event);
        collectRecipients(delivery);
        if (delivery.recipients.empty())
            return;
        inProgress.push_back(&delivery);
        for (Recipient &recipient : delivery.recipients) {
            if (!recipient.done)
                deliverTo(delivery, recipient);
        }
        inProgress.pop_back();
    }

    void collectRecipients(Delivery &delivery)
    {
        auto &out = delivery.recipients;
        const auto &topics = delivery.event->topics;
        for (std::size_t i = 0; i < topics.size(); ++i) {
            tree.match(topics[i], [&](const TreeEntry &entry) {
                out.push_back(Recipient{entry.subscriber->shared_from_this(), entry.slot->shared_from_this(), i});
            });
        }
        // One recipient per subscription: its first matching topic, then its earliest filter.
        std::sort(out.begin(), out.end(), [](const Recipient &a, const Recipient &b) {
            if (a.subscriber->id != b.subscriber->id)
                return a.subscriber->id < b.subscriber->id;
            if (a.topicIndex != b.topicIndex)
                return a.topicIndex < b.topicIndex;
            return a.slot->serial < b.slot->serial;
        });
        out.erase(std::unique(out.begin(), out.end(),
                              [](const Recipient &a, const Recipient &b) { return a.subscriber == b.subscriber; }),
                  out.end());
    }

    void deliverTo(Delivery &delivery, Recipient &recipient)
    {
        BusSubscriber &subscriber = *recipient.subscriber;

        // Per-listener order: events that started delivering before this one and have not
        // reached this listener yet go first. Indexing, because nested deliveries push and pop.
        // This turn is marked done only afterwards: if one of those listener calls nests a
        // publishSync(), that nested delivery must hand this event over before its own.
        for (std::size_t i = 0; subscriber.active && i < inProgress.size() && inProgress[i] != &delivery; ++i) {
            Delivery &older = *inProgress[i];
            Recipient *pendingTurn = older.find(subscriber.id);
            if (pendingTurn && !pendingTurn->done)
                deliverTo(older, *pendingTurn);
        }
        if (recipient.done)
            return; // a nested delivery during the catch-up above made this call
        recipient.done = true;
        if (!subscriber.active || !bus)
            return;

        // The filter that matched may have been removed since the recipients were collected.
        std::shared_ptr<const FilterSlot> slot = recipient.slot;
        std::size_t topicIndex = recipient.topicIndex;
        if (!subscriber.holds(slot.get())) {
            slot.reset();
            const auto &topics = delivery.event->topics;
            for (std::size_t t = 0; t < topics.size() && !slot; ++t) {
                for (const auto &candidate : subscriber.filters) {
                    if (candidate->filter.match(topics[t])) {
                        slot = candidate;
                        topicIndex = t;
                        break;
                    }
                }
            }
            if (!slot)
                return;
        }

        BusContext context;
        context.m_topic = &delivery.event->topics[topicIndex];
        context.m_filter = &slot->filter;
        context.m_subscriber = &subscriber;
        context.m_bus = bus;
        context.m_synchronous = delivery.synchronous;
        // recipient.subscriber keeps the listener alive even if it unsubscribes itself.
        ++delivered;
        try {
            subscriber.listener(context, *delivery.event);
        } catch (...) {
            ++errors;
            ++subscriber.errors;
        }
    }
};

} // namespace detail

using detail::BusState;
using detail::BusSubscriber;

// --- BusContext -------------------------------------------------------------------------

BusSubscription &BusContext::subscription() const noexcept
{
    return *m_subscriber->handle;
}

// --- BusSubscription --------------------------------------------------------------------

BusSubscription::BusSubscription(std::shared_ptr<BusSubscriber> subscriber) : m_subscriber(std::move(subscriber))
{
    m_subscriber->handle = this;
}

BusSubscription::BusSubscription(BusSubscription &&other) noexcept : m_subscriber(std::move(other.m_subscriber))
{
    other.m_subscriber.reset();
    if (m_subscriber)
        m_subscriber->handle = this;
}

BusSubscription &BusSubscription::operator=(BusSubscription &&other) noexcept
{
    if (this != &other) {
        unsubscribe();
        m_subscriber = std::move(other.m_subscriber);
        other.m_subscriber.reset();
        if (m_subscriber)
            m_subscriber->handle = this;
    }
    return *this;
}

BusSubscription::~BusSubscription()
{
    unsubscribe();
}

void BusSubscription::unsubscribe()
{
    if (!m_subscriber)
        return;
    const auto subscriber = std::move(m_subscriber);
    m_subscriber.reset();
    subscriber->handle = nullptr;
    if (subscriber->active) {
        subscriber->active = false;
        if (auto state = subscriber->bus.lock())
            state->remove(*subscriber);
    }
}

bool BusSubscription::active() const noexcept
{
    return m_subscriber && m_subscriber->active && !m_subscriber->bus.expired();
}

std::uint64_t BusSubscription::id() const noexcept
{
    return active() ? m_subscriber->id : 0;
}

std::size_t BusSubscription::listenerErrors() const noexcept
{
    return m_subscriber ? m_subscriber->errors : 0;
}

bool BusSubscription::addFilter(const TopicFilter &filter)
{
    if (!m_subscriber || !m_subscriber->active)
        return false;
    const auto state = m_subscriber->bus.lock();
    return state && state->addFilter(*m_subscriber, filter);
}

std::error_code BusSubscription::addFilter(std::string_view text)
{
    std::error_code error;
    const auto filter = TopicFilter::parse(text, error);
    if (!filter)
        return error;
    if (!active())
        return Error::NotFound;
    addFilter(*filter);
    return {};
}

bool BusSubscription::removeFilter(const TopicFilter &filter)
{
    if (!m_subscriber || !m_subscriber->active)
        return false;
    const auto state = m_subscriber->bus.lock();
    return state && state->removeFilter(*m_subscriber, filter);
}

std::vector<TopicFilter> BusSubscription::filters() const
{
    std::vector<TopicFilter> out;
    if (m_subscriber) {
        out.reserve(m_subscriber->filters.size());
        for (const auto &slot : m_subscriber->filters)
            out.push_back(slot->filter);
    }
    return out;
}

// --- Bus --------------------------------------------------------------------------------

Bus::Bus(Executor &executor) : d(std::make_shared<BusState>(executor, *this)) {}

Bus::~Bus()
{
    // Queued tasks find the state gone; handles that outlive the bus become inactive.
    d->bus = nullptr;
    d->pending.clear();
}

BusSubscription Bus::subscribe(BusListener listener)
{
    return d->subscribe({}, std::move(listener));
}

BusSubscription Bus::subscribe(const TopicFilter &filter, BusListener listener)
{
    return d->subscribe({filter}, std::move(listener));
}

BusSubscription Bus::subscribe(const std::vector<TopicFilter> &filters, BusListener listener)
{
    return d->subscribe(filters, std::move(listener));
}

std::error_code Bus::publish(BusEvent event)
{
    if (event.topics.empty())
        return TopicError::Empty;
    d->pending.emplace_back(++d->published, std::make_shared<const BusEvent>(std::move(event)));
    d->post();
    return {};
}

std::error_code Bus::publish(Topic topic, std::string name, std::any payload)
{
    return publish(BusEvent{{std::move(topic)}, std::move(name), std::move(payload)});
}

std::error_code Bus::publishSync(BusEvent event)
{
    if (event.topics.empty())
        return TopicError::Empty;
    if (d->inProgress.size() >= kMaxNesting)
        return Error::TooLarge;
    // The event joins the queue like a published one, then the queue is delivered up to it.
    // A publishSync() nested in the delivery of an older queued event therefore delivers that
    // older event first, and an enclosing publishSync() may find its event already delivered.
    const std::uint64_t sequence = ++d->published;
    d->pending.emplace_back(sequence, std::make_shared<const BusEvent>(std::move(event)));
    // Keep the state alive even if a listener (wrongly) destroys the bus.
    const auto state = d;
    state->drainPendingThrough(sequence);
    return {};
}

std::error_code Bus::publishSync(Topic topic, std::string name, std::any payload)
{
    return publishSync(BusEvent{{std::move(topic)}, std::move(name), std::move(payload)});
}

std::size_t Bus::subscriptionCount() const noexcept
{
    return d->subscriptions;
}

std::size_t Bus::pendingCount() const noexcept
{
    return d->pending.size();
}

std::uint64_t Bus::publishedCount() const noexcept
{
    return d->published;
}

std::uint64_t Bus::deliveredCount() const noexcept
{
    return d->delivered;
}

std::uint64_t Bus::listenerErrors() const noexcept
{
    return d->errors;
}

} // namespace switchboard
