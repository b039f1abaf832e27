// The Redis engine's counter structs sum every field (operator+=, used to sum the shards): a
// field added to a struct and forgotten in its operator+= fails here. No Redis needed.
#include <switchboard/redis/RedisBroker.h>
#include <switchboard/redis/RedisPresenceStore.h>

#include <QTest>

#include <array>
#include <cstdint>
#include <cstring>
#include <type_traits>

namespace {

// Every field is a 64-bit count, so a struct is an array of them: word i of `a` holds i + 1,
// of `b` 100 * (i + 1), and after a += b every word must hold 101 * (i + 1). A field of another
// type (or padding) fails the static_asserts: extend the check for it.
template <typename Counters>
void checkSumsEveryField()
{
    static_assert(std::is_trivially_copyable_v<Counters>);
    static_assert(std::has_unique_object_representations_v<Counters>, "padding: a field that is not a 64-bit count");
    static_assert(sizeof(Counters) % sizeof(std::uint64_t) == 0, "a field that is not a 64-bit count");
    static_assert(sizeof(std::size_t) == sizeof(std::uint64_t));
    constexpr std::size_t words = sizeof(Counters) / sizeof(std::uint64_t);
    std::array<std::uint64_t, words> one{}, other{}, sum{};
    for (std::size_t i = 0; i < words; ++i) {
        one[i] = i + 1;
        other[i] = 100 * (i + 1);
    }
    Counters a, b;
    std::memcpy(&a, one.data(), sizeof a);
    std::memcpy(&b, other.data(), sizeof b);
    Counters &result = (a += b);
    QCOMPARE(&result, &a);
    std::memcpy(sum.data(), &a, sizeof a);
    for (std::size_t i = 0; i < words; ++i)
        QVERIFY2(sum[i] == 101 * (i + 1), qPrintable(QStringLiteral("field %1 (of %2) is not summed").arg(i).arg(words)));
    // `b` is left as it was.
    std::memcpy(sum.data(), &b, sizeof b);
    QCOMPARE(sum, other);
}

} // namespace

class TestRedisEngineCounters : public QObject {
    Q_OBJECT

private slots:
    void brokerCountersSumEveryField() { checkSumsEveryField<switchboard::redis::RedisBrokerCounters>(); }
    void presenceCountersSumEveryField() { checkSumsEveryField<switchboard::redis::RedisPresenceCounters>(); }
};

QTEST_MAIN(TestRedisEngineCounters)
#include "tst_redisenginecounters.moc"
