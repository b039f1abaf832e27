#pragma once
// Publishes at a steady rate through the gateway's HTTP API (POST /api/publish), round-robin over
// the ledger's channels. Each publication's data is a stamped payload (Payload.h) carrying its
// channel sequence. Requests go one at a time over one keep-alive connection, so the gateway sees
// each channel's publications in sequence order; publications that come due while a request is
// in flight leave together in the next one (the batch form, at most kMaxBatch).
//
// Thread safety: none; lives on the soak's io thread.

#include "ChannelLedger.h"
#include "HttpClient.h"
#include "SoakCounters.h"

#include <boost/asio/steady_timer.hpp>

#include <functional>
#include <string>
#include <vector>

namespace switchboard::bench {

class SoakPublisher
{
public:
    static constexpr std::size_t kMaxBatch = 500;

    SoakPublisher(boost::asio::io_context &io, HttpClient &http, std::string apiKey, ChannelLedger &ledger,
                  SoakCounters &counters, double rate, std::size_t payload);

    void start();
    /// Stops publishing; `onDrained` runs once no request is in flight or waiting.
    void stop(std::function<void()> onDrained);

private:
    struct Due
    {
        std::size_t channel;
        std::uint64_t sequence;
    };

    void tick();
    void send();

    HttpClient &m_http;
    std::string m_apiKey;
    ChannelLedger &m_ledger;
    SoakCounters &m_counters;
    double m_rate;
    std::size_t m_payloadSize;
    boost::asio::steady_timer m_timer;
    std::chrono::steady_clock::time_point m_start;
    std::uint64_t m_allocated = 0;
    std::size_t m_nextChannel = 0;
    std::vector<Due> m_due;
    std::vector<Due> m_inFlight;
    std::string m_payload;
    bool m_running = false;
    std::function<void()> m_onDrained;
};

} // namespace switchboard::bench
