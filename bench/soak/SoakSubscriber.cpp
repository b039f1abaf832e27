#include "SoakSubscriber.h"

#include "Clock.h"
#include "Payload.h"

#include <boost/json.hpp>

namespace switchboard::bench {

namespace json = boost::json;

namespace {
// Every delivery starts like this (core/src/MessageEncoding.cpp writes the channel first), so a
// delivery is recognised and routed without parsing the JSON.
constexpr std::string_view kMessageHead = R"({"op":"message","channel":")";
} // namespace

SoakSubscriber::SoakSubscriber(boost::asio::io_context &io, std::vector<char> &scratch, const Target &target,
                               Plan plan, ChannelLedger &ledger, SoakCounters &counters, Listener &listener)
    : m_connection(io, scratch, plan.id * 2654435761u ^ nowNs())
    , m_timer(io)
    , m_target(target)
    , m_plan(std::move(plan))
    , m_ledger(ledger)
    , m_counters(counters)
    , m_listener(listener)
{
    m_connection.setHandler(this);
    m_connection.setUserAgent("switchboard-soak");
    for (const std::size_t channel : m_plan.channels)
        m_subscriptions.push_back(Subscription{channel, false, 0});
}

SoakSubscriber::~SoakSubscriber() = default;

void SoakSubscriber::open()
{
    ++m_counters.connectsStarted;
    m_connection.open(m_target.endpoint, m_target.hostHeader, m_target.path,
                      [this](bool ok, std::string_view why) { upgraded(ok, why); });
    m_timer.expires_after(m_plan.lifetime);
    m_timer.async_wait([this](boost::system::error_code ec) {
        if (!ec)
            leave();
    });
}

void SoakSubscriber::upgraded(bool ok, std::string_view why)
{
    if (!ok) {
        ++m_counters.upgradeFailures;
        m_counters.noteProblem("upgrade failed: " + std::string(why));
        m_listener.upgradeDone(*this, false);
        finish(false);
        return;
    }
    m_upgraded = true;
    ++m_counters.upgrades;
    ++m_counters.open;
    m_phase = Phase::Connected;
    m_listener.upgradeDone(*this, true);
    m_connection.startReading();
    if (!m_connection.isOpen())
        return; // onClosed has run
    if (m_leaving)
        return close(); // the lifetime ended during the upgrade: nothing is owed yet
    m_connection.sendText(json::serialize(
        json::object{{"op", "connect"}, {"version", 1}, {"token", m_plan.token}, {"name", "switchboard-soak"}}));
}

void SoakSubscriber::leave()
{
    if (m_leaving || m_phase == Phase::Done)
        return;
    m_leaving = true;
    m_listener.leaving(*this);
    if (m_phase == Phase::Connected || m_phase == Phase::Ready)
        startDraining();
}

void SoakSubscriber::startDraining()
{
    m_phase = Phase::Draining;
    // Owed: everything acknowledged up to now on each channel it is subscribed to.
    m_owedUpTo.assign(m_subscriptions.size(), 0);
    for (std::size_t i = 0; i < m_subscriptions.size(); ++i) {
        const auto &s = m_subscriptions[i];
        const auto acknowledged = m_ledger.acknowledged(s.channel);
        if (s.subscribed && acknowledged && *acknowledged >= s.expectNext)
            m_owedUpTo[i] = *acknowledged + 1;
    }
    if (owedNothing())
        return close();
    m_timer.expires_after(m_plan.drainTimeout);
    m_timer.async_wait([this](boost::system::error_code ec) {
        if (ec || m_phase != Phase::Draining)
            return;
        ++m_counters.drainTimeouts;
        for (std::size_t i = 0; i < m_subscriptions.size(); ++i) {
            auto &s = m_subscriptions[i];
            if (s.expectNext < m_owedUpTo[i]) {
                m_counters.lost += m_owedUpTo[i] - s.expectNext;
                m_counters.noteProblem("lost: connection " + std::to_string(m_plan.id) + " still owed "
                                       + m_ledger.name(s.channel) + " #" + std::to_string(s.expectNext) + "..#"
                                       + std::to_string(m_owedUpTo[i] - 1) + " after the drain timeout");
                s.expectNext = m_owedUpTo[i];
            }
        }
        close();
    });
}

bool SoakSubscriber::owedNothing() const
{
    for (std::size_t i = 0; i < m_subscriptions.size(); ++i)
        if (m_subscriptions[i].expectNext < m_owedUpTo[i])
            return false;
    return true;
}

void SoakSubscriber::checkDrained()
{
    if (m_phase == Phase::Draining && owedNothing())
        close();
}

void SoakSubscriber::close()
{
    m_phase = Phase::Closing;
    if (m_plan.resetOnLeave) {
        m_connection.abort();
        ++m_counters.resets;
        return finish(true);
    }
    m_connection.close(1000);
    m_timer.expires_after(m_plan.closeTimeout);
    m_timer.async_wait([this](boost::system::error_code ec) {
        if (ec || m_phase != Phase::Closing)
            return;
        ++m_counters.closeProblems;
        m_counters.noteProblem("closing handshake not finished within the close timeout");
        m_connection.abort();
        finish(true);
    });
}

void SoakSubscriber::onMessage(std::string_view data, bool binary, std::uint64_t)
{
    if (!binary && data.substr(0, kMessageHead.size()) == kMessageHead) {
        ++m_counters.deliveries;
        const std::string_view rest = data.substr(kMessageHead.size());
        const auto channel = m_ledger.indexOf(rest.substr(0, rest.find('"')));
        bool stamped = false;
        Payload::scan(rest, [&](const Stamp &stamp) {
            if (channel && !stamped)
                received(*channel, stamp.sequence);
            stamped = true;
        });
        if (!channel || !stamped)
            m_counters.noteProblem("delivery without a soak channel or stamp: " + std::string(data.substr(0, 120)));
        return;
    }
    handleControl(data);
}

void SoakSubscriber::received(std::size_t channel, std::uint64_t sequence)
{
    for (auto &s : m_subscriptions) {
        if (s.channel != channel || !s.subscribed)
            continue;
        if (sequence > s.expectNext) {
            m_counters.lost += sequence - s.expectNext;
            m_counters.noteProblem("lost: connection " + std::to_string(m_plan.id) + " got " + m_ledger.name(channel)
                                   + " #" + std::to_string(sequence) + " but not #" + std::to_string(s.expectNext)
                                   + ".." + std::to_string(sequence - 1));
        }
        if (sequence >= s.expectNext)
            s.expectNext = sequence + 1;
    }
    checkDrained();
}

void SoakSubscriber::handleControl(std::string_view data)
{
    boost::system::error_code ec;
    const json::value frame = json::parse(data, ec);
    const json::object *object = ec ? nullptr : frame.if_object();
    const json::value *opValue = object ? object->if_contains("op") : nullptr;
    const json::string *op = opValue ? opValue->if_string() : nullptr;
    if (!op) {
        ++m_counters.serverErrors;
        m_counters.noteProblem("unparseable frame: " + std::string(data.substr(0, 120)));
        return;
    }
    if (*op == "welcome") {
        if (m_leaving)
            return; // it left before the welcome: nothing to subscribe to
        for (const auto &s : m_subscriptions)
            m_connection.sendText(json::serialize(json::object{{"op", "subscribe"}, {"channel", m_ledger.name(s.channel)}}));
    } else if (*op == "subscribed") {
        const json::value *channelValue = object->if_contains("channel");
        const json::string *name = channelValue ? channelValue->if_string() : nullptr;
        const auto channel = name ? m_ledger.indexOf(std::string_view(name->data(), name->size())) : std::nullopt;
        bool all = true;
        for (auto &s : m_subscriptions) {
            if (channel && s.channel == *channel && !s.subscribed) {
                s.subscribed = true;
                s.expectNext = m_ledger.allocated(s.channel);
            }
            all = all && s.subscribed;
        }
        if (all && m_phase == Phase::Connected) {
            m_phase = Phase::Ready;
            ++m_counters.ready;
        }
    } else if (*op == "ping") {
        m_connection.sendText(R"({"op":"pong"})");
    } else if (*op == "error" || *op == "disconnect") {
        ++m_counters.serverErrors;
        m_counters.noteProblem("server: " + std::string(data.substr(0, 200)));
    }
}

void SoakSubscriber::onClosed(std::string_view why)
{
    if (m_phase == Phase::Closing) {
        if (why == "closed") {
            ++m_counters.cleanCloses;
        } else {
            ++m_counters.closeProblems;
            m_counters.noteProblem("closing handshake: " + std::string(why));
        }
        return finish(true);
    }
    ++m_counters.unexpectedCloses;
    m_counters.noteProblem("closed before leaving: " + std::string(why));
    finish(false);
}

void SoakSubscriber::finish(bool expected)
{
    if (m_phase == Phase::Done)
        return;
    m_phase = Phase::Done;
    m_timer.cancel();
    if (m_upgraded)
        --m_counters.open;
    m_listener.finished(*this, expected);
}

} // namespace switchboard::bench
