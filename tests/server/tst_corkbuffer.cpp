// CorkBuffer (server/asio/src/CorkBuffer.h): the bytes a WebSocket session gathers for one
// socket write. Appends past the capacity keep what was there; a write that waits for the kernel
// swaps the buffer away and keeps pointers into it.
#include "CorkBuffer.h"

#include <QtTest>

#include <string>

using switchboard::asio::CorkBuffer;

class TestCorkBuffer : public QObject {
    Q_OBJECT
private slots:
    void appendsGrowAndKeepTheBytes();
    void tailAndCommit();
    void clearKeepsTheStorageReleaseFreesIt();
    void swapMovesTheBlock();
};

namespace {
std::string contents(const CorkBuffer &buffer)
{
    return std::string(buffer.data() ? buffer.data() : "", buffer.size());
}

/// Where the bytes are, compared as an address (QCOMPARE would compare two char pointers as C
/// strings, and the bytes are not terminated).
const void *at(const char *bytes)
{
    return bytes;
}
} // namespace

void TestCorkBuffer::appendsGrowAndKeepTheBytes()
{
    CorkBuffer buffer;
    QCOMPARE(buffer.size(), std::size_t(0));
    QCOMPARE(buffer.capacity(), std::size_t(0));
    buffer.append(""); // nothing to add: no storage taken
    QCOMPARE(buffer.capacity(), std::size_t(0));
    std::string expected;
    for (int i = 0; i < 200; ++i) { // through several doublings
        const std::string piece = std::to_string(i) + std::string(std::size_t(i % 7), 'x');
        buffer.append(piece);
        expected += piece;
        QVERIFY(buffer.capacity() >= buffer.size());
    }
    QCOMPARE(contents(buffer), expected);
}

void TestCorkBuffer::tailAndCommit()
{
    CorkBuffer buffer;
    buffer.append("ab");
    char *at = buffer.tail(100); // room beyond the capacity taken first
    QVERIFY(buffer.capacity() >= 102);
    at[0] = 'c';
    at[1] = 'd';
    buffer.commit(2); // less than asked: only what was written counts
    QCOMPARE(contents(buffer), std::string("abcd"));
    const std::size_t capacity = buffer.capacity();
    buffer.tail(capacity - buffer.size()); // fits: no reallocation
    QCOMPARE(buffer.capacity(), capacity);
    QCOMPARE(contents(buffer), std::string("abcd"));
}

void TestCorkBuffer::clearKeepsTheStorageReleaseFreesIt()
{
    CorkBuffer buffer;
    buffer.reserve(4096);
    QCOMPARE(buffer.capacity(), std::size_t(4096));
    buffer.append("frame");
    const char *block = buffer.data();
    buffer.clear();
    QCOMPARE(buffer.size(), std::size_t(0));
    QCOMPARE(buffer.capacity(), std::size_t(4096));
    buffer.append("next");
    QCOMPARE(at(buffer.data()), at(block)); // the same block reused
    buffer.reserve(16); // smaller than held: no change
    QCOMPARE(buffer.capacity(), std::size_t(4096));
    buffer.release();
    QCOMPARE(buffer.capacity(), std::size_t(0));
    QCOMPARE(buffer.size(), std::size_t(0));
    QVERIFY(buffer.data() == nullptr);
}

void TestCorkBuffer::swapMovesTheBlock()
{
    CorkBuffer thread;
    thread.append("batch waiting for the kernel");
    const char *bytes = thread.data();
    CorkBuffer session;
    session.swap(thread);
    QCOMPARE(at(session.data()), at(bytes)); // pointers into the batch stay valid
    QCOMPARE(contents(session), std::string("batch waiting for the kernel"));
    QCOMPARE(thread.size(), std::size_t(0));
    QCOMPARE(thread.capacity(), std::size_t(0));
}

QTEST_APPLESS_MAIN(TestCorkBuffer)
#include "tst_corkbuffer.moc"
