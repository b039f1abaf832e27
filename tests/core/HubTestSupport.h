// Shared pieces of the core Hub / broker / topic tests: a recording session, synchronous join and
// history helpers over the memory engines, a Hub over a MemoryBroker, and topic text builders.
// Header-only, for tests; everything lives in an anonymous namespace, one copy per test binary.
#pragma once

#include "switchboard/Hub.h"
#include "switchboard/MemoryBroker.h"
#include "switchboard/MemoryPresenceStore.h"
#include "switchboard/Outbox.h"

#include <QByteArray>

#include <boost/json.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace {

using namespace switchboard;

/// Records every frame and close. Without limits send() always succeeds; with OutboxLimits an
/// Outbox (never drained) gives it the real limits and a Dropped frame is not recorded.
/// Not thread safe: the test drives it.
class RecordingSession final : public Session {
public:
    RecordingSession() = default;
    explicit RecordingSession(OutboxLimits limits) : outbox(std::in_place, limits) {}
    SendOutcome send(const SharedFrame &frame) override
    {
        const SendOutcome result = outbox ? outbox->push(frame) : SendOutcome(SendResult::Ok);
        if (result != SendResult::Dropped)
            frames.push_back(frame);
        return result;
    }
    void close(DisconnectCode code, std::string_view reason) override
    {
        closes.push_back(code);
        closeReason = std::string(reason);
    }
    /// Frame `index` as a parsed JSON object.
    boost::json::object json(std::size_t index) const { return boost::json::parse(frames.at(index)->bytes).as_object(); }

    /// Presence frames received, as parsed JSON objects.
    std::vector<boost::json::object> presenceFrames() const
    {
        std::vector<boost::json::object> out;
        for (const auto &frame : frames) {
            auto object = boost::json::parse(frame->bytes).as_object();
            if (object.at("op").as_string() == "presence")
                out.push_back(std::move(object));
        }
        return out;
    }

    std::optional<Outbox> outbox;
    std::vector<SharedFrame> frames;
    std::vector<DisconnectCode> closes;
    std::string closeReason;
};

/// Joins `session` to `channel`; the memory engines answer synchronously, so the callback must
/// have run exactly once when hub.join() returns (throws std::logic_error otherwise).
inline JoinResult joinNow(Hub &hub, const std::string &session, std::string_view channel, const JoinRequest &request = {})
{
    JoinResult out;
    int calls = 0;
    hub.join(session, channel, request, [&](JoinResult result) {
        out = std::move(result);
        ++calls;
    });
    if (calls != 1)
        throw std::logic_error("join callback did not run exactly once");
    return out;
}

/// History options with these rules and stream limit.
inline HistoryOptions rules(std::vector<HistoryRule> list, std::size_t maxStreams = 100)
{
    HistoryOptions options;
    options.rules = std::move(list);
    options.maxStreams = maxStreams;
    return options;
}

/// The broker's answer to a history query (memory engines answer synchronously).
inline HistoryResult historyOf(Broker &broker, std::string_view channel, HistoryQuery query = {})
{
    HistoryResult out;
    broker.history(channel, query, [&](HistoryResult r) { out = std::move(r); });
    return out;
}

/// The publications after `position`.
inline HistoryResult since(Broker &broker, std::string_view channel, StreamPosition position)
{
    HistoryQuery query;
    query.since = std::move(position);
    return historyOf(broker, channel, query);
}

/// A Hub over a MemoryBroker with the given history rules, on its own ManualTimer advanced by
/// `startedAt` (a later process is modelled by a timer advanced further than an earlier one's).
struct MemoryHub {
    explicit MemoryHub(HistoryOptions history, std::chrono::milliseconds startedAt = std::chrono::milliseconds(0))
        : broker(timer, MemoryBrokerOptions{std::move(history)}), hub(timer, HubOptions{}, broker, presence)
    {
        if (startedAt > std::chrono::milliseconds(0))
            timer.advance(startedAt);
    }
    /// Attaches a new RecordingSession and joins it, asking to recover from `recover`.
    JoinResult join(std::string_view channel, std::optional<StreamPosition> recover)
    {
        const auto id = hub.attach(std::make_shared<RecordingSession>());
        lastSession = id;
        JoinRequest request;
        request.recover = std::move(recover);
        return joinNow(hub, id, channel, request);
    }
    ManualTimer timer;
    MemoryBroker broker;
    MemoryPresenceStore presence;
    Hub hub;
    std::string lastSession; ///< attached by the last join()
};

/// `count` copies of `segment` joined by '/'.
inline std::string repeatSegments(std::size_t count, std::string_view segment)
{
    std::string out;
    for (std::size_t i = 0; i < count; ++i) {
        if (i)
            out += '/';
        out += segment;
    }
    return out;
}

/// The bytes of a QByteArray row value as a string_view (embedded NULs kept).
inline std::string_view view(const QByteArray &bytes)
{
    return {bytes.constData(), static_cast<std::size_t>(bytes.size())};
}

} // namespace
