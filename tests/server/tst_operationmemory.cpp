// OperationMemory (server/asio/src): a session's pending read wait lives in the session's own
// room, at the size the session reserves for it (not much less either), and the room is free
// again once the operation completes; an operation that does not fit, or a second one while the
// room is taken, is allocated apart and still completes.
#include "IoTypes.h"
#include "OperationMemory.h"

#include <boost/asio/bind_allocator.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

#include <QtTest>

#include <memory>

using namespace switchboard::asio;
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

/// Records the size of what it allocates.
template <typename T>
struct RecordingAllocator {
    using value_type = T;
    explicit RecordingAllocator(std::size_t &size) : size(&size) {}
    template <typename U>
    RecordingAllocator(const RecordingAllocator<U> &other) : size(other.size) {}
    T *allocate(std::size_t n)
    {
        *size = n * sizeof(T);
        return static_cast<T *>(::operator new(n * sizeof(T)));
    }
    void deallocate(T *p, std::size_t) noexcept { ::operator delete(p); }
    bool operator==(const RecordingAllocator &) const = default;
    std::size_t *size;
};

} // namespace

class tst_OperationMemory : public QObject
{
    Q_OBJECT

private slots:
    void readWaitFitsTheSessionsRoom();
    void secondOperationIsAllocatedApart();
    void tooLargeOperationIsAllocatedApart();
};

void tst_OperationMemory::readWaitFitsTheSessionsRoom()
{
    // As WebSocketSession waits for a plain TCP socket to be readable: a socket typed on its io
    // thread's io_context, a handler holding the session.
    net::io_context io;
    tcp::acceptor acceptor(io, tcp::endpoint(net::ip::address_v4::loopback(), 0));
    tcp::socket client(io);
    client.connect(acceptor.local_endpoint());
    TcpSocket server(io.get_executor());
    acceptor.accept(server);

    OperationMemory<kTcpReadWaitBytes> memory; // the size WebSocketSession reserves
    auto session = std::make_shared<int>(0); // the handler holds one shared_ptr, as the session's does
    server.async_wait(TcpSocket::wait_read,
                      net::bind_allocator(memory.allocator(), [session](const boost::system::error_code &ec) {
                          *session = ec ? -1 : 1;
                      }));
    QVERIFY2(memory.inUse(), "the read wait no longer fits: raise kTcpReadWaitBytes (IoTypes.h)");
    net::write(client, net::buffer("x", 1));
    io.run();
    QCOMPARE(*session, 1);
    QVERIFY(!memory.inUse());

    // The room is not much larger than the wait: every idle connection pays for it.
    std::size_t size = 0;
    server.async_wait(TcpSocket::wait_read,
                      net::bind_allocator(RecordingAllocator<int>(size), [session](const boost::system::error_code &) {}));
    QVERIFY2(size > 0 && size + 32 > kTcpReadWaitBytes,
             qPrintable(QString("the read wait takes %1 B: lower kTcpReadWaitBytes").arg(size)));
    server.close();
    io.restart();
    io.run();
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
