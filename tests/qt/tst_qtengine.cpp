// QtEngine and the Gateway's `engine` / `enginePrefix` properties without a Redis server: the
// engine string is checked (memory, redis:// URLs, anything else refused with a clear error), a
// Gateway on an unreachable Redis keeps running and refuses publishes with error 503. The
// cluster test (tests/cluster/tst_clusterqtgateway) runs it against a real redis-server.

#include <switchboard/Broker.h>
#include <switchboard/qt/Gateway.h>
#include <switchboard/qtws/QtEngine.h>
#include <switchboard/qtws/QtTimer.h>

#include <QJsonDocument>
#include <QJsonObject>
#include <QSignalSpy>
#include <QTcpServer>
#include <QTest>
#include <QWebSocket>

#include <optional>

using namespace switchboard;
using namespace switchboard::qtws;

namespace {

/// A port of 127.0.0.1 nothing listens on (bound by the OS, then released).
quint16 closedPort()
{
    QTcpServer probe;
    if (!probe.listen(QHostAddress::LocalHost, 0))
        return 0;
    return probe.serverPort();
}

} // namespace

class TestQtEngine : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void memoryByDefault()
    {
        QtTimer timer;
        QString error;
        auto engine = QtEngine::create(timer, {}, &error);
        QVERIFY2(engine, qPrintable(error));
        QVERIFY(!engine->isRedis());
        QVERIFY(engine->available());
        QCOMPARE(engine->description(), QStringLiteral("memory"));
    }

    void refusedEngines_data()
    {
        QTest::addColumn<QString>("engine");
        QTest::addColumn<QString>("reason");
        QTest::newRow("unknown scheme") << "memcached://127.0.0.1" << "expected \"memory\" or redis://";
        QTest::newRow("word") << "redis" << "expected \"memory\" or redis://";
        if (QtEngine::redisSupported()) {
            QTest::newRow("tls") << "rediss://127.0.0.1:6379" << "engine: rediss:// (TLS) is supported by switchboard-gateway only";
            QTest::newRow("bad port") << "redis://127.0.0.1:99999" << "engine: ";
            QTest::newRow("bad database") << "redis://127.0.0.1:6379/x" << "engine: ";
            QTest::newRow("shard listed twice") << "redis://127.0.0.1:6379,redis://127.0.0.1:6379/0" << "engine: shard 1 repeats";
            QTest::newRow("empty shard") << "redis://127.0.0.1:6379,,redis://127.0.0.1:6380" << "engine: empty entry";
            QTest::newRow("bad second shard") << "redis://127.0.0.1:6379,redis://127.0.0.1:99999" << "engine: shard 1: the engine URL has an invalid port";
            QTest::newRow("tls second shard") << "redis://127.0.0.1:6379,rediss://127.0.0.1:6380" << "engine: rediss:// (TLS) is supported by switchboard-gateway only";
        } else {
            QTest::newRow("no hiredis") << "redis://127.0.0.1:6379" << "this build has no Redis engine";
        }
    }

    void refusedEngines()
    {
        QFETCH(QString, engine);
        QFETCH(QString, reason);
        QtTimer timer;
        QtEngineOptions options;
        options.engine = engine;
        QString error;
        QVERIFY(!QtEngine::create(timer, options, &error));
        QVERIFY2(error.contains(reason), qPrintable(error));

        // The Gateway refuses to start with the same reason, and says so.
        qt::Gateway gateway;
        gateway.setStatsInterval(0);
        gateway.setEngine(engine);
        QSignalSpy errors(&gateway, &qt::Gateway::errorOccurred);
        QVERIFY(!gateway.start());
        QVERIFY(!gateway.running());
        QCOMPARE(gateway.errorString(), error);
        QCOMPARE(errors.count(), 1);
        QVERIFY(!gateway.engineAvailable());
    }

    void unreachableRedisRefusesPublishesWith503()
    {
        if (!QtEngine::redisSupported())
            QSKIP("this build has no Redis engine");
        const quint16 port = closedPort();
        QVERIFY(port != 0);
        qt::Gateway gateway;
        gateway.setStatsInterval(0);
        gateway.setClientPublish(qt::Gateway::Always);
        gateway.setEngine(QStringLiteral("redis://127.0.0.1:%1").arg(port));
        gateway.setEnginePrefix(QStringLiteral("unreachable:"));
        QVERIFY2(gateway.start(), qPrintable(gateway.errorString()));
        QVERIFY(gateway.qtEngine()->isRedis());
        QVERIFY(gateway.qtEngine()->description().contains(QStringLiteral("unreachable:")));
        QVERIFY(!gateway.engineAvailable());

        QWebSocket socket;
        QList<QJsonObject> frames;
        connect(&socket, &QWebSocket::textMessageReceived, &socket,
                [&frames](const QString &text) { frames.append(QJsonDocument::fromJson(text.toUtf8()).object()); });
        const auto send = [&socket](const QJsonObject &frame) {
            socket.sendTextMessage(QString::fromUtf8(QJsonDocument(frame).toJson(QJsonDocument::Compact)));
        };
        socket.open(QUrl(gateway.url()));
        QTRY_VERIFY_WITH_TIMEOUT(socket.state() == QAbstractSocket::ConnectedState, 5000);
        send({{"op", "connect"}, {"version", 1}});
        QTRY_VERIFY_WITH_TIMEOUT(!frames.isEmpty(), 5000);
        QCOMPARE(frames.takeFirst()["op"].toString(), QStringLiteral("welcome"));

        send({{"op", "publish"}, {"channel", "feed"}, {"event", "message"}, {"data", QJsonObject{}}, {"ackId", 7}});
        QTRY_VERIFY_WITH_TIMEOUT(!frames.isEmpty(), 5000);
        const QJsonObject error = frames.takeFirst();
        QCOMPARE(error["op"].toString(), QStringLiteral("error"));
        QCOMPARE(error["ackId"].toInt(), 7);
        QCOMPARE(error["code"].toInt(), 503);
        QVERIFY(gateway.qtEngine()->counters().refused >= 1);
        // The engine keeps trying: failures are counted while the Gateway stays up.
        QTRY_VERIFY_WITH_TIMEOUT(gateway.qtEngine()->counters().errors >= 2, 5000);
        QVERIFY(gateway.running());
    }
};

QTEST_MAIN(TestQtEngine)
#include "tst_qtengine.moc"
