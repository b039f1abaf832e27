// In-process Hub fan-out with content filters: 10 000 subscribers of one channel, their
// subscribe filters spread over D distinct filters (`severity=SEV-<k>`). Reports the filter
// evaluations per publication (HubCounters::filterEvaluations: one per distinct filter, not per
// subscriber), the deliveries, and the CPU time per publication. D = 10 is the case of the
// issue; D = 10 000 (every subscriber its own filter) is the worst case; no filter at all is
// the reference. Sessions queue into a real Outbox drained after each batch, as in
// bench_hub_fanout.
//
// Usage: bench_filter_fanout [publications]   (default 2 000)

#include "switchboard/ContentFilter.h"
#include "switchboard/Hub.h"
#include "switchboard/Outbox.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <memory>
#include <string>
#include <vector>

namespace {

using namespace switchboard;

constexpr std::size_t kSubscribers = 10'000;
constexpr std::size_t kSeverities = 10; // publications cycle through SEV-0 .. SEV-9

double threadCpuSeconds()
{
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9;
}

class BenchSession final : public Session {
public:
    SendOutcome send(const SharedFrame &frame) override { return m_outbox.push(frame); }
    void close(DisconnectCode, std::string_view) override {}
    void drain()
    {
        m_batch.clear();
        m_outbox.takeAll(m_batch);
        m_batch.clear();
    }

private:
    Outbox m_outbox;
    std::vector<SharedFrame> m_batch;
};

struct Result {
    double evaluationsPerPublication = 0;
    double deliveriesPerPublication = 0;
    double microsecondsPerPublication = 0;
};

/// `distinct` == 0: no subscriber has a filter.
Result run(std::size_t distinct, std::uint64_t publications)
{
    ManualTimer timer;
    Hub hub(timer);
    std::vector<std::shared_ptr<BenchSession>> sessions;
    sessions.reserve(kSubscribers);
    for (std::size_t i = 0; i < kSubscribers; ++i) {
        sessions.push_back(std::make_shared<BenchSession>());
        JoinRequest request;
        if (distinct > 0) {
            // Filter k of `distinct`: a severity (so a tenth of them match each publication)
            // plus, beyond 10 distinct ones, a region that makes each filter different.
            const std::size_t k = i % distinct;
            std::vector<std::string> texts{"severity=SEV-" + std::to_string(k % kSeverities)};
            if (distinct > kSeverities)
                texts.push_back("region!=r" + std::to_string(k));
            std::string problem;
            auto filter = ContentFilter::parse(std::vector<std::string_view>(texts.begin(), texts.end()), problem);
            if (!filter)
                std::abort();
            request.filter = std::make_shared<const ContentFilter>(std::move(*filter));
        }
        hub.join(hub.attach(sessions.back()), "incidents", request, [](JoinResult result) {
            if (result.error)
                std::abort();
        });
    }
    std::vector<std::string> payloads;
    for (std::size_t s = 0; s < kSeverities; ++s)
        payloads.push_back(R"({"id":"INC-1234","severity":"SEV-)" + std::to_string(s)
                           + R"(","service":{"tier":"gold"},"title":"database latency"})");

    constexpr std::uint64_t kInFlight = 10;
    auto drainAll = [&] {
        for (auto &session : sessions)
            session->drain();
    };
    for (std::uint64_t i = 0; i < kInFlight; ++i) // warm-up: history ring and outboxes
        hub.broadcast("incidents", "incident.created", payloads[i % kSeverities]);
    drainAll();

    const HubCounters before = hub.counters();
    double seconds = 0;
    const std::uint64_t batches = std::max<std::uint64_t>(1, publications / kInFlight);
    for (std::uint64_t batch = 0; batch < batches; ++batch) {
        const double t0 = threadCpuSeconds();
        for (std::uint64_t i = 0; i < kInFlight; ++i)
            hub.broadcast("incidents", "incident.created", payloads[(batch * kInFlight + i) % kSeverities]);
        seconds += threadCpuSeconds() - t0;
        drainAll();
    }
    const HubCounters after = hub.counters();
    const double n = double(batches * kInFlight);
    if (after.drops != before.drops) {
        std::fprintf(stderr, "unexpected drops\n");
        std::exit(1);
    }
    return Result{double(after.filterEvaluations - before.filterEvaluations) / n,
                  double(after.framesOut - before.framesOut) / n, seconds * 1e6 / n};
}

} // namespace

int main(int argc, char **argv)
{
    std::uint64_t publications = 2'000;
    if (argc > 1) {
        char *end = nullptr;
        publications = std::strtoull(argv[1], &end, 10);
        if (!end || *end != '\0' || publications == 0) {
            std::fprintf(stderr, "usage: %s [publications]\n", argv[0]);
            return 2;
        }
    }
    std::printf("Hub fan-out with content filters, in-process, one thread; %zu subscribers of one channel\n",
                kSubscribers);
    std::printf("%18s %20s %22s %18s\n", "distinct filters", "evaluations/publ.", "deliveries/publ.", "CPU us/publ.");
    for (std::size_t distinct : {std::size_t(0), std::size_t(1), std::size_t(10), std::size_t(kSubscribers)}) {
        const Result r = run(distinct, publications);
        std::printf("%18s %20.1f %22.1f %18.1f\n", distinct == 0 ? "none" : std::to_string(distinct).c_str(),
                    r.evaluationsPerPublication, r.deliveriesPerPublication, r.microsecondsPerPublication);
    }
    return 0;
}
