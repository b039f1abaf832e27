#pragma once
// One io thread of the load generator: an io_context run by one thread, the connections it
// owns, and the statistics of the deliveries they receive.
//
// Thread safety: the driver calls the public functions from its own thread; each one posts the
// work to the worker's thread (and the *Sync ones wait for it). RunSink callbacks run on the
// worker's thread.

#include "DeliveryTracker.h"
#include "IoThread.h"
#include "LatencyHistogram.h"
#include "Options.h"
#include "ProtocolSession.h"
#include "Publisher.h"
#include "RunState.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <deque>
#include <memory>
#include <vector>

namespace switchboard::bench {

class IoWorker final : public RunSink
{
public:
    struct Snapshot
    {
        LatencyHistogram latency;          // deliveries received inside the window
        std::uint64_t windowDeliveries = 0;
        std::uint64_t deliveryWireBytes = 0; // messages that carried deliveries, headers included
        std::uint64_t totalDeliveries = 0;
    };

    IoWorker(unsigned index, const Options &options, RunState &state, DeliveryTracker &tracker);
    ~IoWorker() override;

    void startThread();
    /// Opens `count` subscriber connections, at most `concurrency` upgrades at a time.
    void openSubscribers(std::size_t count, std::size_t concurrency);
    /// Starts the protocol on every upgraded subscriber.
    void startSessions();
    /// Opens the publisher connection and starts its protocol (state.publisherReady when done).
    void openPublisher();
    void startPublishing();
    /// Stops publishing and waits until nothing is in flight (bounded by `timeout`).
    Publisher::Counters stopPublishingSync(std::chrono::steady_clock::duration timeout);
    Snapshot snapshotSync();
    /// Resets every connection and stops the thread.
    void shutdown();

    // RunSink
    void sessionReady(ProtocolSession &session) override;
    void delivered(const Stamp &stamp, std::uint64_t receivedNs) override;
    void deliveryMessage(std::size_t wireBytes) override;
    void sessionFailed(ProtocolSession &session, std::string_view why) override;
    void serverError(std::string_view what) override;

private:
    struct Client
    {
        std::unique_ptr<WsConnection> connection;
        std::unique_ptr<ProtocolSession> session;
        bool upgraded = false;
    };

    void openNext();
    Client &addClient(ProtocolSession::Role role);

    unsigned m_index;
    const Options &m_options;
    RunState &m_state;
    DeliveryTracker &m_tracker;
    IoThread m_thread;
    boost::asio::io_context &m_io = m_thread.context();
    std::vector<char> m_scratch;
    boost::asio::ip::tcp::endpoint m_endpoint;
    std::string m_hostHeader;
    boost::asio::ip::tcp::endpoint m_publisherEndpoint; // options.publisherPort on the same host
    std::string m_publisherHostHeader;
    std::deque<Client> m_clients;
    std::size_t m_toOpen = 0;
    Client *m_publisherClient = nullptr;
    std::unique_ptr<Publisher> m_publisher;
    Snapshot m_stats;
};

} // namespace switchboard::bench
