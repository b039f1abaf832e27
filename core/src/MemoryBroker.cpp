#include "switchboard/MemoryBroker.h"

#include "switchboard/HistoryBuffer.h"
#include "switchboard/JsonParse.h"
#include "RandomId.h"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <deque>
#include <exception>
#include <istream>
#include <iterator>
#include <list>
#include <ostream>
#include <string>
#include <unordered_map>
#include <unordered_set>

namespace switchboard {
namespace {

struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view text) const noexcept { return std::hash<std::string_view>{}(text); }
};
template <typename Value>
using StringMap = std::unordered_map<std::string, Value, StringHash, std::equal_to<>>;

using PublicationPtr = std::shared_ptr<const Publication>;

namespace json = boost::json;

constexpr std::string_view kSnapshotFormat = "switchboard-history-snapshot";
constexpr std::int64_t kSnapshotVersion = 1;

class SnapshotErrorCategory final : public std::error_category {
public:
    const char *name() const noexcept override { return "switchboard.snapshot"; }
    std::string message(int code) const override
    {
        switch (static_cast<SnapshotError>(code)) {
        case SnapshotError::Unreadable: return "history snapshot could not be read";
        case SnapshotError::NotJson: return "history snapshot is not JSON";
        case SnapshotError::Foreign: return "not a Switchboard history snapshot";
        case SnapshotError::Unsupported: return "history snapshot version not supported";
        case SnapshotError::Malformed: return "history snapshot is malformed";
        }
        return "unknown history snapshot error";
    }
};

/// One stream as read from a snapshot, checked but not yet applied.
struct SnapshotStream {
    std::string channel;
    std::string epoch;
    std::uint64_t top = 0;
    std::int64_t lastActiveMs = 0; // wall clock
    struct Entry {
        Publication publication;
        std::int64_t storedAtMs = 0; // wall clock
    };
    std::vector<Entry> entries; // consecutive offsets, oldest first
};

// Field readers: false when the field is missing or has another type or range.
bool readString(const json::object &o, std::string_view key, std::string &out)
{
    const json::value *v = o.if_contains(key);
    if (!v || !v->is_string())
        return false;
    out = std::string(v->get_string());
    return true;
}

template <typename Number>
bool readNumber(const json::object &o, std::string_view key, Number &out)
{
    const json::value *v = o.if_contains(key);
    if (!v || !(v->is_int64() || v->is_uint64()))
        return false;
    boost::system::error_code ec;
    out = v->to_number<Number>(ec);
    return !ec;
}

bool readEntry(const json::value &value, SnapshotStream::Entry &entry)
{
    if (!value.is_object())
        return false;
    const json::object &o = value.get_object();
    Publication &p = entry.publication;
    // `data` is relayed verbatim: it must be JSON a client can parse (older versions could store
    // `Infinity` for a number out of range).
    if (!readNumber(o, "offset", p.offset) || p.offset == 0 || !readString(o, "event", p.event)
        || !readString(o, "data", p.data) || !isAcceptedJson(p.data) || !readNumber(o, "timestampMs", p.timestampMs)
        || !readNumber(o, "storedAtMs", entry.storedAtMs))
        return false;
    if (o.contains("sender") && !readString(o, "sender", p.sender))
        return false;
    return true;
}

bool readStream(const json::value &value, SnapshotStream &stream)
{
    if (!value.is_object())
        return false;
    const json::object &o = value.get_object();
    if (!readString(o, "channel", stream.channel) || stream.channel.empty() || !readString(o, "epoch", stream.epoch)
        || stream.epoch.empty() || !readNumber(o, "top", stream.top) || !readNumber(o, "lastActiveMs", stream.lastActiveMs))
        return false;
    const json::value *list = o.if_contains("publications");
    if (!list || !list->is_array())
        return false;
    stream.entries.reserve(list->get_array().size());
    for (const json::value &item : list->get_array()) {
        SnapshotStream::Entry entry;
        if (!readEntry(item, entry))
            return false;
        // Offsets are consecutive and never beyond the top: HistoryBuffer relies on it.
        if (!stream.entries.empty() && entry.publication.offset != stream.entries.back().publication.offset + 1)
            return false;
        if (entry.publication.offset > stream.top)
            return false;
        entry.publication.channel = stream.channel;
        stream.entries.push_back(std::move(entry));
    }
    return stream.entries.empty() || stream.entries.back().publication.offset == stream.top;
}

/// Parses and checks a whole snapshot before anything is applied.
std::error_code readSnapshot(std::istream &in, std::vector<SnapshotStream> &streams)
{
    const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    if (in.bad())
        return SnapshotError::Unreadable;
    json::value doc;
    if (parseJson(text, doc))
        return SnapshotError::NotJson;
    if (!doc.is_object())
        return SnapshotError::Foreign;
    const json::object &root = doc.get_object();
    std::string format;
    if (!readString(root, "format", format) || format != kSnapshotFormat)
        return SnapshotError::Foreign;
    std::int64_t version = 0;
    if (!readNumber(root, "version", version))
        return SnapshotError::Malformed;
    if (version != kSnapshotVersion)
        return SnapshotError::Unsupported;
    const json::value *list = root.if_contains("streams");
    if (!list || !list->is_array())
        return SnapshotError::Malformed;
    std::unordered_set<std::string_view> seen;
    streams.reserve(list->get_array().size());
    for (const json::value &item : list->get_array()) {
        SnapshotStream stream;
        if (!readStream(item, stream))
            return SnapshotError::Malformed;
        streams.push_back(std::move(stream));
    }
    for (const SnapshotStream &stream : streams) {
        if (!seen.insert(stream.channel).second)
            return SnapshotError::Malformed; // one stream per channel
    }
    return {};
}

} // namespace

const std::error_category &snapshotErrorCategory() noexcept
{
    static const SnapshotErrorCategory category;
    return category;
}

struct MemoryBroker::Impl {
    struct Stream {
        std::string epoch;
        std::uint64_t top = 0;
        std::chrono::milliseconds ttl{0};
        HistoryBuffer buffer;
        std::list<std::string>::iterator lru; // position in `idle` (top 0) or `recent`
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

    Impl(Timer &t, MemoryBrokerOptions o) : timer(t), options(std::move(o)), keys(options.idempotency) {}

    Timer &timer;
    MemoryBrokerOptions options;
    BrokerHandler *handler = nullptr;
    StringMap<Stream> streams;
    /// Streams nobody has published to (created by a join so that the subscriber learns an
    /// epoch), oldest first. They hold nothing to recover: evicted first, dropped on unsubscribe.
    std::list<std::string> idle;
    /// Streams with published history, least recently published first.
    std::list<std::string> recent;
    std::size_t streamsWithTtl = 0;
    TimerId sweepTimer = 0;
    StringMap<std::shared_ptr<Subscription>> subscriptions;
    std::deque<std::shared_ptr<Subscription>> ready;
    bool delivering = false;
    bool drainPosted = false;
    std::uint64_t droppedTotal = 0;
    std::uint64_t handlerErrors = 0;
    std::uint64_t historyEvictions = 0;
    IdempotencyTable keys; // idempotent publishes: key -> position, for the window
    std::shared_ptr<Impl *> alive = std::make_shared<Impl *>(this);

    void log(const std::string &message) const
    {
        if (options.log)
            options.log(message);
    }

    std::list<std::string> &listOf(const Stream &stream) { return stream.top == 0 ? idle : recent; }

    void eraseStream(StringMap<Stream>::iterator it)
    {
        if (it->second.ttl.count() > 0)
            --streamsWithTtl;
        listOf(it->second).erase(it->second.lru);
        streams.erase(it);
    }

    /// The first stream of `list` whose channel has no subscriber here, looking at a bounded
    /// number of entries so that a table full of subscribed streams costs no full scan.
    std::list<std::string>::iterator firstUnsubscribed(std::list<std::string> &list)
    {
        constexpr int kScan = 256;
        int scanned = 0;
        for (auto it = list.begin(); it != list.end() && scanned < kScan; ++it, ++scanned) {
            if (!subscriptions.contains(*it))
                return it;
        }
        return list.end();
    }

    void evictPublished(const std::string &name)
    {
        const auto it = streams.find(name);
        ++historyEvictions;
        log("switchboard: history stream evicted (stream limit " + std::to_string(options.history.maxStreams)
            + "): " + name + ", epoch " + it->second.epoch + ", top offset " + std::to_string(it->second.top)
            + ", " + std::to_string(it->second.buffer.size()) + " publications lost");
        eraseStream(it);
    }

    /// Makes room for one more stream under `maxStreams`. What goes, in order: an empty stream
    /// nobody subscribes to; for a publish only, then any empty stream (its subscribers lose
    /// nothing but an epoch with no publication), then the least recently published stream
    /// nobody subscribes to, then the least recently published one. A join (`forPublish`
    /// false) never evicts published history nor a subscriber's epoch: false when no room.
    bool makeRoom(bool forPublish)
    {
        if (options.history.maxStreams == 0 || streams.size() < options.history.maxStreams)
            return true;
        if (const auto victim = firstUnsubscribed(idle); victim != idle.end()) {
            eraseStream(streams.find(*victim));
            return true;
        }
        if (!forPublish)
            return false;
        if (!idle.empty()) {
            eraseStream(streams.find(idle.front()));
            return true;
        }
        auto victim = firstUnsubscribed(recent);
        if (victim == recent.end())
            victim = recent.begin();
        evictPublished(*victim);
        return true;
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

    /// A new, empty stream (in `idle` until its first publish); streams.end() when a join
    /// finds no room (see makeRoom).
    StringMap<Stream>::iterator createStream(std::string_view channel, const HistoryRule &rule, bool forPublish)
    {
        if (!makeRoom(forPublish))
            return streams.end();
        auto [it, inserted] = streams.try_emplace(std::string(channel),
                                                  Stream{detail::randomHex(6), 0, rule.ttl, HistoryBuffer(rule.size), {}, timer.now()});
        idle.push_back(it->first);
        it->second.lru = std::prev(idle.end());
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
    // A stream only a join created holds nothing: subscribing alone leaves no state behind.
    if (auto stream = d->streams.find(channel); stream != d->streams.end() && stream->second.top == 0)
        d->eraseStream(stream);
}

void MemoryBroker::publish(Publication publication, std::function<void(std::error_code, StreamPosition)> done)
{
    const bool keyed = !publication.idempotencyKey.empty() && d->keys.enabled();
    if (keyed) {
        if (const StreamPosition *original = d->keys.find(publication.channel, publication.idempotencyKey, d->timer.now())) {
            d->keys.countDuplicate();
            if (done)
                done({}, *original);
            return;
        }
    }
    std::string key = keyed ? std::move(publication.idempotencyKey) : std::string();
    publication.idempotencyKey.clear(); // not delivered, not kept in history
    const std::string channel = keyed ? publication.channel : std::string();
    StreamPosition position;
    PublicationPtr stored;
    const HistoryRule rule = publication.binary ? HistoryRule{} : d->options.history.ruleFor(publication.channel);
    if (rule.size == 0) {
        publication.offset = 0;
        stored = std::make_shared<const Publication>(std::move(publication));
    } else {
        auto it = d->findLiveStream(publication.channel);
        if (it == d->streams.end())
            it = d->createStream(publication.channel, rule, true);
        Impl::Stream &stream = it->second;
        d->recent.splice(d->recent.end(), d->listOf(stream), stream.lru); // before top changes
        publication.offset = ++stream.top;
        stream.lastActive = d->timer.now();
        position = StreamPosition{stream.top, stream.epoch};
        stored = std::make_shared<const Publication>(std::move(publication));
        stream.buffer.push(stored, d->timer.now());
    }
    if (keyed)
        d->keys.remember(channel, key, position, d->timer.now());
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
            it = d->createStream(channel, rule, false);
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
        // Not a position of this stream (it was recreated since): everything held is new to
        // the reader, oldest first; complete stays false.
        result.complete = false;
        stream.buffer.copySince(0, query.limit, result.publications);
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

std::vector<std::string> MemoryBroker::channelsWithHistory() const
{
    std::vector<std::string> names;
    const auto now = d->timer.now();
    for (const auto &[name, stream] : d->streams) {
        if (stream.buffer.empty())
            continue;
        // The newest publication decides: expire() drops old ones lazily, so look at its age.
        const auto &newest = stream.buffer.at(stream.buffer.size() - 1);
        if (stream.ttl.count() > 0 && newest.storedAt <= now - stream.ttl)
            continue;
        names.push_back(name);
    }
    std::sort(names.begin(), names.end());
    return names;
}

std::uint64_t MemoryBroker::historyEvictions() const
{
    return d->historyEvictions;
}

IdempotencyCounters MemoryBroker::idempotency() const
{
    return d->keys.counters();
}

SnapshotStats MemoryBroker::saveSnapshot(std::ostream &out)
{
    SnapshotStats stats;
    // Monotonic storage times become wall clock: the monotonic epoch dies with the process.
    const auto nowMono = d->timer.now();
    const std::int64_t nowWall = d->timer.wallClockMs();
    const auto toWall = [&](std::chrono::milliseconds mono) { return nowWall - (nowMono - mono).count(); };
    json::array streams;
    streams.reserve(d->streams.size());
    // Empty streams, then least recently active first, so that a load rebuilds the same
    // eviction order.
    std::vector<std::string> names(d->idle.begin(), d->idle.end());
    names.insert(names.end(), d->recent.begin(), d->recent.end());
    for (const std::string &name : names) {
        auto it = d->streams.find(name);
        if (!d->expire(it))
            continue;
        const Impl::Stream &stream = it->second;
        json::array publications;
        publications.reserve(stream.buffer.size());
        for (std::size_t i = 0; i < stream.buffer.size(); ++i) {
            const HistoryBuffer::Entry &entry = stream.buffer.at(i);
            const Publication &p = *entry.publication;
            json::object item;
            item["offset"] = p.offset;
            item["event"] = p.event;
            item["data"] = p.data; // JSON text kept verbatim, as a string
            item["timestampMs"] = p.timestampMs;
            item["storedAtMs"] = toWall(entry.storedAt);
            if (!p.sender.empty())
                item["sender"] = p.sender;
            publications.push_back(std::move(item));
        }
        stats.publications += publications.size();
        json::object object;
        object["channel"] = it->first;
        object["epoch"] = stream.epoch;
        object["top"] = stream.top;
        object["lastActiveMs"] = toWall(stream.lastActive);
        object["publications"] = std::move(publications);
        streams.push_back(std::move(object));
    }
    stats.streams = streams.size();
    json::object root;
    root["format"] = kSnapshotFormat;
    root["version"] = kSnapshotVersion;
    root["savedAtMs"] = nowWall;
    root["streams"] = std::move(streams);
    out << json::serialize(root) << '\n';
    return stats;
}

SnapshotStats MemoryBroker::loadSnapshot(std::istream &in, std::error_code &error)
{
    SnapshotStats stats;
    // Whatever happens, the streams held before are gone: the broker shows the snapshot or
    // nothing, never a mix.
    while (!d->streams.empty())
        d->eraseStream(d->streams.begin());
    std::vector<SnapshotStream> streams;
    error = readSnapshot(in, streams);
    if (error)
        return stats;

    const auto nowMono = d->timer.now();
    const std::int64_t nowWall = d->timer.wallClockMs();
    // Age by the wall clock; a time in the future (clock stepped back) counts as now.
    const auto age = [&](std::int64_t wallMs) { return std::chrono::milliseconds(std::max<std::int64_t>(0, nowWall - wallMs)); };
    // What the current rules keep of each stream.
    struct Kept {
        SnapshotStream *saved;
        HistoryRule rule;
        std::vector<SnapshotStream::Entry>::iterator first; // oldest entry kept
    };
    std::vector<Kept> kept;
    kept.reserve(streams.size());
    for (SnapshotStream &saved : streams) {
        const HistoryRule rule = d->options.history.ruleFor(saved.channel);
        if (rule.size == 0) {
            ++stats.droppedStreams;
            stats.expiredPublications += saved.entries.size();
            continue;
        }
        const auto expired = [&](std::int64_t wallMs) { return rule.ttl.count() > 0 && age(wallMs) >= rule.ttl; };
        // Keep the newest `rule.size` entries that are still within the TTL (storage times grow
        // with offsets, so the kept ones are a suffix).
        auto first = saved.entries.begin();
        if (saved.entries.size() > rule.size)
            first = saved.entries.end() - static_cast<std::ptrdiff_t>(rule.size);
        first = std::find_if(first, saved.entries.end(), [&](const SnapshotStream::Entry &e) { return !expired(e.storedAtMs); });
        stats.expiredPublications += static_cast<std::size_t>(first - saved.entries.begin());
        if (first == saved.entries.end() && expired(saved.lastActiveMs)) {
            ++stats.droppedStreams; // expired entirely: the channel starts a new epoch
            continue;
        }
        kept.push_back(Kept{&saved, rule, first});
    }
    // Least recently active first: with more streams than maxStreams the oldest are left out,
    // and the LRU list comes out in the saved order.
    std::stable_sort(kept.begin(), kept.end(),
                     [](const Kept &a, const Kept &b) { return a.saved->lastActiveMs < b.saved->lastActiveMs; });
    const std::size_t maxStreams = d->options.history.maxStreams;
    const std::size_t over = maxStreams > 0 && kept.size() > maxStreams ? kept.size() - maxStreams : 0;
    for (std::size_t i = 0; i < over; ++i) {
        ++stats.droppedStreams;
        stats.expiredPublications += static_cast<std::size_t>(kept[i].saved->entries.end() - kept[i].first);
    }
    for (auto k = kept.begin() + static_cast<std::ptrdiff_t>(over); k != kept.end(); ++k) {
        SnapshotStream &saved = *k->saved;
        Impl::Stream stream{std::move(saved.epoch), saved.top, k->rule.ttl, HistoryBuffer(k->rule.size), {},
                            nowMono - age(saved.lastActiveMs)};
        for (auto e = k->first; e != saved.entries.end(); ++e) {
            stream.buffer.push(std::make_shared<const Publication>(std::move(e->publication)), nowMono - age(e->storedAtMs));
            ++stats.publications;
        }
        auto [it, inserted] = d->streams.try_emplace(std::move(saved.channel), std::move(stream));
        std::list<std::string> &list = d->listOf(it->second);
        list.push_back(it->first);
        it->second.lru = std::prev(list.end());
        if (k->rule.ttl.count() > 0)
            ++d->streamsWithTtl;
        ++stats.streams;
    }
    d->armSweep();
    return stats;
}

} // namespace switchboard
