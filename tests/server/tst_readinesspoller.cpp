// ReadinessPoller (server/asio/src): an io thread's plain TCP sockets in one epoll set of its
// own. A registered socket reports that it is writable, then each time bytes arrive (edge-
// triggered: once per arrival, not again for bytes left unread); a client removed, or destroyed,
// while a round runs gets no call for the events already collected for it; slots are reused.
#include "ReadinessPoller.h"

#include <boost/asio/io_context.hpp>

#include <QtTest>

#include <cstring>
#include <functional>
#include <memory>
#include <vector>

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

using namespace switchboard::asio;
namespace net = boost::asio;
using namespace std::chrono_literals;

namespace {

/// A connected pair of non-blocking stream sockets; closed at the end.
struct SocketPair {
    int ours = -1;   ///< registered with the poller
    int theirs = -1; ///< the peer that writes to it
    SocketPair()
    {
        int fds[2];
        if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) == 0) {
            ours = fds[0];
            theirs = fds[1];
        }
    }
    ~SocketPair()
    {
        if (ours >= 0)
            ::close(ours);
        if (theirs >= 0)
            ::close(theirs);
    }
    void send(const char *text) const { QVERIFY(::write(theirs, text, std::strlen(text)) > 0); }
};

int g_destroyedCalls = 0;

struct Client : ReadinessPoller::Client {
    std::vector<std::uint32_t> events;
    std::function<void(std::uint32_t)> onReady;
    bool destroyed = false;
    ~Client() { destroyed = true; }
    void livenessDue() override { QFAIL("the poller called the sweep's callback"); }
    void ready(std::uint32_t e) override
    {
        if (destroyed)
            ++g_destroyedCalls;
        events.push_back(e);
        if (onReady)
            onReady(e);
    }
    int count(std::uint32_t bit) const
    {
        int n = 0;
        for (auto e : events)
            n += (e & bit) ? 1 : 0;
        return n;
    }
};

/// Runs every handler of `io` that is ready now, and those they make ready, until none is: the
/// poller's wait stays pending. Bytes written to a socket pair are in the peer's buffer when the
/// write returns, so their event is ready by then; this checks that nothing more comes.
void drain(net::io_context &io)
{
    io.restart();
    while (io.poll() > 0)
        io.restart();
}

/// Runs `io` until `done()` holds, at most 5 s; returns whether it held.
bool runUntil(net::io_context &io, const std::function<bool()> &done)
{
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    drain(io);
    while (!done() && std::chrono::steady_clock::now() < deadline) {
        io.restart();
        io.run_for(10ms);
    }
    return done();
}

/// Two clients registered, their first (writable) events taken.
struct TwoRegistered {
    net::io_context io;
    ReadinessPoller poller{io};
    SocketPair a, b;
    std::shared_ptr<Client> first = std::make_shared<Client>();
    std::shared_ptr<Client> second = std::make_shared<Client>();
    TwoRegistered()
    {
        boost::system::error_code ec;
        poller.add(a.ours, first, ec);
        poller.add(b.ours, second, ec);
        QVERIFY(runUntil(io, [&] { return !first->events.empty() && !second->events.empty(); }));
        first->events.clear();
        second->events.clear();
    }
};

} // namespace

class tst_ReadinessPoller : public QObject
{
    Q_OBJECT

private slots:
    void writableAtOnceThenOneEventPerArrival();
    void removedDuringARoundGetsNoCall();
    void destroyedClientGetsNoCall();
    void slotsAreReused();
    void moreReadyThanOneRoundTakes();
    void closedAfterRemoveClosingLeavesNothingBehind();
};

void tst_ReadinessPoller::writableAtOnceThenOneEventPerArrival()
{
    net::io_context io;
    ReadinessPoller poller(io);
    SocketPair pair;
    QVERIFY(pair.ours >= 0);
    auto client = std::make_shared<Client>();
    boost::system::error_code ec;
    poller.add(pair.ours, client, ec);
    QVERIFY(!ec);
    QCOMPARE(poller.size(), std::size_t(1));
    QVERIFY(runUntil(io, [&] { return !client->events.empty(); }));
    drain(io);
    QCOMPARE(client->events.size(), std::size_t(1)); // writable, nothing to read
    QVERIFY(client->events[0] & EPOLLOUT);
    QVERIFY(!(client->events[0] & EPOLLIN));

    // Bytes arrive: one event. Left unread, they do not report again (edge-triggered) ...
    pair.send("hello");
    QVERIFY(runUntil(io, [&] { return client->count(EPOLLIN) == 1; }));
    drain(io);
    QCOMPARE(client->count(EPOLLIN), 1);
    // ... until more arrive.
    pair.send("again");
    QVERIFY(runUntil(io, [&] { return client->count(EPOLLIN) == 2; }));
    drain(io);
    QCOMPARE(client->count(EPOLLIN), 2);

    // The peer closing is reported as well.
    ::close(pair.theirs);
    pair.theirs = -1;
    QVERIFY(runUntil(io, [&] { return client->count(EPOLLRDHUP | EPOLLHUP) >= 1; }));

    poller.remove(pair.ours, *client);
    QCOMPARE(poller.size(), std::size_t(0));
    poller.remove(pair.ours, *client); // not registered: no effect
}

void tst_ReadinessPoller::removedDuringARoundGetsNoCall()
{
    TwoRegistered t;
    // Both become readable before the round runs; whichever is called first removes the other.
    t.first->onReady = [&](std::uint32_t) { t.poller.remove(t.b.ours, *t.second); };
    t.second->onReady = [&](std::uint32_t) { t.poller.remove(t.a.ours, *t.first); };
    t.a.send("x");
    t.b.send("y");
    QVERIFY(runUntil(t.io, [&] { return t.first->events.size() + t.second->events.size() >= 1; }));
    drain(t.io);
    QCOMPARE(t.first->events.size() + t.second->events.size(), std::size_t(1));
    QCOMPARE(t.poller.size(), std::size_t(1));
}

void tst_ReadinessPoller::destroyedClientGetsNoCall()
{
    TwoRegistered t;
    g_destroyedCalls = 0;
    // The second is destroyed, without remove(), during a round in which it has an event ...
    t.first->onReady = [&](std::uint32_t) { t.second.reset(); };
    t.a.send("x");
    t.b.send("y");
    QVERIFY(runUntil(t.io, [&] { return !t.second; }));
    drain(t.io);
    // ... and its socket, still open, reports again in a later round.
    t.b.send("z");
    drain(t.io);
    QCOMPARE(g_destroyedCalls, 0);
    QVERIFY(!t.second);
    QCOMPARE(t.first->count(EPOLLIN), 1);
}

void tst_ReadinessPoller::slotsAreReused()
{
    net::io_context io;
    ReadinessPoller poller(io);
    std::vector<std::unique_ptr<SocketPair>> pairs;
    std::vector<std::shared_ptr<Client>> clients;
    boost::system::error_code ec;
    for (int round = 0; round < 3; ++round) {
        for (int i = 0; i < 50; ++i) {
            pairs.push_back(std::make_unique<SocketPair>());
            clients.push_back(std::make_shared<Client>());
            poller.add(pairs.back()->ours, clients.back(), ec);
            QVERIFY(!ec);
        }
        QCOMPARE(poller.size(), std::size_t(50));
        QVERIFY(runUntil(io, [&] {
            for (const auto &c : clients)
                if (c->events.empty())
                    return false;
            return true;
        }));
        for (std::size_t i = 0; i < pairs.size(); ++i)
            poller.remove(pairs[i]->ours, *clients[i]);
        QCOMPARE(poller.size(), std::size_t(0));
        // A new client in a reused slot gets only its own events.
        pairs.clear();
        for (auto &c : clients)
            c->events.clear();
        clients.clear();
    }
    SocketPair last;
    auto client = std::make_shared<Client>();
    poller.add(last.ours, client, ec);
    last.send("x");
    QVERIFY(runUntil(io, [&] { return client->count(EPOLLIN) >= 1; }));
    drain(io);
    QCOMPARE(client->count(EPOLLIN), 1);
    // A socket that cannot be registered: an error, and nothing registered.
    auto refused = std::make_shared<Client>();
    poller.add(-1, refused, ec);
    QVERIFY(ec);
    QCOMPARE(poller.size(), std::size_t(1));
}

// A session that closes its socket takes it off with removeClosing(), no system call: the close
// ends the kernel's registration. Its descriptor, reused by the next socket, registers again, and
// only the new client hears of it; the old one hears nothing, not even of events collected
// before it left.
void tst_ReadinessPoller::closedAfterRemoveClosingLeavesNothingBehind()
{
    TwoRegistered t;
    t.a.send("collected before the close");
    t.b.send("x"); // a round with both
    bool closedInRound = false;
    t.second->onReady = [&](std::uint32_t) {
        if (closedInRound)
            return;
        closedInRound = true;
        t.poller.removeClosing(*t.first);
        ::close(t.a.ours);
    };
    QVERIFY(runUntil(t.io, [&] { return closedInRound; }));
    const int reused = t.a.ours;
    t.a.ours = -1;
    drain(t.io);
    QCOMPARE(t.poller.size(), std::size_t(1));
    const auto firstCalls = t.first->events.size();
    QVERIFY(firstCalls <= 1); // called before the close in that round at most, never after it

    // The next socket gets the same descriptor: adding it succeeds (no registration is left for
    // that number), and its events go to its own client only.
    SocketPair next;
    QCOMPARE(next.ours, reused);
    auto third = std::make_shared<Client>();
    boost::system::error_code ec;
    t.poller.add(next.ours, third, ec);
    QVERIFY2(!ec, ec.message().c_str());
    next.send("y");
    QVERIFY(runUntil(t.io, [&] { return third->count(EPOLLIN) >= 1; }));
    drain(t.io);
    QCOMPARE(t.first->events.size(), firstCalls);
    QCOMPARE(t.poller.size(), std::size_t(2));
}

void tst_ReadinessPoller::moreReadyThanOneRoundTakes()
{
    // A round takes one batch of events (256), so that what the calls queued runs in between;
    // the rest come in the next rounds, none lost.
    net::io_context io;
    ReadinessPoller poller(io);
    constexpr int kClients = 300;
    std::vector<std::unique_ptr<SocketPair>> pairs;
    std::vector<std::shared_ptr<Client>> clients;
    boost::system::error_code ec;
    for (int i = 0; i < kClients; ++i) {
        pairs.push_back(std::make_unique<SocketPair>());
        QVERIFY(pairs.back()->ours >= 0);
        clients.push_back(std::make_shared<Client>());
        poller.add(pairs.back()->ours, clients.back(), ec);
        QVERIFY(!ec);
    }
    const auto calledIn = [&] {
        int called = 0;
        for (const auto &client : clients)
            called += client->count(EPOLLIN);
        return called;
    };
    const auto everyOneWritable = [&] {
        for (const auto &client : clients)
            if (client->count(EPOLLOUT) == 0)
                return false;
        return true;
    };
    QVERIFY(runUntil(io, everyOneWritable)); // the writable events
    const std::uint64_t roundsBefore = poller.rounds();
    for (auto &pair : pairs)
        pair->send("x");
    QVERIFY(runUntil(io, [&] { return calledIn() >= kClients; }));
    drain(io);
    QCOMPARE(calledIn(), kClients);
    QVERIFY(poller.rounds() - roundsBefore >= 2);
    for (std::size_t i = 0; i < pairs.size(); ++i)
        poller.remove(pairs[i]->ours, *clients[i]);
}

QTEST_GUILESS_MAIN(tst_ReadinessPoller)
#include "tst_readinesspoller.moc"
