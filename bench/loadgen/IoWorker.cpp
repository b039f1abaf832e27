#include "IoWorker.h"

#include "Clock.h"

#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>

#include <future>

namespace switchboard::bench {

namespace asio = boost::asio;

namespace {
constexpr std::size_t kScratchBytes = 256 * 1024;
}

IoWorker::IoWorker(unsigned index, const Options &options, RunState &state, DeliveryTracker &tracker)
    : m_index(index)
    , m_options(options)
    , m_state(state)
    , m_tracker(tracker)
    , m_scratch(kScratchBytes)
{
    const auto address = asio::ip::make_address(options.host);
    m_endpoint = {address, options.port};
    const std::string host = address.is_v6() ? "[" + options.host + "]" : options.host;
    m_hostHeader = host + ":" + std::to_string(options.port);
    m_publisherEndpoint = {address, options.publisherPort};
    m_publisherHostHeader = host + ":" + std::to_string(options.publisherPort);
}

IoWorker::~IoWorker()
{
    m_thread.stop();
}

void IoWorker::startThread()
{
    m_thread.start(m_options.busyPoll);
}

IoWorker::Client &IoWorker::addClient(ProtocolSession::Role role)
{
    Client &client = m_clients.emplace_back();
    const std::uint64_t seed = (std::uint64_t(m_index) << 32) ^ (m_clients.size() * 2654435761u) ^ nowNs();
    client.connection = std::make_unique<WsConnection>(m_io, m_scratch, seed);
    client.session = makeSession(m_options.session, *client.connection, *this, role);
    return client;
}

void IoWorker::openSubscribers(std::size_t count, std::size_t concurrency)
{
    asio::post(m_io, [this, count, concurrency] {
        m_toOpen = count;
        for (std::size_t i = 0; i < concurrency && m_toOpen > 0; ++i)
            openNext();
    });
}

void IoWorker::openNext()
{
    if (m_toOpen == 0)
        return;
    --m_toOpen;
    Client &client = addClient(ProtocolSession::Role::Subscriber);
    client.connection->open(m_endpoint, m_hostHeader, m_options.path, [this, &client](bool ok, std::string_view why) {
        if (ok) {
            client.upgraded = true;
            m_state.noteUpgrade(nowNs());
            m_state.upgraded.fetch_add(1);
        } else {
            m_state.noteProblem(std::string(why));
            m_state.upgradeFailed.fetch_add(1);
        }
        m_state.notify();
        openNext();
    });
}

void IoWorker::startSessions()
{
    asio::post(m_io, [this] {
        for (auto &client : m_clients) {
            if (!client.upgraded || client.session->role() != ProtocolSession::Role::Subscriber)
                continue;
            client.connection->startReading();
            if (client.connection->isOpen())
                client.session->start();
        }
    });
}

void IoWorker::openPublisher()
{
    asio::post(m_io, [this] {
        Client &client = addClient(ProtocolSession::Role::Publisher);
        m_publisherClient = &client;
        client.connection->open(m_publisherEndpoint, m_publisherHostHeader, m_options.publisherPath,
                                [this, &client](bool ok, std::string_view why) {
            if (!ok) {
                m_state.noteProblem("publisher: " + std::string(why));
                m_state.failed.fetch_add(1);
                m_state.notify();
                return;
            }
            client.upgraded = true;
            client.connection->startReading();
            if (client.connection->isOpen())
                client.session->start();
        });
    });
}

void IoWorker::startPublishing()
{
    m_tracker.setOnComplete([this](std::uint32_t sequence) {
        asio::post(m_io, [this, sequence] {
            if (m_publisher)
                m_publisher->onComplete(sequence);
        });
    });
    asio::post(m_io, [this] {
        Publisher::Settings settings;
        settings.payload = m_options.payload;
        settings.rate = m_options.rate;
        settings.window = m_options.window;
        settings.stallTimeout = m_options.stallTimeout;
        m_publisher = std::make_unique<Publisher>(m_io, *m_publisherClient->session, m_tracker, settings);
        m_publisher->start();
    });
}

Publisher::Counters IoWorker::stopPublishingSync(std::chrono::steady_clock::duration timeout)
{
    auto drained = std::make_shared<std::promise<void>>();
    auto future = drained->get_future();
    asio::post(m_io, [this, drained] { m_publisher->stop([drained] { drained->set_value(); }); });
    if (future.wait_for(timeout) != std::future_status::ready)
        m_state.noteProblem("messages still in flight when the drain deadline passed");
    return m_thread.runSync([this] { return m_publisher->counters(); });
}

IoWorker::Snapshot IoWorker::snapshotSync()
{
    return m_thread.runSync([this] { return m_stats; });
}

void IoWorker::shutdown()
{
    if (!m_thread.running())
        return;
    m_thread.runSync([this] {
        for (auto &client : m_clients)
            client.connection->abort();
        m_publisher.reset();
        return 0;
    });
    m_thread.stop();
}

void IoWorker::sessionReady(ProtocolSession &session)
{
    if (session.role() == ProtocolSession::Role::Publisher)
        m_state.publisherReady.store(true);
    else {
        m_state.noteReady(nowNs());
        m_state.ready.fetch_add(1);
    }
    m_state.notify();
}

void IoWorker::delivered(const Stamp &stamp, std::uint64_t receivedNs)
{
    ++m_stats.totalDeliveries;
    if (receivedNs >= m_state.windowStartNs.load(std::memory_order_relaxed)
        && receivedNs < m_state.windowEndNs.load(std::memory_order_relaxed)) {
        m_stats.latency.record(receivedNs > stamp.sentNs ? receivedNs - stamp.sentNs : 0);
        ++m_stats.windowDeliveries;
    }
    m_tracker.delivered(stamp.sequence);
}

void IoWorker::deliveryMessage(std::size_t wireBytes)
{
    m_stats.deliveryWireBytes += wireBytes;
}

void IoWorker::sessionFailed(ProtocolSession &session, std::string_view why)
{
    const bool publisher = session.role() == ProtocolSession::Role::Publisher;
    m_state.noteProblem((publisher ? "publisher closed: " : "subscriber closed: ") + std::string(why));
    m_state.failed.fetch_add(1);
    m_state.notify();
}

void IoWorker::serverError(std::string_view what)
{
    m_state.noteProblem(std::string(what));
    m_state.serverErrors.fetch_add(1);
}

} // namespace switchboard::bench
