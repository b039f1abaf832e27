// RateLimiter (core/src/RateLimiter.h): the token bucket every connection of ServerProtocol and
// PusherProtocol keeps, in 8 bytes. Its time is Timer::now() in 32 bits: the elapsed time must stay
// right across the wrap (every 49.7 days of a timer's milliseconds).
#include "RateLimiter.h"

#include <QtTest>

#include <chrono>
#include <cstdint>

using switchboard::detail::RateLimit;
using switchboard::detail::RateLimiter;
using std::chrono::milliseconds;

class TestRateLimiter : public QObject {
    Q_OBJECT
private slots:
    void burstThenRate();
    void disabledByANonPositiveRate();
    void refillsAcrossTheClockWrap();
    void fractionsAddUp();
    void bucketIsSmall();
};

void TestRateLimiter::burstThenRate()
{
    const RateLimit limit(10, 5); // 10/s, bursts of 5
    RateLimiter bucket(limit, milliseconds(1000));
    for (int i = 0; i < 5; ++i)
        QVERIFY(bucket.tryConsume(limit, milliseconds(1000)));
    QVERIFY(!bucket.tryConsume(limit, milliseconds(1000)));
    QVERIFY(!bucket.tryConsume(limit, milliseconds(1099))); // 0.99 of a token
    QVERIFY(bucket.tryConsume(limit, milliseconds(1100)));
    QVERIFY(!bucket.tryConsume(limit, milliseconds(1100)));
    // A long pause refills to the burst, not beyond.
    const milliseconds later(61'000);
    for (int i = 0; i < 5; ++i)
        QVERIFY(bucket.tryConsume(limit, later));
    QVERIFY(!bucket.tryConsume(limit, later));
}

void TestRateLimiter::disabledByANonPositiveRate()
{
    const RateLimit limit(0, 1);
    RateLimiter bucket(limit, milliseconds(0));
    for (int i = 0; i < 1000; ++i)
        QVERIFY(bucket.tryConsume(limit, milliseconds(0)));
}

void TestRateLimiter::refillsAcrossTheClockWrap()
{
    const RateLimit limit(10, 1);
    const std::int64_t wrap = std::int64_t(1) << 32;
    RateLimiter bucket(limit, milliseconds(wrap - 50));
    QVERIFY(bucket.tryConsume(limit, milliseconds(wrap - 50)));
    QVERIFY(!bucket.tryConsume(limit, milliseconds(wrap - 1)));
    QVERIFY(!bucket.tryConsume(limit, milliseconds(wrap + 49))); // 99 ms after: not yet a token
    QVERIFY(bucket.tryConsume(limit, milliseconds(wrap + 50)));  // 100 ms after
    QVERIFY(!bucket.tryConsume(limit, milliseconds(wrap + 50)));
}

void TestRateLimiter::fractionsAddUp()
{
    // Ten refills of a tenth of a token make one, as they did with a double.
    const RateLimit limit(100, 1);
    RateLimiter bucket(limit, milliseconds(0));
    QVERIFY(bucket.tryConsume(limit, milliseconds(0)));
    for (int ms = 1; ms < 10; ++ms)
        QVERIFY(!bucket.tryConsume(limit, milliseconds(ms)));
    QVERIFY(bucket.tryConsume(limit, milliseconds(10)));
}

void TestRateLimiter::bucketIsSmall()
{
    QCOMPARE(sizeof(RateLimiter), std::size_t(8));
}

QTEST_GUILESS_MAIN(TestRateLimiter)
#include "tst_ratelimiter.moc"
