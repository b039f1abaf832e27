// DerivedBytes: the slot a transport fills once with bytes derived from a shared Frame (the
// permessage-deflate payload of a publication marked compress), shared by every recipient.

#include "switchboard/Frame.h"

#include <QtTest>

#include <atomic>
#include <latch>
#include <thread>
#include <vector>

using namespace switchboard;

class TestDerivedBytes : public QObject
{
    Q_OBJECT

private slots:
    void buildsOnceAndShares()
    {
        const SharedFrame frame = makeCompressibleTextFrame("hello");
        QVERIFY(frame->compress);
        QVERIFY(!frame->deflated.get());
        int builds = 0;
        const std::string &first = frame->deflated.getOrBuild([&] { ++builds; return std::string("h5"); });
        const std::string &second = frame->deflated.getOrBuild([&] { ++builds; return std::string("other"); });
        QCOMPARE(builds, 1);
        QCOMPARE(first, std::string("h5"));
        QCOMPARE(&first, &second); // the same bytes for every recipient
        QCOMPARE(frame->deflated.get(), &first);
        QCOMPARE(frame->bytes, std::string("hello")); // the plain bytes are untouched
    }

    void plainFramesAreNotMarked()
    {
        QVERIFY(!makeTextFrame("x")->compress);
        QVERIFY(!makeBinaryFrame("x")->compress);
    }

    void concurrentBuildersAgreeOnOneResult()
    {
        // Sessions on different io threads may write the same frame at once: every one of them
        // must get the same bytes, and none may leak or be freed while in use.
        for (int round = 0; round < 50; ++round) {
            const SharedFrame frame = makeCompressibleTextFrame("payload");
            std::atomic<int> builds{0};
            std::vector<const std::string *> seen(8, nullptr);
            std::vector<std::thread> threads;
            for (std::size_t t = 0; t < seen.size(); ++t)
                threads.emplace_back([&, t] {
                    seen[t] = &frame->deflated.getOrBuild([&] { ++builds; return std::string("built by ") + std::to_string(t); });
                });
            for (auto &thread : threads)
                thread.join();
            QVERIFY(builds >= 1);
            for (const std::string *s : seen)
                QCOMPARE(s, seen.front());
            QCOMPARE(frame->deflated.get(), seen.front());
        }
    }

    void onlyTheKeptBuildIsReported()
    {
        // Every builder is held until all of them have started, so all build at once; exactly
        // one result is kept and exactly one caller is told so (the gateways count compressed
        // publications there, once each however many io threads raced).
        constexpr int kThreads = 6;
        const SharedFrame frame = makeCompressibleTextFrame("payload");
        std::latch allBuilding(kThreads);
        std::atomic<int> builds{0};
        std::atomic<int> kept{0};
        std::vector<std::thread> threads;
        for (int t = 0; t < kThreads; ++t)
            threads.emplace_back([&, t] {
                frame->deflated.getOrBuild(
                    [&] {
                        ++builds;
                        allBuilding.arrive_and_wait();
                        return std::string("built by ") + std::to_string(t);
                    },
                    [&] { ++kept; });
            });
        for (auto &thread : threads)
            thread.join();
        QCOMPARE(builds.load(), kThreads);
        QCOMPARE(kept.load(), 1);
        // Later callers find the bytes and are not told they built them.
        frame->deflated.getOrBuild([] { return std::string("late"); }, [&] { ++kept; });
        QCOMPARE(kept.load(), 1);
    }
};

QTEST_APPLESS_MAIN(TestDerivedBytes)
#include "tst_derivedbytes.moc"
