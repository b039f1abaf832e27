#include "switchboard/MemoryBroker.h"

#include "switchboard/HistoryBuffer.h"
#include "RandomId.h"

#include <deque>
#include <exception>
#include <list>
#include <string>
#include <unordered_map>

namespace switchboard {
namespace {

struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view text) const noexcept { return std::hash<std::string_view>{}(text); }
};
template <typename Value>
using StringMap = std::unordered_map<std::string, Value, StringHash, std::equal_to<>>;

using PublicationPtr = std::shared_ptr<const Publication>;

} // namespace

struct MemoryBroker::Impl {
    struct Stream {
        std::string epoch;
        std::uint64_t top = 0;
        std::chrono::milliseconds ttl{0};
        HistoryBuffer buffer;
        std::list<std::string>::iterator lru; // position in `recent`
        std::chrono::milliseconds lastActive{0}; // creation or newest publish
    };

    /// One subscribed channel. Shared so that the delivery loop keeps it alive when the handler
    /// unsubscribes in the middle of a delivery.
    struct Subscription {
        std::deque<PublicationPtr> queue;
        std::uint64_t dropped = 0;
        bool active = true;
        bool ready = false; // listed in `ready`
    };

    Impl(Timer &t, MemoryBrokerOptions o) : timer(t), options(std::move(o)) {}

    Timer &timer;
    MemoryBrokerOptions options;
    BrokerHandler *handler = nullptr;
    StringMap<Stream> streams;
    std::list<std::string> recent; // stream names, least recently published first
    std::size_t streamsWithTtl = 0;
    TimerId sweepTimer = 0;
    StringMap<std::shared_ptr<Subscription>> subscriptions;
    std::deque<std::shared_ptr<Subscription>> ready;
    bool delivering = false;
    bool drainPosted = false;
    std::uint64_t droppedTotal = 0;
    std::uint64_t handlerErrors = 0;
    std::shared_ptr<Impl *> alive = std::make_shared<Impl *>(this);

    void log(const std::string &message) const
    {
        if (options.log)
            options.log(message);
    }

    void eraseStream(StringMap<Stream>::iterator it)
    {
        if (it->second.ttl.count() > 0)
            --streamsWithTtl;
        recent.erase(it->second.lru);
        streams.erase(it);
    }

    /// Drops expired publications. A stream that holds none, was neither created nor published
    /// to within the TTL and has no subscription here has expired entirely and is removed (its
    /// epoch is lost). Returns false when the stream was removed.
    bool expire(StringMap<Stream>::iterator it)
    {
        Stream &stream = it->second;
        if (stream.ttl.count() <= 0)
            return true;
        const auto cutoff = timer.now() - stream.ttl;
        stream.buffer.expire(cutoff);
        if (stream.buffer.empty() && stream.lastActive <= cutoff && !subscriptions.contains(it->first)) {
            eraseStream(it);
            return false;
        }
        return true;
    }

    StringMap<Stream>::iterator findLiveStream(std::string_view channel)
    {
        auto it = streams.find(channel);
        if (it != streams.end() && !expire(it))
            return streams.end();
        return it;
    }

    StringMap<Stream>::iterator createStream(std::string_view channel, const HistoryRule &rule)
    {
        if (options.history.maxStreams > 0 && streams.size() >= options.history.maxStreams && !recent.empty()) {
            log("switchboard: history stream evicted: " + recent.front());
            eraseStream(streams.find(recent.front()));
        }
        auto [it, inserted] = streams.try_emplace(std::string(channel),
                                                  Stream{detail::randomHex(6), 0, rule.ttl, HistoryBuffer(rule.size), {}, timer.now()});
        recent.push_back(it->first);
        it->second.lru = std::prev(recent.end());
        if (rule.ttl.count() > 0) {
            ++streamsWithTtl;
            armSweep();
        }
        return it;
    }

    void armSweep()
    {
        if (sweepTimer != 0 || streamsWithTtl == 0)
            return;
        std::weak_ptr<Impl *> weak = alive;
        sweepTimer = timer.start(options.sweepInterval, [weak] {
            if (auto self = weak.lock())
                (*self)->sweep();
        });
    }

    void sweep()
    {
        sweepTimer = 0;
        for (auto it = streams.begin(); it != streams.end();) {
            auto next = std::next(it);
            expire(it);
            it = next;
        }
        armSweep();
    }

    void enqueue(const PublicationPtr &publication)
    {
        if (!handler)
            return;
        auto it = subscriptions.find(publication->channel);
        if (it == subscriptions.end())
            return;
        Subscription &subscription = *it->second;
        if (subscription.queue.size() >= options.subscriptionBuffer) {
            ++subscription.dropped;
            ++droppedTotal;
            log("switchboard: broker subscription buffer full, publication dropped on " + publication->channel);
            return;
        }
        subscription.queue.push_back(publication);
        if (!subscription.ready) {
            subscription.ready = true;
            ready.push_back(it->second);
        }
    }

    void scheduleDelivery()
    {
        if (!options.executor) {
            deliverPending();
            return;
        }
        if (drainPosted)
            return;
        drainPosted = true;
        std::weak_ptr<Impl *> weak = alive;
        options.executor->post([weak] {
            if (auto self = weak.lock()) {
                (*self)->drainPosted = false;
                (*self)->deliverPending();
            }
        });
    }

    void deliverPending()
    {
        if (delivering)
            return; // the outer loop picks up what was queued re-entrantly
        delivering = true;
        while (!ready.empty()) {
            std::shared_ptr<Subscription> subscription = std::move(ready.front());
            ready.pop_front();
            subscription->ready = false;
            while (subscription->active && !subscription->queue.empty() && handler) {
                PublicationPtr publication = std::move(subscription->queue.front());
                subscription->queue.pop_front();
                deliver(*publication);
            }
        }
        delivering = false;
    }

    void deliver(const Publication &publication)
    {
        try {
            handler->onPublication(publication);
        } catch (const std::exception &error) {
            ++handlerErrors;
            log("switchboard: broker handler failed on " + publication.channel + ": " + error.what());
        } catch (...) {
            ++handlerErrors;
            log("switchboard: broker handler failed on " + publication.channel);
        }
    }
};

MemoryBroker::MemoryBroker(Timer &timer, MemoryBrokerOptions options)
    : d(std::make_unique<Impl>(timer, std::move(options)))
{
}

MemoryBroker::~MemoryBroker()
{
    if (d->sweepTimer)
        d->timer.cancel(d->sweepTimer);
}

void MemoryBroker::setHandler(BrokerHandler *handler)
{
    d->handler = handler;
}

void MemoryBroker::subscribe(std::string_view channel)
{
    auto it = d->subscriptions.find(channel);
    if (it == d->subscriptions.end())
        d->subscriptions.emplace(std::string(channel), std::make_shared<Impl::Subscription>());
}

void MemoryBroker::unsubscribe(std::string_view channel)
{
    auto it = d->subscriptions.find(channel);
    if (it == d->subscriptions.end())
        return;
    it->second->active = false;
    it->second->queue.clear();
    d->subscriptions.erase(it);
}

void MemoryBroker::publish(Publication publication, std::function<void(std::error_code, StreamPosition)> done)
{
    StreamPosition position;
    PublicationPtr stored;
    const HistoryRule rule = publication.binary ? HistoryRule{} : d->options.history.ruleFor(publication.channel);
    if (rule.size == 0) {
        publication.offset = 0;
        stored = std::make_shared<const Publication>(std::move(publication));
    } else {
        auto it = d->findLiveStream(publication.channel);
        if (it == d->streams.end())
            it = d->createStream(publication.channel, rule);
        Impl::Stream &stream = it->second;
        d->recent.splice(d->recent.end(), d->recent, stream.lru);
        publication.offset = ++stream.top;
        stream.lastActive = d->timer.now();
        position = StreamPosition{stream.top, stream.epoch};
        stored = std::make_shared<const Publication>(std::move(publication));
        stream.buffer.push(stored, d->timer.now());
    }
    d->enqueue(stored);
    d->scheduleDelivery();
    if (done)
        done({}, std::move(position));
}

void MemoryBroker::history(std::string_view channel, const HistoryQuery &query, std::function<void(HistoryResult)> done)
{
    HistoryResult result;
    auto it = d->findLiveStream(channel);
    if (it == d->streams.end() && query.createStream) {
        const HistoryRule rule = d->options.history.ruleFor(channel);
        if (rule.size > 0)
            it = d->createStream(channel, rule);
    }
    if (it == d->streams.end()) {
        // Nothing held: no position can be recovered, not even {0, ""}.
        if (done)
            done(std::move(result));
        return;
    }
    const Impl::Stream &stream = it->second;
    result.top = StreamPosition{stream.top, stream.epoch};
    if (query.positionOnly) {
        if (done)
            done(std::move(result));
        return;
    }
    if (!query.since) {
        // Without a position: the newest `limit` publications, oldest first.
        const std::size_t held = stream.buffer.size();
        const std::size_t skip = query.limit == 0 || query.limit >= held ? 0 : held - query.limit;
        const std::uint64_t after = held ? stream.buffer.oldestOffset() - 1 + skip : 0;
        stream.buffer.copySince(after, 0, result.publications);
        if (done)
            done(std::move(result));
        return;
    }
    const StreamPosition &since = *query.since;
    if (since.epoch != stream.epoch || since.offset > stream.top) {
        result.complete = false;
    } else if (since.offset == stream.top) {
        result.complete = true;
    } else {
        const std::size_t available = stream.buffer.copySince(since.offset, query.limit, result.publications);
        const bool gapHeld = !stream.buffer.empty() && stream.buffer.oldestOffset() <= since.offset + 1;
        result.complete = gapHeld && result.publications.size() == available;
    }
    if (done)
        done(std::move(result));
}

const MemoryBrokerOptions &MemoryBroker::options() const
{
    return d->options;
}

std::uint64_t MemoryBroker::dropped() const
{
    return d->droppedTotal;
}

std::uint64_t MemoryBroker::dropped(std::string_view channel) const
{
    auto it = d->subscriptions.find(channel);
    return it == d->subscriptions.end() ? 0 : it->second->dropped;
}

std::uint64_t MemoryBroker::handlerErrors() const
{
    return d->handlerErrors;
}

std::size_t MemoryBroker::streamCount() const
{
    return d->streams.size();
}

} // namespace switchboard
