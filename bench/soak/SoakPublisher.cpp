#include "SoakPublisher.h"

#include "Clock.h"
#include "Payload.h"

#include <boost/json.hpp>

namespace switchboard::bench {

namespace json = boost::json;
namespace http = boost::beast::http;

SoakPublisher::SoakPublisher(boost::asio::io_context &io, HttpClient &httpClient, std::string apiKey,
                             ChannelLedger &ledger, SoakCounters &counters, double rate, std::size_t payload)
    : m_http(httpClient)
    , m_apiKey(std::move(apiKey))
    , m_ledger(ledger)
    , m_counters(counters)
    , m_rate(rate)
    , m_payloadSize(payload)
    , m_timer(io)
{
}

void SoakPublisher::start()
{
    m_running = true;
    m_start = std::chrono::steady_clock::now();
    tick();
}

void SoakPublisher::stop(std::function<void()> onDrained)
{
    m_running = false;
    m_timer.cancel();
    m_onDrained = std::move(onDrained);
    if (m_inFlight.empty())
        send(); // what is due leaves now; with nothing due, onDrained runs
}

void SoakPublisher::tick()
{
    if (!m_running)
        return;
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - m_start).count();
    const auto due = static_cast<std::uint64_t>(elapsed * m_rate);
    for (; m_allocated < due; ++m_allocated) {
        const std::size_t channel = m_nextChannel;
        m_nextChannel = (m_nextChannel + 1) % m_ledger.size();
        m_due.push_back(Due{channel, m_ledger.allocate(channel)});
        ++m_counters.publishBacklog;
    }
    if (m_inFlight.empty())
        send();
    m_timer.expires_after(std::chrono::milliseconds(10));
    m_timer.async_wait([this](boost::system::error_code ec) {
        if (!ec)
            tick();
    });
}

void SoakPublisher::send()
{
    if (m_due.empty()) {
        if (!m_running && m_onDrained) {
            auto done = std::move(m_onDrained);
            m_onDrained = nullptr;
            done();
        }
        return;
    }
    const std::size_t count = std::min(m_due.size(), kMaxBatch);
    m_inFlight.assign(m_due.begin(), m_due.begin() + static_cast<std::ptrdiff_t>(count));
    m_due.erase(m_due.begin(), m_due.begin() + static_cast<std::ptrdiff_t>(count));

    json::array publications;
    publications.reserve(count);
    const std::uint64_t now = nowNs();
    for (const Due &d : m_inFlight) {
        Payload::write(m_payload, m_payloadSize, Stamp{now, static_cast<std::uint32_t>(d.sequence)});
        publications.push_back(json::object{{"channel", m_ledger.name(d.channel)}, {"event", "soak"}, {"data", m_payload}});
    }
    std::string body = json::serialize(json::object{{"publications", std::move(publications)}});
    m_http.request(http::verb::post, "/api/publish", std::move(body), {{"X-API-Key", m_apiKey}},
                   [this](boost::system::error_code ec, HttpClient::Response response) {
                       const std::uint64_t n = m_inFlight.size();
                       m_counters.publishBacklog -= n;
                       if (!ec && response.result() == http::status::ok) {
                           for (const Due &d : m_inFlight)
                               m_ledger.acknowledge(d.channel, d.sequence);
                           m_counters.published += n;
                       } else {
                           m_counters.publishErrors += n;
                           m_counters.noteProblem(ec ? "publish: " + ec.message()
                                                     : "publish: HTTP " + std::to_string(response.result_int()) + " "
                                                           + response.body().substr(0, 200));
                       }
                       m_inFlight.clear();
                       send();
                   });
}

} // namespace switchboard::bench
