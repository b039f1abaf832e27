#pragma once
// One churning soak connection: WebSocket upgrade, protocol `connect`, `subscribe` to its
// channels, receive and check every publication it is owed (see ChannelLedger.h), and at the end
// of its lifetime leave: wait until it holds everything acknowledged so far (bounded by the drain
// timeout), then close cleanly or reset the TCP connection.
//
// Thread safety: none; lives on the soak's io thread. The Listener is called on that thread and
// must not destroy the subscriber from inside the call (retire it and free it later).

#include "ChannelLedger.h"
#include "SoakCounters.h"
#include "WsConnection.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace switchboard::bench {

class SoakSubscriber final : public WsConnection::Handler
{
public:
    class Listener
    {
    public:
        virtual ~Listener() = default;
        /// The upgrade finished (`ok`) or failed: the next connection may start.
        virtual void upgradeDone(SoakSubscriber &subscriber, bool ok) = 0;
        /// The lifetime ended: the subscriber is leaving (a replacement may start now).
        virtual void leaving(SoakSubscriber &subscriber) = 0;
        /// Closed for good (`expected`: it left on purpose); no callback follows.
        virtual void finished(SoakSubscriber &subscriber, bool expected) = 0;
    };

    struct Target
    {
        boost::asio::ip::tcp::endpoint endpoint;
        std::string hostHeader;
        std::string path = "/ws";
    };

    struct Plan
    {
        std::uint64_t id = 0;
        std::vector<std::size_t> channels;  // ledger indexes
        std::string token;                  // empty: anonymous
        std::chrono::milliseconds lifetime{0};
        bool resetOnLeave = false;
        std::chrono::milliseconds drainTimeout{5000};
        std::chrono::milliseconds closeTimeout{5000};
    };

    SoakSubscriber(boost::asio::io_context &io, std::vector<char> &scratch, const Target &target, Plan plan,
                   ChannelLedger &ledger, SoakCounters &counters, Listener &listener);
    ~SoakSubscriber() override;

    std::uint64_t id() const { return m_plan.id; }
    /// leave() has been called (its replacement, if any, has been asked for).
    bool isLeaving() const { return m_leaving; }

    /// Connects, and starts the lifetime.
    void open();
    /// Leaves now (lifetime over, or the run ends); nothing happens if it is already leaving.
    void leave();

    // WsConnection::Handler
    void onMessage(std::string_view data, bool binary, std::uint64_t receivedNs) override;
    void onClosed(std::string_view why) override;

private:
    enum class Phase { Connecting, Connected, Ready, Draining, Closing, Done };
    struct Subscription
    {
        std::size_t channel = 0;
        bool subscribed = false;
        std::uint64_t expectNext = 0; // the next sequence owed
    };

    void upgraded(bool ok, std::string_view why);
    void startDraining();
    void handleControl(std::string_view data);
    void received(std::size_t channel, std::uint64_t sequence);
    bool owedNothing() const;
    void checkDrained();
    void close();
    void finish(bool expected);

    WsConnection m_connection;
    boost::asio::steady_timer m_timer;
    const Target &m_target;
    Plan m_plan;
    ChannelLedger &m_ledger;
    SoakCounters &m_counters;
    Listener &m_listener;
    Phase m_phase = Phase::Connecting;
    bool m_upgraded = false;
    bool m_leaving = false;
    std::vector<Subscription> m_subscriptions;
    std::vector<std::uint64_t> m_owedUpTo; // while draining: per subscription, last sequence owed + 1
};

} // namespace switchboard::bench
