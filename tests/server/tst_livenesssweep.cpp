// LivenessSweep (server/asio/src): the deadlines of an io thread's connections, checked by one
// timer. A deadline fires once, not before it passes and at most about one resolution after;
// moved deadlines count, cleared ones do not fire, the timer stops when nothing is set, and
// clients may unwatch themselves and each other, or be destroyed, while a tick runs.
#include "LivenessSweep.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <QtTest>

#include <functional>
#include <memory>
#include <vector>

using namespace switchboard::asio;
namespace net = boost::asio;
using Clock = LivenessSweep::Clock;
using namespace std::chrono_literals;

namespace {

struct Client : LivenessSweep::Client {
    std::vector<Clock::time_point> fired;
    std::function<void()> onDue;
    void ready(std::uint32_t) override { QFAIL("the sweep called the poller's callback"); }
    void livenessDue() override
    {
        fired.push_back(Clock::now());
        if (onDue)
            onDue();
    }
};

/// Runs `io` for `duration`.
void runFor(net::io_context &io, std::chrono::milliseconds duration)
{
    io.restart();
    io.run_for(duration);
}

} // namespace

class tst_LivenessSweep : public QObject
{
    Q_OBJECT

private slots:
    void deadlineFiresOnceWithinOneResolution();
    void movedAndClearedDeadlines();
    void timerStopsWhenNothingIsSet();
    void clientsUnwatchDuringATick();
    void destroyedClientIsDropped();
};

void tst_LivenessSweep::deadlineFiresOnceWithinOneResolution()
{
    net::io_context io;
    LivenessSweep sweep(io, 20ms);
    auto client = std::make_shared<Client>();
    const auto deadline = Clock::now() + 100ms;
    sweep.watch(client, deadline);
    runFor(io, 400ms);
    QCOMPARE(client->fired.size(), std::size_t(1));
    QVERIFY(client->fired[0] >= deadline);
    QVERIFY2(client->fired[0] < deadline + 20ms + 150ms, // one resolution, and slack for a loaded machine
             qPrintable(QString("fired %1 ms late").arg((client->fired[0] - deadline) / 1ms)));
    QCOMPARE(sweep.size(), std::size_t(1)); // still watched, with no deadline
}

void tst_LivenessSweep::movedAndClearedDeadlines()
{
    net::io_context io;
    LivenessSweep sweep(io, 10ms);
    auto later = std::make_shared<Client>();
    auto cleared = std::make_shared<Client>();
    sweep.watch(later, Clock::now() + 30ms);
    sweep.watch(cleared, Clock::now() + 30ms);
    const auto moved = Clock::now() + 200ms;
    sweep.setDeadline(*later, moved);
    sweep.setDeadline(*cleared, Clock::time_point::max());
    runFor(io, 120ms);
    QVERIFY(later->fired.empty());
    QVERIFY(cleared->fired.empty());
    runFor(io, 250ms);
    QCOMPARE(later->fired.size(), std::size_t(1));
    QVERIFY(later->fired[0] >= moved);
    QVERIFY(cleared->fired.empty());
}

void tst_LivenessSweep::timerStopsWhenNothingIsSet()
{
    net::io_context io;
    LivenessSweep sweep(io, 5ms);
    auto client = std::make_shared<Client>();
    sweep.watch(client, Clock::time_point::max());
    runFor(io, 50ms);
    QCOMPARE(sweep.ticks(), std::uint64_t(0)); // nothing set: no tick at all
    sweep.setDeadline(*client, Clock::now() + 10ms);
    runFor(io, 100ms);
    QCOMPARE(client->fired.size(), std::size_t(1));
    const auto ticks = sweep.ticks();
    QVERIFY(ticks >= 2);
    runFor(io, 100ms);
    QCOMPARE(sweep.ticks(), ticks); // the deadline fired and none is set: the timer stopped
    QVERIFY(io.stopped());          // and left the io_context nothing to wait for
}

void tst_LivenessSweep::clientsUnwatchDuringATick()
{
    // 50 clients due in the same tick; each unwatches itself and the next one (which then still
    // gets its call: it was due); 50 others with later deadlines must each fire once afterwards,
    // whatever slots the removals moved them to.
    net::io_context io;
    LivenessSweep sweep(io, 5ms);
    std::vector<std::shared_ptr<Client>> due, waiting;
    for (int i = 0; i < 50; ++i) {
        due.push_back(std::make_shared<Client>());
        waiting.push_back(std::make_shared<Client>());
    }
    const auto soon = Clock::now() + 10ms;
    for (int i = 0; i < 50; ++i) {
        sweep.watch(due[i], soon);
        sweep.watch(waiting[i], Clock::now() + 100ms);
    }
    for (int i = 0; i < 50; ++i) {
        due[i]->onDue = [&sweep, &due, i] {
            sweep.unwatch(*due[i]);
            sweep.unwatch(*due[(i + 1) % 50]);
        };
    }
    runFor(io, 300ms);
    QCOMPARE(sweep.size(), std::size_t(50));
    for (int i = 0; i < 50; ++i) {
        QCOMPARE(due[i]->fired.size(), std::size_t(1));
        QCOMPARE(waiting[i]->fired.size(), std::size_t(1));
    }
    for (const auto &client : waiting) // every slot is still right: each unwatch finds its own entry
        sweep.unwatch(*client);
    QCOMPARE(sweep.size(), std::size_t(0));
}

void tst_LivenessSweep::destroyedClientIsDropped()
{
    net::io_context io;
    LivenessSweep sweep(io, 5ms);
    auto kept = std::make_shared<Client>();
    auto gone = std::make_shared<Client>();
    auto goneWithoutDeadline = std::make_shared<Client>();
    sweep.watch(gone, Clock::now() + 10ms);
    sweep.watch(goneWithoutDeadline, Clock::time_point::max());
    sweep.watch(kept, Clock::now() + 10ms);
    const std::weak_ptr<Client> watchedWeakly = goneWithoutDeadline;
    gone.reset(); // destroyed without unwatch(): the sweep holds them weakly
    goneWithoutDeadline.reset();
    runFor(io, 100ms);
    QCOMPARE(kept->fired.size(), std::size_t(1));
    QCOMPARE(sweep.size(), std::size_t(1)); // both dropped at the first tick, due or not
    QVERIFY(watchedWeakly.expired());
    sweep.unwatch(*kept); // its slot followed the removal of the other
    QCOMPARE(sweep.size(), std::size_t(0));
}

QTEST_GUILESS_MAIN(tst_LivenessSweep)
#include "tst_livenesssweep.moc"
