// In-process Hub fan-out: deliveries per second and heap allocations per broadcast for 1, 100
// and 10 000 subscribers. Sessions queue into a real Outbox that is drained after every
// broadcast, as a transport would after its write completes.
//
// Usage: bench_hub_fanout [deliveries-per-size]   (default 20 000 000)

#include "switchboard/Hub.h"
#include "switchboard/Outbox.h"

#include <atomic>
#include <algorithm>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <new>
#include <string>
#include <vector>

// ---- allocation counting -------------------------------------------------------------------
// Every operator new in the process goes through these, so the counts include the Hub, the
// broker, the encoder and the standard library.

namespace {
std::atomic<std::uint64_t> g_allocations{0};
std::atomic<std::uint64_t> g_allocatedBytes{0};

void *countedAlloc(std::size_t size)
{
    g_allocations.fetch_add(1, std::memory_order_relaxed);
    g_allocatedBytes.fetch_add(size, std::memory_order_relaxed);
    if (void *p = std::malloc(size ? size : 1))
        return p;
    throw std::bad_alloc();
}

void *countedAlignedAlloc(std::size_t size, std::align_val_t alignment)
{
    g_allocations.fetch_add(1, std::memory_order_relaxed);
    g_allocatedBytes.fetch_add(size, std::memory_order_relaxed);
    const auto align = static_cast<std::size_t>(alignment);
    const std::size_t rounded = (size + align - 1) / align * align;
    if (void *p = std::aligned_alloc(align, rounded ? rounded : align))
        return p;
    throw std::bad_alloc();
}
} // namespace

void *operator new(std::size_t size) { return countedAlloc(size); }
void *operator new[](std::size_t size) { return countedAlloc(size); }
void *operator new(std::size_t size, std::align_val_t a) { return countedAlignedAlloc(size, a); }
void *operator new[](std::size_t size, std::align_val_t a) { return countedAlignedAlloc(size, a); }
void *operator new(std::size_t size, const std::nothrow_t &) noexcept
{
    try {
        return countedAlloc(size);
    } catch (...) {
        return nullptr;
    }
}
void *operator new[](std::size_t size, const std::nothrow_t &) noexcept
{
    try {
        return countedAlloc(size);
    } catch (...) {
        return nullptr;
    }
}
void operator delete(void *p) noexcept { std::free(p); }
void operator delete[](void *p) noexcept { std::free(p); }
void operator delete(void *p, std::size_t) noexcept { std::free(p); }
void operator delete[](void *p, std::size_t) noexcept { std::free(p); }
void operator delete(void *p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void *p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void *p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void *p, std::size_t, std::align_val_t) noexcept { std::free(p); }

// ---- the benchmark -------------------------------------------------------------------------

namespace {

using namespace switchboard;
double threadCpuSeconds()
{
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9;
}

/// A transport-like session: an Outbox plus a reused write batch.
class BenchSession final : public Session {
public:
    SendOutcome send(const SharedFrame &frame) override { return m_outbox.push(frame); }
    void close(DisconnectCode, std::string_view) override { ++closes; }
    /// What a transport does when its socket is writable: take everything queued in one go.
    std::size_t drain()
    {
        m_batch.clear();
        m_outbox.takeAll(m_batch);
        std::size_t bytes = 0;
        for (const auto &frame : m_batch)
            bytes += frame->bytes.size();
        m_batch.clear(); // releases the frame references, keeps the capacity
        return bytes;
    }
    int closes = 0;

private:
    Outbox m_outbox;
    std::vector<SharedFrame> m_batch;
};

struct Result {
    std::size_t subscribers = 0;
    std::uint64_t broadcasts = 0;
    double fanOutSeconds = 0;   // CPU time inside Hub::broadcast
    double drainSeconds = 0;    // CPU time spent draining outboxes
    double allocationsPerBroadcast = 0;
    double bytesPerBroadcast = 0;
    double drainAllocationsPerRound = 0;
    std::size_t frameBytes = 0;
};

Result run(std::size_t subscribers, std::uint64_t deliveries)
{
    ManualTimer timer;
    Hub hub(timer);
    std::vector<std::shared_ptr<BenchSession>> sessions;
    sessions.reserve(subscribers);
    for (std::size_t i = 0; i < subscribers; ++i) {
        sessions.push_back(std::make_shared<BenchSession>());
        const std::string id = hub.attach(sessions.back());
        hub.join(id, "bench/fanout", {}, [](JoinResult result) {
            if (result.error)
                std::abort();
        });
    }
    // 64-byte payload, as in docs/benchmarks.md.
    const std::string payload = R"({"seq":1234567,"value":42.125,"unit":"C","tag":"room-1-sensor"})";

    std::size_t frameBytes = 0;
    auto drainAll = [&] {
        std::size_t bytes = 0;
        for (auto &session : sessions)
            bytes += session->drain();
        return bytes;
    };
    // Broadcasts go out in batches of kInFlight before the outboxes are drained (many messages
    // in flight, as under load).
    constexpr std::uint64_t kInFlight = 32;
    // Warm up with the same pattern: the history ring, the outboxes and the write batches reach
    // their steady size, as they do in a server that has been running for a while.
    for (int batch = 0; batch < 8; ++batch) {
        for (std::uint64_t i = 0; i < kInFlight; ++i)
            hub.broadcast("bench/fanout", "sample", payload);
        frameBytes = drainAll() / subscribers / kInFlight;
    }

    // Time is the thread's CPU time, so that other processes on the machine do not distort the
    // figures.
    const std::uint64_t batches = std::max<std::uint64_t>(20, deliveries / subscribers / kInFlight);
    Result result;
    result.subscribers = subscribers;
    result.broadcasts = batches * kInFlight;
    result.frameBytes = frameBytes;
    std::uint64_t allocations = 0, bytes = 0, drainAllocations = 0;
    double fanOut = 0, drain = 0;
    for (std::uint64_t batch = 0; batch < batches; ++batch) {
        const auto a0 = g_allocations.load(std::memory_order_relaxed);
        const auto b0 = g_allocatedBytes.load(std::memory_order_relaxed);
        const double t0 = threadCpuSeconds();
        for (std::uint64_t i = 0; i < kInFlight; ++i)
            hub.broadcast("bench/fanout", "sample", payload);
        const double t1 = threadCpuSeconds();
        const auto a1 = g_allocations.load(std::memory_order_relaxed);
        allocations += a1 - a0;
        bytes += g_allocatedBytes.load(std::memory_order_relaxed) - b0;
        drainAll();
        const double t2 = threadCpuSeconds();
        drainAllocations += g_allocations.load(std::memory_order_relaxed) - a1;
        fanOut += t1 - t0;
        drain += t2 - t1;
    }
    result.fanOutSeconds = fanOut;
    result.drainSeconds = drain;
    result.allocationsPerBroadcast = double(allocations) / double(result.broadcasts);
    result.bytesPerBroadcast = double(bytes) / double(result.broadcasts);
    result.drainAllocationsPerRound = double(drainAllocations) / double(batches);

    const auto counters = hub.counters();
    if (counters.drops != 0 || counters.framesOut < result.broadcasts * subscribers) {
        std::fprintf(stderr, "unexpected drops: %llu\n", static_cast<unsigned long long>(counters.drops));
        std::exit(1);
    }
    return result;
}

} // namespace

int main(int argc, char **argv)
{
    std::uint64_t deliveries = 20'000'000;
    if (argc > 1) {
        char *end = nullptr;
        deliveries = std::strtoull(argv[1], &end, 10);
        if (!end || *end != '\0' || deliveries == 0) {
            std::fprintf(stderr, "usage: %s [deliveries-per-size]\n", argv[0]);
            return 2;
        }
    }

    std::printf("Hub fan-out, in-process, one thread; 64-byte payload, frame encoded once per broadcast\n");
    std::printf("%12s %11s %10s %16s %14s %14s %14s %18s\n", "subscribers", "broadcasts", "frame B",
                "deliveries/s", "ns/delivery", "allocs/bcast", "bytes/bcast", "drain allocs/batch");
    for (std::size_t subscribers : {std::size_t(1), std::size_t(100), std::size_t(10'000)}) {
        const Result r = run(subscribers, deliveries);
        const double delivered = double(r.broadcasts) * double(r.subscribers);
        std::printf("%12zu %11llu %10zu %16.0f %14.1f %14.2f %14.1f %18.2f\n", r.subscribers,
                    static_cast<unsigned long long>(r.broadcasts), r.frameBytes, delivered / r.fanOutSeconds,
                    r.fanOutSeconds * 1e9 / delivered, r.allocationsPerBroadcast, r.bytesPerBroadcast,
                    r.drainAllocationsPerRound);
    }
    return 0;
}
