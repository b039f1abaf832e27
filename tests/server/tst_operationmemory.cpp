// OperationMemory (server/asio/src): a session's pending read wait and timer wait live in the
// session's own room, at the sizes the session reserves for them, and the room is free again
// once the operation completes; an operation that does not fit, or a second one while the room
// is taken, is allocated apart and still completes.
#include "OperationMemory.h"

#include <boost/asio/bind_allocator.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>

#include <QtTest>

#include <memory>

using namespace switchboard::asio;
namespace net = boost::asio;
using tcp = net::ip::tcp;

class tst_OperationMemory : public QObject
{
    Q_OBJECT

private slots:
    void readWaitFitsTheSessionsRoom();
    void timerWaitFitsTheSessionsRoom();
    void secondOperationIsAllocatedApart();
    void tooLargeOperationIsAllocatedApart();
};

void tst_OperationMemory::readWaitFitsTheSessionsRoom()
{
    // As WebSocketSession waits for a plain TCP socket to be readable: a socket on a strand, a
    // handler holding the session.
    net::io_context io;
    tcp::acceptor acceptor(io, tcp::endpoint(net::ip::address_v4::loopback(), 0));
    tcp::socket client(io);
    client.connect(acceptor.local_endpoint());
    tcp::socket server(net::make_strand(io));
    acceptor.accept(server);

    OperationMemory<208> memory; // the size WebSocketSession reserves
    auto session = std::make_shared<int>(0); // the handler holds one shared_ptr, as the session's does
    server.async_wait(tcp::socket::wait_read,
                      net::bind_allocator(memory.allocator(), [session](const boost::system::error_code &ec) {
                          *session = ec ? -1 : 1;
                      }));
    QVERIFY2(memory.inUse(), "the read wait no longer fits: raise WebSocketSession's m_readWaitMemory");
    net::write(client, net::buffer("x", 1));
    io.run();
    QCOMPARE(*session, 1);
    QVERIFY(!memory.inUse());
}

void tst_OperationMemory::timerWaitFitsTheSessionsRoom()
{
    net::io_context io;
    tcp::socket socket(net::make_strand(io)); // the session's timer shares the socket's executor
    net::steady_timer timer(socket.get_executor());
    OperationMemory<192> memory; // the size WebSocketSession reserves
    auto session = std::make_shared<int>(0);
    timer.expires_after(std::chrono::milliseconds(1));
    timer.async_wait(net::bind_allocator(memory.allocator(), [session](const boost::system::error_code &ec) {
        *session += ec ? 100 : 1;
    }));
    QVERIFY2(memory.inUse(), "the timer wait no longer fits: raise WebSocketSession's m_timerWaitMemory");
    io.run();
    QCOMPARE(*session, 1);
    QVERIFY(!memory.inUse());
}

void tst_OperationMemory::secondOperationIsAllocatedApart()
{
    // A timer re-armed while its cancelled wait is still queued: both complete.
    net::io_context io;
    net::steady_timer timer(io);
    OperationMemory<256> memory;
    int aborted = 0;
    int fired = 0;
    auto handler = [&](const boost::system::error_code &ec) { ec ? ++aborted : ++fired; };
    timer.expires_after(std::chrono::hours(1));
    timer.async_wait(net::bind_allocator(memory.allocator(), handler));
    QVERIFY(memory.inUse());
    timer.expires_after(std::chrono::milliseconds(1)); // cancels the first wait
    timer.async_wait(net::bind_allocator(memory.allocator(), handler));
    io.run();
    QCOMPARE(aborted, 1);
    QCOMPARE(fired, 1);
    QVERIFY(!memory.inUse());
}

void tst_OperationMemory::tooLargeOperationIsAllocatedApart()
{
    net::io_context io;
    net::steady_timer timer(io);
    OperationMemory<16> memory; // smaller than any operation
    bool fired = false;
    timer.expires_after(std::chrono::milliseconds(1));
    timer.async_wait(net::bind_allocator(memory.allocator(), [&](const boost::system::error_code &ec) { fired = !ec; }));
    QVERIFY(!memory.inUse());
    io.run();
    QVERIFY(fired);
}

QTEST_GUILESS_MAIN(tst_OperationMemory)
#include "tst_operationmemory.moc"
