#pragma once
// BusForwarder: forwards events of the in-process Bus to Hub channels, so that the events an
// application publishes internally also reach its WebSocket clients.

#include "switchboard/Bus.h"
#include "switchboard/TopicFilter.h"

#include <any>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace switchboard {

class Hub;

/// Chooses the Hub channel of a matching event. `context.topic()` is the event topic that
/// matched. Returning an empty string skips the event (counted in skipped()).
using BusChannelMapper = std::function<std::string(const BusContext &context, const BusEvent &event)>;

/// Turns an event payload into JSON text. std::nullopt: the payload cannot be sent (counted in
/// unserializable()). The text returned is checked to be one JSON value before it is published.
using BusPayloadSerializer = std::function<std::optional<std::string>(const std::any &payload)>;

/// The default serializer: an empty payload gives `null`; a std::string is taken as JSON text;
/// boost::json::value, boost::json::object and boost::json::array are serialized. Any other
/// type gives std::nullopt.
std::optional<std::string> defaultBusPayloadToJson(const std::any &payload);

struct BusForwarderOptions {
    /// Events whose topics match any of these are forwarded. Empty: nothing is forwarded until
    /// addFilter() is called.
    std::vector<TopicFilter> filters;
    /// Empty: the matched topic's text is the channel name.
    BusChannelMapper channel;
    /// Empty: defaultBusPayloadToJson.
    BusPayloadSerializer serialize;
    /// The Hub event name of an event. Empty: the Bus event name, which must then be a valid
    /// Hub event name (no space, no empty dotted segment; see validateEventName) or the event
    /// is rejected.
    std::function<std::string(const BusEvent &event)> eventName;
};

/// Subscribes to a Bus and publishes each matching event to a Hub channel, as a server publish
/// (no sender; kept in the channel's history like any other publication). The Hub event name is
/// the Bus event name unless options.eventName says otherwise. An event matching through several topics is forwarded once, to the
/// channel chosen for the first matching topic.
///
/// Failures never throw out of the listener and never reach the Bus publisher; they are
/// counted: payloads that cannot be serialized (unserializable()), and events the Hub refuses
/// because the channel or event name is invalid (rejected()).
///
/// Ownership: the forwarder owns its Bus subscription. Destroying the forwarder (or stop())
/// removes it, and no event is forwarded afterwards, not even one already queued on the Bus.
/// Move-only. The Hub must outlive the forwarder; the Bus may die first (forwarding stops).
///
/// Threads: like Bus and Hub, use it on the one thread that runs both. The mapper and
/// serializer run inside the Bus listener: they may read the event but must not destroy the
/// forwarder.
class BusForwarder {
public:
    BusForwarder(Bus &bus, Hub &hub, BusForwarderOptions options = {});
    ~BusForwarder();
    BusForwarder(BusForwarder &&) noexcept;
    BusForwarder &operator=(BusForwarder &&) noexcept;
    BusForwarder(const BusForwarder &) = delete;
    BusForwarder &operator=(const BusForwarder &) = delete;

    /// Forwards events matching `filter` too. False if already present or stopped.
    bool addFilter(const TopicFilter &filter);
    /// Stops forwarding events that only `filter` matched. False if it was not present.
    bool removeFilter(const TopicFilter &filter);

    /// Removes the Bus subscription; the forwarder stays valid and forwards nothing more.
    void stop();
    bool active() const noexcept;

    /// Events published to the Hub (accepted by the Broker).
    std::uint64_t forwarded() const noexcept;
    /// Events whose payload the serializer could not turn into JSON text (or gave invalid JSON).
    std::uint64_t unserializable() const noexcept;
    /// Events refused by the Hub (invalid channel or event name) or by the Broker.
    std::uint64_t rejected() const noexcept;
    /// Events for which the channel mapper returned an empty name.
    std::uint64_t skipped() const noexcept;
    /// Exceptions thrown by the callbacks (the event is counted there too: in skipped() for the
    /// channel mapper, unserializable() for the serializer, rejected() for the event namer).
    std::uint64_t callbackErrors() const noexcept;

private:
    struct Impl;
    std::unique_ptr<Impl> d;
};

} // namespace switchboard
