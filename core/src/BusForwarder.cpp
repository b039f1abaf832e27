#include "switchboard/BusForwarder.h"

#include "switchboard/Hub.h"
#include "switchboard/JsonParse.h"
#include "switchboard/Publication.h"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <system_error>
#include <utility>

namespace switchboard {

std::optional<std::string> defaultBusPayloadToJson(const std::any &payload)
{
    if (!payload.has_value())
        return std::string("null");
    if (const auto *text = std::any_cast<std::string>(&payload))
        return *text;
    if (const auto *value = std::any_cast<boost::json::value>(&payload))
        return boost::json::serialize(*value);
    if (const auto *object = std::any_cast<boost::json::object>(&payload))
        return boost::json::serialize(*object);
    if (const auto *array = std::any_cast<boost::json::array>(&payload))
        return boost::json::serialize(*array);
    return std::nullopt;
}

namespace {

/// One JSON value and nothing else: what a `message` frame may carry in `data`.
bool isJsonText(const std::string &text)
{
    return isAcceptedJson(text);
}

} // namespace

struct BusForwarder::Impl {
    /// Shared with the Broker's completion callbacks, which may run after the forwarder died.
    struct Counters {
        std::uint64_t forwarded = 0;
        std::uint64_t unserializable = 0;
        std::uint64_t rejected = 0;
        std::uint64_t skipped = 0;
        std::uint64_t callbackErrors = 0;
    };

    Impl(Hub &h, BusForwarderOptions o) : hub(h), options(std::move(o)) {}

    Hub &hub;
    BusForwarderOptions options;
    std::shared_ptr<Counters> counters = std::make_shared<Counters>();
    BusSubscription subscription;

    std::string channelFor(const BusContext &context, const BusEvent &event)
    {
        if (!options.channel)
            return context.topic().str();
        try {
            return options.channel(context, event);
        } catch (...) {
            ++counters->callbackErrors;
            return {};
        }
    }

    std::optional<std::string> payloadOf(const BusEvent &event)
    {
        std::optional<std::string> text;
        try {
            text = options.serialize ? options.serialize(event.payload) : defaultBusPayloadToJson(event.payload);
        } catch (...) {
            ++counters->callbackErrors;
            return std::nullopt;
        }
        if (text && !isJsonText(*text))
            return std::nullopt;
        return text;
    }

    void forward(const BusContext &context, const BusEvent &event)
    {
        std::string channel = channelFor(context, event);
        if (channel.empty()) {
            ++counters->skipped;
            return;
        }
        std::optional<std::string> data = payloadOf(event);
        if (!data) {
            ++counters->unserializable;
            return;
        }
        Publication publication;
        publication.channel = std::move(channel);
        if (options.eventName) {
            try {
                publication.event = options.eventName(event);
            } catch (...) {
                ++counters->callbackErrors;
                ++counters->rejected;
                return;
            }
        } else {
            publication.event = event.name;
        }
        publication.data = std::move(*data);
        std::weak_ptr<Counters> weak = counters;
        hub.publish(std::move(publication), [weak](std::error_code error, const StreamPosition &) {
            auto c = weak.lock();
            if (!c)
                return;
            if (error)
                ++c->rejected;
            else
                ++c->forwarded;
        });
    }
};

BusForwarder::BusForwarder(Bus &bus, Hub &hub, BusForwarderOptions options)
    : d(std::make_unique<Impl>(hub, std::move(options)))
{
    // The listener reaches the Impl, which stays at one address when the forwarder is moved and
    // owns the subscription: the listener cannot run once the Impl is gone.
    Impl *impl = d.get();
    d->subscription = bus.subscribe(d->options.filters,
                                    [impl](const BusContext &context, const BusEvent &event) { impl->forward(context, event); });
}

BusForwarder::~BusForwarder() = default;
BusForwarder::BusForwarder(BusForwarder &&) noexcept = default;
BusForwarder &BusForwarder::operator=(BusForwarder &&) noexcept = default;

bool BusForwarder::addFilter(const TopicFilter &filter)
{
    return d && d->subscription.addFilter(filter);
}

bool BusForwarder::removeFilter(const TopicFilter &filter)
{
    return d && d->subscription.removeFilter(filter);
}

void BusForwarder::stop()
{
    if (d)
        d->subscription.unsubscribe();
}

bool BusForwarder::active() const noexcept
{
    return d && d->subscription.active();
}

std::uint64_t BusForwarder::forwarded() const noexcept
{
    return d ? d->counters->forwarded : 0;
}

std::uint64_t BusForwarder::unserializable() const noexcept
{
    return d ? d->counters->unserializable : 0;
}

std::uint64_t BusForwarder::rejected() const noexcept
{
    return d ? d->counters->rejected : 0;
}

std::uint64_t BusForwarder::skipped() const noexcept
{
    return d ? d->counters->skipped : 0;
}

std::uint64_t BusForwarder::callbackErrors() const noexcept
{
    return d ? d->counters->callbackErrors : 0;
}

} // namespace switchboard
