// ClientOptions::logger: the session says what it does, one line per step, at the documented
// levels (connects, welcomes and closes at Info; errors and incomplete recoveries at Warning;
// subscribes at Debug). Virtual time.
#include "ClientTestFixtures.h"

using namespace switchboard;
using namespace switchboard::clienttest;

namespace {

struct LogLines {
    Logger logger()
    {
        return [this](LogLevel level, std::string_view message) {
            lines.emplace_back(level, std::string(message));
        };
    }
    /// Index of the first line at `level` containing `text`, or -1.
    int find(LogLevel level, std::string_view text) const
    {
        for (std::size_t i = 0; i < lines.size(); ++i) {
            if (lines[i].first == level && lines[i].second.find(text) != std::string::npos)
                return int(i);
        }
        return -1;
    }
    std::string dump() const
    {
        std::string out;
        for (const auto &[level, line] : lines)
            out += std::string(logLevelName(level)) + ": " + line + "\n";
        return out;
    }
    std::vector<std::pair<LogLevel, std::string>> lines;
};

} // namespace

class TestClientLogger : public QObject {
    Q_OBJECT

private slots:
    void connectionLifecycle();
    void errorsAndIncompleteRecovery();
    void loggerSetLater();
};

void TestClientLogger::connectionLifecycle()
{
    LogLines log;
    ClientOptions options;
    options.url = "ws://a.example/ws";
    options.logger = log.logger();
    Scripted s(options);
    s.session.subscribe("chat");
    s.establish();
    const int connecting = log.find(LogLevel::Info, "connecting to ws://a.example/ws");
    const int connected = log.find(LogLevel::Info, "connected to ws://a.example/ws: session s1, user u1");
    const int subscribing = log.find(LogLevel::Debug, "subscribing to chat");
    QVERIFY2(connecting >= 0 && connected > connecting && subscribing > connecting, log.dump().c_str());
    s.transport.take();
    s.transport.feed(R"({"op":"subscribed","channel":"chat","offset":3,"epoch":"e1","ackId":1})");
    QVERIFY2(log.find(LogLevel::Debug, "subscribed to chat at offset 3") >= 0, log.dump().c_str());

    s.transport.serverClose(1006, "reset");
    const int closed = log.find(LogLevel::Info, "connection to ws://a.example/ws closed: code 1006 (reset); reconnecting to ws://a.example/ws in ");
    QVERIFY2(closed > connected, log.dump().c_str());
    // An abnormal close is an error event too: a warning.
    QVERIFY2(log.find(LogLevel::Warning, "connection lost (close code 1006: reset)") > connected, log.dump().c_str());

    s.timer.advance(1s);
    s.transport.accept();
    s.transport.take();
    s.transport.serverClose(static_cast<std::uint16_t>(DisconnectCode::InvalidToken), "unknown token");
    QVERIFY2(log.find(LogLevel::Info, "closed: code 3501 (unknown token); not reconnecting") >= 0, log.dump().c_str());
}

void TestClientLogger::errorsAndIncompleteRecovery()
{
    LogLines log;
    ClientOptions options;
    options.logger = log.logger();
    Scripted s(options);
    s.session.subscribe("chat");
    s.establish();
    s.transport.take();
    s.transport.feed(R"({"op":"subscribed","channel":"chat","offset":5,"epoch":"e1","ackId":1})");
    s.transport.feed(R"({"op":"error","code":429,"name":"rate_limited","message":"slow down"})");
    QVERIFY2(log.find(LogLevel::Warning, "error 429") >= 0 && log.find(LogLevel::Warning, "slow down") >= 0, log.dump().c_str());

    // Reconnect; the resubscribe asks to recover and the server cannot: said at Warning.
    s.transport.serverClose(1006, "");
    s.timer.advance(1s);
    s.acceptAndWelcome("s2");
    const json::object resubscribe = s.transport.takeOne();
    QVERIFY2(log.find(LogLevel::Debug, "subscribing to chat (recover after offset 5)") >= 0, log.dump().c_str());
    s.transport.feed(R"({"op":"subscribed","channel":"chat","offset":9,"epoch":"e2","recovered":false,"publications":[],"ackId":)"
                     + ackIdText(resubscribe) + "}");
    QVERIFY2(log.find(LogLevel::Warning, "subscribed to chat without full recovery: publications may be missing (0 replayed, continuing from offset 9)") >= 0,
             log.dump().c_str());
}

void TestClientLogger::loggerSetLater()
{
    Scripted s;
    s.establish(); // nothing to log to: fine
    LogLines log;
    s.session.setLogger(log.logger());
    s.transport.serverClose(1006, "gone");
    QVERIFY2(log.find(LogLevel::Info, "closed: code 1006 (gone)") >= 0, log.dump().c_str());
    s.session.setLogger({});
    const std::size_t before = log.lines.size();
    s.timer.advance(1s);
    s.transport.accept();
    QCOMPARE(log.lines.size(), before);
}

QTEST_APPLESS_MAIN(TestClientLogger)
#include "tst_clientlogger.moc"
