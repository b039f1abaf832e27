// The dashboard in-process against a Gateway started here (127.0.0.1, port 0): traffic, roster
// and counters checked through the QML object tree, at 1280x800 and 800x480, in embedded mode and
// at 10 000 messages/s. Each case saves a screenshot to $SWITCHBOARD_TEST_ARTIFACTS (default: the
// test's build directory). The panel mode (--kiosk) runs in-process and as the real
// switchboard-dashboard on an offscreen screen of a given size; --help and --version run without
// any display; every control of the 800x480 layout is measured against the touch-target size.

#include "Dashboard.h"
#include "DashboardOptions.h"
#include "../support/ChildProcessGuard.h"

#include <switchboard/qt/Client.h>
#include <switchboard/qt/Gateway.h>

#include <QColor>
#include <QCommandLineParser>
#include <QDir>
#include <QElapsedTimer>
#include <QFont>
#include <QGuiApplication>
#include <QProcess>
#include <QRegularExpression>
#include <QScreen>
#include <QTemporaryDir>
#include <QQuickItem>
#include <QQuickStyle>
#include <QQuickWindow>
#include <QSet>
#include <QSignalSpy>
#include <QTest>
#include <QThread>
#include <QTimer>
#include <QScopeGuard>

#include <atomic>
#include <memory>
#include <QtQml/qqmlextensionplugin.h>

Q_IMPORT_QML_PLUGIN(SwitchboardDashboardPlugin)

using switchboard::dashboard::Dashboard;
using switchboard::dashboard::DashboardOptions;
using switchboard::qt::Channel;
using switchboard::qt::Client;
using switchboard::qt::Gateway;

namespace {

constexpr int kWaitMs = 10000;
/// The smallest side of anything a finger presses: 40 px, 7.6 mm on a 7" 800x480 panel (133 dpi).
constexpr int kTouchTargetPx = 40;

QString artifactPath(const QString &name)
{
    QString dir = qEnvironmentVariable("SWITCHBOARD_TEST_ARTIFACTS");
    if (dir.isEmpty())
        dir = QCoreApplication::applicationDirPath();
    QDir().mkpath(dir);
    return QDir(dir).filePath(name);
}

QVariantMap token(const QString &user, const QStringList &channels, const QVariantMap &info = {})
{
    QVariantMap entry{{QStringLiteral("user"), user}, {QStringLiteral("channels"), channels}};
    if (!info.isEmpty())
        entry.insert(QStringLiteral("info"), info);
    return entry;
}

QString textOf(QObject *item)
{
    return item ? item->property("text").toString() : QStringLiteral("<missing>");
}

/// Saves the window and checks the picture has the window's size and real content.
void grabTo(QQuickWindow *window, const QString &name)
{
    const QImage image = window->grabWindow();
    QVERIFY(!image.isNull());
    QCOMPARE(image.size(), window->size() * window->devicePixelRatio());
    QSet<QRgb> colours;
    for (int y = 0; y < image.height(); y += 7)
        for (int x = 0; x < image.width(); x += 7)
            colours.insert(image.pixel(x, y));
    QVERIFY2(colours.size() > 20, "the screenshot looks blank");
    const QString path = artifactPath(name);
    QVERIFY2(image.save(path), qPrintable(path));
    qInfo("screenshot: %s", qPrintable(path));
}

void typeText(QWindow *window, const char *text)
{
    for (const char *c = text; *c; ++c)
        QTest::keyClick(window, *c);
}

} // namespace

class TestDashboard : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void options_data();
    void options();
    void remoteGateway_data();
    void remoteGateway();
    void embeddedGateway();
    void embeddedGatewayListsChannelsWithHistory();
    void keyboard_data();
    void keyboard();
    void tenThousandPerSecond();
    void kiosk();
    void kioskProcess_data();
    void kioskProcess();
    void withoutDisplay_data();
    void withoutDisplay();
    void touchTargets();
};

void TestDashboard::options_data()
{
    QTest::addColumn<QStringList>("arguments");
    QTest::addColumn<bool>("valid");
    QTest::addColumn<bool>("embedded");
    QTest::addColumn<QSize>("size");
    QTest::newRow("no arguments: embedded") << QStringList{} << true << true << QSize(1280, 800);
    QTest::newRow("remote with channels")
        << QStringList{"--url", "ws://127.0.0.1:8080/ws", "--token", "t", "--channel", "a", "--channel", "b", "--size", "800x480"}
        << true << false << QSize(800, 480);
    QTest::newRow("embedded port") << QStringList{"--port", "0"} << true << true << QSize(1280, 800);
    QTest::newRow("http url") << QStringList{"--url", "http://127.0.0.1:8080/ws"} << false << false << QSize();
    QTest::newRow("bad size") << QStringList{"--size", "big"} << false << true << QSize();
    QTest::newRow("bad port") << QStringList{"--port", "70000"} << false << true << QSize();
    QTest::newRow("port with url") << QStringList{"--url", "ws://h/ws", "--port", "1"} << false << false << QSize();
    QTest::newRow("kiosk") << QStringList{"--kiosk"} << true << true << QSize(1280, 800);
    QTest::newRow("kiosk with cursor") << QStringList{"--kiosk", "--show-cursor"} << true << true << QSize(1280, 800);
    QTest::newRow("kiosk with size") << QStringList{"--kiosk", "--size", "800x480"} << false << true << QSize();
    QTest::newRow("cursor without kiosk") << QStringList{"--show-cursor"} << false << true << QSize();
}

void TestDashboard::options()
{
    QFETCH(QStringList, arguments);
    QFETCH(bool, valid);
    QCommandLineParser parser;
    switchboard::dashboard::addDashboardOptions(parser);
    QVERIFY(parser.parse(QStringList{QStringLiteral("switchboard-dashboard")} + arguments));
    DashboardOptions options;
    QString error;
    QCOMPARE(switchboard::dashboard::readDashboardOptions(parser, options, error), valid);
    QCOMPARE(error.isEmpty(), valid);
    if (!valid)
        return;
    QTEST(options.embedded(), "embedded");
    QTEST(options.size, "size");
    QCOMPARE(options.kiosk, arguments.contains(QStringLiteral("--kiosk")));
    QCOMPARE(options.showCursor, arguments.contains(QStringLiteral("--show-cursor")));
    if (!options.embedded()) {
        QCOMPARE(options.channels, (QStringList{"a", "b"}));
        QCOMPARE(Dashboard::channelsApiUrl(options.url), QUrl("http://127.0.0.1:8080/api/channels"));
    }
}

void TestDashboard::remoteGateway_data()
{
    QTest::addColumn<QSize>("size");
    QTest::newRow("1280x800") << QSize(1280, 800);
    QTest::newRow("800x480") << QSize(800, 480);
}

void TestDashboard::remoteGateway()
{
    QFETCH(QSize, size);
    Gateway gateway;
    gateway.setTokens({
        {QStringLiteral("dash-token"), token("dashboard", {"**"})},
        {QStringLiteral("ada-token"), token("ada", {"presence-room"}, {{"name", "Ada Lovelace"}})},
        {QStringLiteral("bob-token"), token("bob", {"presence-room"}, {{"name", "Bob"}})},
    });
    QVERIFY(gateway.start());

    DashboardOptions options;
    options.url = QUrl(gateway.url());
    options.token = QStringLiteral("dash-token");
    options.channels = QStringList{QStringLiteral("news"), QStringLiteral("presence-room")};
    options.size = size;
    Dashboard dashboard;
    QString error;
    QVERIFY2(dashboard.start(options, error), qPrintable(error));
    QQuickWindow *window = dashboard.window();
    QVERIFY(QTest::qWaitForWindowExposed(window));
    QCOMPARE(window->size(), size);

    auto *client = qobject_cast<Client *>(dashboard.find(QStringLiteral("client")));
    QVERIFY(client);
    QTRY_COMPARE_WITH_TIMEOUT(client->state(), Client::Connected, kWaitMs);
    QTRY_COMPARE_WITH_TIMEOUT(textOf(dashboard.find(QStringLiteral("stateLabel"))), QStringLiteral("connected"), kWaitMs);

    // Two more members join the presence channel the dashboard watches.
    Client ada, bob;
    ada.setToken(QStringLiteral("ada-token"));
    bob.setToken(QStringLiteral("bob-token"));
    for (Client *peer : {&ada, &bob}) {
        peer->setUrl(QUrl(gateway.url()));
        peer->subscribe(QStringLiteral("presence-room"));
        peer->open();
    }
    QObject *roster = dashboard.find(QStringLiteral("rosterList"));
    QVERIFY(roster);
    QTRY_COMPARE_WITH_TIMEOUT(roster->property("count").toInt(), 3, kWaitMs);
    QTRY_VERIFY_WITH_TIMEOUT(textOf(dashboard.find(QStringLiteral("rosterCount"))).endsWith(QStringLiteral("· 3")), kWaitMs);
    // The rows the roster view shows (its delegates, created at the next polish).
    auto *rosterView = qobject_cast<QQuickItem *>(roster);
    const auto shownMembers = [rosterView] {
        QStringList texts;
        for (QQuickItem *item : rosterView->property("contentItem").value<QQuickItem *>()->childItems())
            if (item->property("userId").isValid() && item->isVisible())
                texts << item->property("text").toString();
        texts.sort();
        return texts;
    };
    QTRY_COMPARE_WITH_TIMEOUT(shownMembers(), (QStringList{"ada (Ada Lovelace)", "bob (Bob)", "dashboard"}), kWaitMs);

    // Traffic on the open channel: 40 from the server, one from the publish form.
    auto *channel = client->channel(QStringLiteral("news"));
    QVERIFY(channel);
    QTRY_VERIFY_WITH_TIMEOUT(channel->subscribed(), kWaitMs);
    for (int i = 0; i < 40; ++i)
        gateway.publish(QStringLiteral("news"), i % 2 ? QStringLiteral("tick") : QStringLiteral("tock"),
                        QVariantMap{{"n", i}, {"label", QStringLiteral("item %1").arg(i)}});
    QObject *form = dashboard.find(QStringLiteral("publishForm"));
    QVERIFY(form);
    QCOMPARE(form->property("channelText").toString(), QStringLiteral("news"));
    form->setProperty("eventText", QStringLiteral("from-form"));
    form->setProperty("payloadText", QStringLiteral(R"({"text": "hello", "level": 3})"));
    QVariant sent;
    QVERIFY(QMetaObject::invokeMethod(form, "send", Q_RETURN_ARG(QVariant, sent)));
    QVERIFY(sent.toBool());

    QObject *stream = dashboard.find(QStringLiteral("streamModel"));
    QVERIFY(stream);
    QTRY_COMPARE_WITH_TIMEOUT(stream->property("count").toInt(), 41, kWaitMs);
    QCOMPARE(stream->property("seen").toLongLong(), 41);
    QVariantMap last;
    QVERIFY(QMetaObject::invokeMethod(stream, "get", Q_RETURN_ARG(QVariantMap, last), Q_ARG(int, 40)));
    QCOMPARE(last.value("event").toString(), QStringLiteral("from-form"));
    QCOMPARE(last.value("payloadText").toString(), QStringLiteral(R"({"level":3,"text":"hello"})"));
    QVERIFY(last.value("prettyText").toString().contains(QStringLiteral("\n    \"text\": \"hello\"")));
    QVariantMap first;
    QVERIFY(QMetaObject::invokeMethod(stream, "get", Q_RETURN_ARG(QVariantMap, first), Q_ARG(int, 0)));
    QCOMPARE(first.value("event").toString(), QStringLiteral("tock"));
    QCOMPARE(first.value("payload").toMap().value("n").toInt(), 0);
    QTRY_VERIFY_WITH_TIMEOUT(textOf(dashboard.find(QStringLiteral("streamSummary"))).contains(QStringLiteral("41 received")), kWaitMs);
    auto *view = qobject_cast<QQuickItem *>(dashboard.find(QStringLiteral("streamView")));
    QVERIFY(view);
    QCOMPARE(view->property("count").toInt(), 41);

    // The channel list shows the subscribed channels; without the HTTP API of a remote gateway
    // the subscriber counts are unknown, the rates come from what the dashboard received.
    QTRY_VERIFY_WITH_TIMEOUT(dashboard.find(QStringLiteral("channelRow_presence-room")) != nullptr, kWaitMs);
    QObject *newsRow = dashboard.find(QStringLiteral("channelRow_news"));
    QVERIFY(newsRow);
    QCOMPARE(textOf(newsRow->findChild<QObject *>(QStringLiteral("subscribers"))), QStringLiteral("–"));
    QTRY_VERIFY_WITH_TIMEOUT(newsRow->property("rate").toDouble() > 0, kWaitMs);

    // Filter by event name, then pause and resume.
    stream->setProperty("eventFilter", QStringLiteral("TICK"));
    QCOMPARE(stream->property("count").toInt(), 20);
    stream->setProperty("eventFilter", QString());
    QCOMPARE(stream->property("count").toInt(), 41);
    stream->setProperty("paused", true);
    for (int i = 0; i < 5; ++i)
        gateway.publish(QStringLiteral("news"), QStringLiteral("late"), i);
    QTRY_COMPARE_WITH_TIMEOUT(stream->property("heldBack").toLongLong(), 5, kWaitMs);
    QCOMPARE(stream->property("count").toInt(), 41);
    QVERIFY(textOf(dashboard.find(QStringLiteral("streamSummary"))).startsWith(QStringLiteral("PAUSED, 5 new")));
    stream->setProperty("paused", false);
    QCOMPARE(stream->property("count").toInt(), 46);

    // Round trip measured (the client's ping/pong figure); stats of the gateway reach the chart.
    QTRY_VERIFY_WITH_TIMEOUT(textOf(dashboard.find(QStringLiteral("roundTripLabel"))).endsWith(QStringLiteral(" ms")), kWaitMs);
    QVERIFY(client->roundTripTime() >= 0);
    // The module's components take the dashboard's text colour and size.
    QObject *stateLabel = dashboard.find(QStringLiteral("stateLabel"));
    QCOMPARE(stateLabel->property("color").value<QColor>(), QColor(QStringLiteral("#17212b")));
    QCOMPARE(stateLabel->property("font").value<QFont>().pixelSize(), 16);
    QObject *streamView = dashboard.find(QStringLiteral("streamView"));
    QCOMPARE(streamView->property("textColor").value<QColor>(), QColor(QStringLiteral("#17212b")));
    QCOMPARE(streamView->property("font").value<QFont>().pixelSize(), 16);
    QCOMPARE(dashboard.find(QStringLiteral("rosterList"))->property("textColor").value<QColor>(), QColor(QStringLiteral("#17212b")));
    QObject *chart = dashboard.find(QStringLiteral("chartPanel"));
    QVERIFY(chart);
    QTRY_VERIFY_WITH_TIMEOUT(chart->property("sampleCount").toInt() >= 2, kWaitMs);
    QVERIFY(chart->property("shown").toStringList().contains(QStringLiteral("news")));

    // Select the newest message so the screenshot shows the pretty-printed payload.
    stream->setProperty("paused", true);
    view->setProperty("currentIndex", 40);
    QTRY_VERIFY_WITH_TIMEOUT(textOf(dashboard.find(QStringLiteral("messageDetail"))).contains(QStringLiteral("\"text\": \"hello\"")), kWaitMs);
    QVERIFY(QTest::qWaitForWindowExposed(window));
    QTest::qWait(50); // let one frame render the selection (grabWindow renders synchronously)
    grabTo(window, QStringLiteral("dashboard-%1x%2.png").arg(size.width()).arg(size.height()));

    ada.close();
    bob.close();
    QTRY_COMPARE_WITH_TIMEOUT(roster->property("count").toInt(), 1, kWaitMs);
}

void TestDashboard::embeddedGateway()
{
    DashboardOptions options;
    options.port = 0;
    options.size = QSize(800, 480);
    Dashboard dashboard;
    QString error;
    QVERIFY2(dashboard.start(options, error), qPrintable(error));
    Gateway *gateway = dashboard.gateway();
    QVERIFY(gateway);
    QVERIFY(gateway->running());
    QVERIFY(gateway->port() > 0);
    QVERIFY(QTest::qWaitForWindowExposed(dashboard.window()));
    auto *client = qobject_cast<Client *>(dashboard.find(QStringLiteral("client")));
    QTRY_COMPARE_WITH_TIMEOUT(client->state(), Client::Connected, kWaitMs);
    QCOMPARE(client->userId(), QStringLiteral("dashboard"));

    // An outside client (anonymous: public channels) subscribes and publishes.
    Client sensor;
    sensor.setUrl(QUrl(gateway->url()));
    auto *sensors = sensor.subscribe(QStringLiteral("sensors"));
    sensor.open();
    QTRY_VERIFY_WITH_TIMEOUT(sensors->subscribed(), kWaitMs);
    QVERIFY(QMetaObject::invokeMethod(dashboard.window(), "openChannelNamed", Q_ARG(QVariant, QStringLiteral("sensors"))));
    QTRY_VERIFY_WITH_TIMEOUT(client->channel(QStringLiteral("sensors"))->subscribed(), kWaitMs);
    for (int i = 0; i < 20; ++i)
        sensor.publish(QStringLiteral("sensors"), QStringLiteral("temperature"), QVariantMap{{"celsius", 20 + i / 10.0}});
    QObject *stream = dashboard.find(QStringLiteral("streamModel"));
    QTRY_COMPARE_WITH_TIMEOUT(stream->property("count").toInt(), 20, kWaitMs);

    // Counters and the channel list come from the embedded gateway.
    gateway->refreshStats();
    QTRY_COMPARE_WITH_TIMEOUT(textOf(dashboard.find(QStringLiteral("clientCountLabel"))), QStringLiteral("2"), kWaitMs);
    QVERIFY(textOf(dashboard.find(QStringLiteral("framesInLabel"))).toLongLong() >= 20);
    QTRY_VERIFY_WITH_TIMEOUT(dashboard.find(QStringLiteral("channelRow_sensors")) != nullptr, kWaitMs);
    QObject *row = dashboard.find(QStringLiteral("channelRow_sensors"));
    QTRY_COMPARE_WITH_TIMEOUT(row->property("subscribers").toInt(), 2, kWaitMs);
    QTRY_COMPARE_WITH_TIMEOUT(textOf(row->findChild<QObject *>(QStringLiteral("subscribers"))), QStringLiteral("2"), kWaitMs);
    grabTo(dashboard.window(), QStringLiteral("dashboard-embedded-800x480.png"));
}

void TestDashboard::embeddedGatewayListsChannelsWithHistory()
{
    // An outside client publishes to `news` and leaves: the channel keeps its history (the
    // default rule keeps 100) with no subscriber, and the embedded gateway's channel list, so
    // the dashboard's, still shows it with 0 subscribers.
    DashboardOptions options;
    options.port = 0;
    options.size = QSize(1280, 800);
    Dashboard dashboard;
    QString error;
    QVERIFY2(dashboard.start(options, error), qPrintable(error));
    Gateway *gateway = dashboard.gateway();
    QVERIFY(QTest::qWaitForWindowExposed(dashboard.window()));
    {
        Client reporter;
        reporter.setUrl(QUrl(gateway->url()));
        auto *news = reporter.subscribe(QStringLiteral("news"));
        reporter.open();
        QTRY_VERIFY_WITH_TIMEOUT(news->subscribed(), kWaitMs);
        for (int i = 0; i < 3; ++i)
            reporter.publish(QStringLiteral("news"), QStringLiteral("headline"), QVariantMap{{"n", i}});
        QTRY_COMPARE_WITH_TIMEOUT(news->received(), 3, kWaitMs);
        reporter.close();
        QTRY_COMPARE_WITH_TIMEOUT(gateway->clientCount(), 1, kWaitMs); // the dashboard's own
    }
    gateway->refreshStats();
    QAbstractItemModel *channels = gateway->channels();
    QStringList names;
    for (int row = 0; row < channels->rowCount(); ++row)
        names << channels->index(row, 0).data(int(switchboard::qt::ChannelListModel::Role::Name)).toString();
    QVERIFY2(names.contains(QStringLiteral("news")), qPrintable(names.join(u',')));
    QTRY_VERIFY_WITH_TIMEOUT(dashboard.find(QStringLiteral("channelRow_news")) != nullptr, kWaitMs);
    QObject *row = dashboard.find(QStringLiteral("channelRow_news"));
    QCOMPARE(textOf(row->findChild<QObject *>(QStringLiteral("subscribers"))), QStringLiteral("0"));
}

void TestDashboard::keyboard_data()
{
    QTest::addColumn<QSize>("size");
    QTest::newRow("1280x800") << QSize(1280, 800);
    QTest::newRow("800x480") << QSize(800, 480);
}

void TestDashboard::keyboard()
{
    QFETCH(QSize, size);
    DashboardOptions options;
    options.port = 0;
    options.size = size;
    options.channels = QStringList{QStringLiteral("alpha"), QStringLiteral("beta")};
    Dashboard dashboard;
    QString error;
    QVERIFY2(dashboard.start(options, error), qPrintable(error));
    QQuickWindow *window = dashboard.window();
    window->requestActivate();
    QVERIFY(QTest::qWaitForWindowActive(window));
    auto *client = qobject_cast<Client *>(dashboard.find(QStringLiteral("client")));
    QTRY_COMPARE_WITH_TIMEOUT(client->state(), Client::Connected, kWaitMs);
    // The names on the way from the focused item up to the window (the focus may sit on an
    // inner item of a control, or on a view's current delegate).
    const auto focusPath = [window] {
        QStringList names;
        for (QQuickItem *item = window->activeFocusItem(); item; item = item->parentItem())
            if (!item->objectName().isEmpty())
                names << item->objectName();
        return names;
    };
    const auto focused = [&focusPath](const QString &name) { return focusPath().contains(name); };
    QObject *stream = dashboard.find(QStringLiteral("streamModel"));
    QCOMPARE(window->property("selectedChannel").toString(), QStringLiteral("alpha"));
    QTRY_COMPARE_WITH_TIMEOUT(dashboard.find(QStringLiteral("channelList"))->property("count").toInt(), 2, kWaitMs);

    // Channels: Ctrl+L, arrow down, Enter opens "beta".
    QTest::keyClick(window, Qt::Key_L, Qt::ControlModifier);
    QVERIFY2(focused(QStringLiteral("channelList")), qPrintable(focusPath().join(u',')));
    QTest::keyClick(window, Qt::Key_Down);
    QTest::keyClick(window, Qt::Key_Return);
    QCOMPARE(window->property("selectedChannel").toString(), QStringLiteral("beta"));

    // Filter: Ctrl+F, type, Escape clears.
    QTest::keyClick(window, Qt::Key_F, Qt::ControlModifier);
    QVERIFY2(focused(QStringLiteral("eventFilterField")), qPrintable(focusPath().join(u',')));
    typeText(window, "temp");
    QCOMPARE(stream->property("eventFilter").toString(), QStringLiteral("temp"));
    QTest::keyClick(window, Qt::Key_Escape);
    QCOMPARE(stream->property("eventFilter").toString(), QString());

    // Pause and resume.
    QTest::keyClick(window, Qt::Key_P, Qt::ControlModifier);
    QVERIFY(stream->property("paused").toBool());
    QTest::keyClick(window, Qt::Key_P, Qt::ControlModifier);
    QVERIFY(!stream->property("paused").toBool());

    // Publish: Ctrl+E, then Tab through the form and send with Ctrl+Return.
    QTest::keyClick(window, Qt::Key_E, Qt::ControlModifier);
    QVERIFY2(focused(QStringLiteral("publishChannelField")), qPrintable(focusPath().join(u',')));
    QObject *form = dashboard.find(QStringLiteral("publishForm"));
    QVERIFY(form->property("visible").toBool());
    QCOMPARE(form->property("channelText").toString(), QStringLiteral("alpha"));
    QTest::keyClick(window, Qt::Key_Tab);
    QVERIFY2(focused(QStringLiteral("publishEventField")), qPrintable(focusPath().join(u',')));
    typeText(window, "note");
    QTest::keyClick(window, Qt::Key_Tab);
    QVERIFY2(focused(QStringLiteral("publishPayloadField")), qPrintable(focusPath().join(u',')));
    typeText(window, "{\"ok\": true}");
    QTest::keyClick(window, Qt::Key_Return, Qt::ControlModifier);
    QCOMPARE(form->property("error").toString(), QString());
    QVERIFY(form->property("status").toString().startsWith(QStringLiteral("Sent note to alpha")));
    QTRY_COMPARE_WITH_TIMEOUT(client->channel(QStringLiteral("alpha"))->received(), 1, kWaitMs);
    QCOMPARE(client->channel(QStringLiteral("alpha"))->latest().toMap().value("ok").toBool(), true);
    QTest::keyClick(window, Qt::Key_Tab);
    QVERIFY2(focused(QStringLiteral("publishButton")), qPrintable(focusPath().join(u',')));

    // Tab reaches every control, in both layouts (the narrow one shows one tab at a time).
    QTest::keyClick(window, Qt::Key_1, Qt::ControlModifier);
    QVERIFY2(focused(QStringLiteral("streamView")), qPrintable(focusPath().join(u',')));
    QSet<QString> reached;
    for (int i = 0; i < 30; ++i) {
        QTest::keyClick(window, Qt::Key_Tab);
        for (const QString &name : focusPath())
            reached.insert(name);
    }
    for (const char *name : {"channelList", "rosterList", "eventFilterField", "pauseButton", "clearButton", "streamView"})
        QVERIFY2(reached.contains(QString::fromLatin1(name)), name);
    if (size.width() >= 1100) {
        for (const char *name : {"publishChannelField", "publishEventField", "publishPayloadField", "publishButton"})
            QVERIFY2(reached.contains(QString::fromLatin1(name)), name);
    }
}

void TestDashboard::tenThousandPerSecond()
{
    // The gateway and the producer run on a thread of their own, as a separate gateway process
    // would: the dashboard's thread only receives, decodes and shows.
    constexpr int kTotal = 20000, kPerTick = 100; // 100 every 10 ms: 10 000 messages per second
    QThread serverThread;
    serverThread.start();
    QObject onServer; // context for calls run on the server thread
    onServer.moveToThread(&serverThread);
    Gateway *gateway = nullptr;
    QTimer *producer = nullptr;
    QString url;
    std::atomic<qint64> producedMs{-1};
    QElapsedTimer clock;
    const auto stopServer = qScopeGuard([&] {
        QMetaObject::invokeMethod(&onServer, [&] {
            delete producer;
            delete gateway;
        }, Qt::BlockingQueuedConnection);
        serverThread.quit();
        serverThread.wait();
    });
    QMetaObject::invokeMethod(&onServer, [&] {
        gateway = new Gateway;
        gateway->setMaxOutboxFrames(200000);
        gateway->setMaxOutboxBytes(64 << 20);
        if (gateway->start())
            url = gateway->url();
    }, Qt::BlockingQueuedConnection);
    QVERIFY(!url.isEmpty());

    DashboardOptions options;
    options.url = QUrl(url);
    options.channels = QStringList{QStringLiteral("firehose")};
    Dashboard dashboard;
    QString error;
    QVERIFY2(dashboard.start(options, error), qPrintable(error));
    QVERIFY(QTest::qWaitForWindowExposed(dashboard.window()));
    auto *client = qobject_cast<Client *>(dashboard.find(QStringLiteral("client")));
    QTRY_COMPARE_WITH_TIMEOUT(client->state(), Client::Connected, kWaitMs);
    QTRY_VERIFY_WITH_TIMEOUT(client->channel(QStringLiteral("firehose"))->subscribed(), kWaitMs);
    QObject *stream = dashboard.find(QStringLiteral("streamModel"));
    const int capacity = stream->property("capacity").toInt();

    int stateChanges = 0;
    connect(client, &Client::stateChanged, &onServer, [&stateChanges] { ++stateChanges; }, Qt::DirectConnection);
    // The dashboard's event loop: how long it ever goes without running a 10 ms timer.
    qint64 worstGapMs = 0;
    QElapsedTimer gap;
    QTimer probe;
    probe.setTimerType(Qt::PreciseTimer);
    connect(&probe, &QTimer::timeout, &probe, [&] {
        if (gap.isValid())
            worstGapMs = std::max(worstGapMs, gap.elapsed());
        gap.restart();
    });
    int frames = 0;
    connect(dashboard.window(), &QQuickWindow::frameSwapped, &probe, [&frames] { ++frames; });

    clock.start();
    probe.start(10);
    QMetaObject::invokeMethod(&onServer, [&] {
        producer = new QTimer;
        producer->setTimerType(Qt::PreciseTimer);
        auto published = std::make_shared<int>(0);
        connect(producer, &QTimer::timeout, producer, [&, published] {
            for (int i = 0; i < kPerTick && *published < kTotal; ++i, ++*published)
                gateway->publish(QStringLiteral("firehose"), QStringLiteral("sample"),
                                 QVariantMap{{"seq", *published}, {"value", *published * 0.5}});
            if (*published >= kTotal) {
                producer->stop();
                producedMs = clock.elapsed();
            }
        });
        producer->start(10);
    }, Qt::BlockingQueuedConnection);

    Channel *firehose = client->channel(QStringLiteral("firehose"));
    const auto newestSeq = [stream, capacity] {
        QVariantMap row;
        QMetaObject::invokeMethod(stream, "get", Q_RETURN_ARG(QVariantMap, row), Q_ARG(int, capacity - 1));
        return row.value("payload").toMap().value("seq").toInt();
    };
    QTRY_VERIFY_WITH_TIMEOUT(newestSeq() == kTotal - 1, 30000);
    const qint64 elapsed = clock.elapsed();
    probe.stop();
    // Every message reached the channel (the model may skip the oldest part of a batch larger
    // than its capacity, which is the bounded view working as designed).
    if (firehose->received() != kTotal || stateChanges != 0) {
        qint64 drops = -1, slow = -1;
        QMetaObject::invokeMethod(&onServer, [&] {
            gateway->refreshStats();
            drops = gateway->drops();
            slow = gateway->slowDisconnects();
        }, Qt::BlockingQueuedConnection);
        QFAIL(qPrintable(QStringLiteral("%1 of %2 messages arrived; gateway drops %3, slow disconnects %4, client state changes %5")
                             .arg(firehose->received()).arg(kTotal).arg(drops).arg(slow).arg(stateChanges)));
    }
    // The view is not behind: it shows exactly the newest `capacity` messages.
    QCOMPARE(stream->property("count").toInt(), capacity);
    const qint64 viewSkipped = kTotal - stream->property("seen").toLongLong();
    auto *view = qobject_cast<QQuickItem *>(dashboard.find(QStringLiteral("streamView")));
    QCOMPARE(view->property("count").toInt(), capacity);
    // ... and the newest one is on screen, at the bottom of the list.
    const auto bottomRow = [view] {
        int row = -1;
        QMetaObject::invokeMethod(view, "indexAt", Q_RETURN_ARG(int, row), Q_ARG(qreal, 10),
                                  Q_ARG(qreal, view->property("contentY").toReal() + view->height() - 2));
        return row;
    };
    QTRY_COMPARE_WITH_TIMEOUT(bottomRow(), capacity - 1, kWaitMs);
    QVERIFY(producedMs >= 0);
    const qint64 lagMs = elapsed - producedMs;
    qInfo("10k/s: %d messages published in %lld ms, all shown %lld ms after the last one (%.0f msg/s "
          "end to end), worst dashboard event-loop gap %lld ms, %d frames, %lld skipped in oversized batches",
          kTotal, qint64(producedMs), lagMs, kTotal * 1000.0 / double(elapsed), worstGapMs, frames, viewSkipped);
    // The stream must not trail the producer and the loop must not stall (the bounds leave room
    // for a loaded machine; the figures above are the measurement).
    QVERIFY2(lagMs < 1000, qPrintable(QStringLiteral("the view trailed by %1 ms").arg(lagMs)));
    QVERIFY2(worstGapMs < 1000, qPrintable(QStringLiteral("event loop stalled %1 ms").arg(worstGapMs)));
    QVERIFY2(elapsed < 15000, qPrintable(QStringLiteral("took %1 ms").arg(elapsed)));
    grabTo(dashboard.window(), QStringLiteral("dashboard-10k.png"));
}

namespace {

/// Whether `item` is something a finger presses: a button, tab or field of Qt Quick Controls, or
/// a MouseArea (the dashboard's own tappable rows).
bool isTouchControl(const QQuickItem *item)
{
    for (const QMetaObject *m = item->metaObject(); m; m = m->superClass()) {
        const QByteArray name = m->className();
        if (name == "QQuickAbstractButton" || name == "QQuickTextField" || name == "QQuickComboBox"
            || name == "QQuickSpinBox" || name == "QQuickMouseArea")
            return true;
    }
    return false;
}

void collectTouchControls(QQuickItem *item, QList<QQuickItem *> &controls)
{
    if (!item->isVisible() || item->opacity() == 0)
        return;
    if (item->isEnabled() && isTouchControl(item))
        controls << item;
    const auto children = item->childItems();
    for (QQuickItem *child : children)
        collectTouchControls(child, controls);
}

QString describe(const QQuickItem *item)
{
    QString name = item->objectName();
    for (const QQuickItem *up = item->parentItem(); name.isEmpty() && up; up = up->parentItem())
        if (!up->objectName().isEmpty())
            name = QStringLiteral("(in %1)").arg(up->objectName());
    return QStringLiteral("%1 %2 %3x%4").arg(QString::fromLatin1(item->metaObject()->className()), name)
        .arg(item->width()).arg(item->height());
}

/// Waits for the single line of `process`'s standard output that matches `pattern`; returns
/// its first capture (empty when the process ended or the wait ran out).
QString awaitLine(QProcess &process, const QRegularExpression &pattern, QByteArray &seen)
{
    QElapsedTimer clock;
    clock.start();
    while (clock.elapsed() < kWaitMs) {
        seen += process.readAllStandardOutput();
        const auto match = pattern.match(QString::fromUtf8(seen));
        if (match.hasMatch())
            return match.captured(1);
        if (process.state() == QProcess::NotRunning)
            break;
        process.waitForReadyRead(200);
    }
    return {};
}

} // namespace

void TestDashboard::kiosk()
{
    DashboardOptions options;
    options.port = 0;
    options.kiosk = true;
    Dashboard dashboard;
    QString error;
    QVERIFY2(dashboard.start(options, error), qPrintable(error));
    QQuickWindow *window = dashboard.window();
    QVERIFY(QTest::qWaitForWindowExposed(window));
    QVERIFY(window->screen());
    QCOMPARE(window->visibility(), QWindow::FullScreen);
    QVERIFY(window->windowStates().testFlag(Qt::WindowFullScreen));
    QVERIFY(window->flags().testFlag(Qt::FramelessWindowHint));
    QTRY_COMPARE_WITH_TIMEOUT(window->geometry(), window->screen()->geometry(), kWaitMs);
    QCOMPARE(window->cursor().shape(), Qt::BlankCursor);
    // The embedded gateway serves outside clients as in a window.
    Gateway *gateway = dashboard.gateway();
    QVERIFY(gateway && gateway->running());
    Client sensor;
    sensor.setUrl(QUrl(gateway->url()));
    auto *sensors = sensor.subscribe(QStringLiteral("sensors"));
    sensor.open();
    QTRY_VERIFY_WITH_TIMEOUT(sensors->subscribed(), kWaitMs);
    grabTo(window, QStringLiteral("dashboard-kiosk.png"));

    // --show-cursor keeps the pointer (a panel with a mouse, or a kiosk on a desktop).
    Dashboard withCursor;
    options.showCursor = true;
    QVERIFY2(withCursor.start(options, error), qPrintable(error));
    QCOMPARE(withCursor.window()->visibility(), QWindow::FullScreen);
    QCOMPARE(withCursor.window()->cursor().shape(), Qt::ArrowCursor);
}

void TestDashboard::kioskProcess_data()
{
    QTest::addColumn<QString>("platform");
    // Qt's offscreen platform reads its screens from a JSON file named in the platform's options.
    QTest::newRow("offscreen") << QStringLiteral("offscreen:configfile=%1");
    // The VNC platform draws into a framebuffer in memory with the same window and screen code
    // as linuxfb (Qt's fbconvenience), which needs a /dev/fb0. Its server listens on a port the
    // OS chooses.
    QTest::newRow("vnc (linuxfb's framebuffer windows)") << QStringLiteral("vnc:size=800x480:port=0");
}

void TestDashboard::kioskProcess()
{
    // The real program on a screen of a panel's size.
    QFETCH(QString, platform);
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    QFile config(dir.filePath(QStringLiteral("panel-screen.json")));
    QVERIFY(config.open(QIODevice::WriteOnly));
    config.write(R"({"screens": [{"name": "panel", "x": 0, "y": 0, "width": 800, "height": 480,
                                  "logicalDpi": 96, "logicalBaseDpi": 96, "dpr": 1}]})");
    config.close();
    QProcess dashboardProcess;
    testsupport::dieWithTest(dashboardProcess);
    QProcessEnvironment environment = QProcessEnvironment::systemEnvironment();
    environment.insert(QStringLiteral("QT_QPA_PLATFORM"), platform.contains(QLatin1String("%1")) ? platform.arg(config.fileName()) : platform);
    dashboardProcess.setProcessEnvironment(environment);
    dashboardProcess.setProcessChannelMode(QProcess::SeparateChannels);
    const auto stop = qScopeGuard([&dashboardProcess] {
        dashboardProcess.kill();
        dashboardProcess.waitForFinished(kWaitMs);
    });
    dashboardProcess.start(QStringLiteral(SWITCHBOARD_DASHBOARD_BIN), {QStringLiteral("--kiosk"), QStringLiteral("--port"), QStringLiteral("0")});
    QVERIFY2(dashboardProcess.waitForStarted(kWaitMs), qPrintable(dashboardProcess.errorString()));
    QByteArray output;
    const QString url = awaitLine(dashboardProcess, QRegularExpression(QStringLiteral("embedded gateway at (ws://\\S+)")), output);
    QVERIFY2(!url.isEmpty(), output.constData() + dashboardProcess.readAllStandardError());
    const QString screen = awaitLine(dashboardProcess, QRegularExpression(QStringLiteral("kiosk, full screen (\\d+x\\d+) on ")), output);
    QVERIFY2(!screen.isEmpty(), output.constData() + dashboardProcess.readAllStandardError());
    QCOMPARE(screen, QStringLiteral("800x480"));

    Client peer;
    peer.setUrl(QUrl(url));
    auto *channel = peer.subscribe(QStringLiteral("sensors"));
    peer.open();
    QTRY_COMPARE_WITH_TIMEOUT(peer.state(), Client::Connected, kWaitMs);
    QTRY_VERIFY_WITH_TIMEOUT(channel->subscribed(), kWaitMs);
    QCOMPARE(dashboardProcess.state(), QProcess::Running);
}

void TestDashboard::withoutDisplay_data()
{
    QTest::addColumn<QStringList>("arguments");
    QTest::addColumn<QString>("expected");
    QTest::newRow("--help") << QStringList{"--help"} << QStringLiteral("--kiosk");
    QTest::newRow("-h with kiosk") << QStringList{"--kiosk", "-h"} << QStringLiteral("Usage: ");
    QTest::newRow("--version") << QStringList{"--version"} << QStringLiteral("switchboard-dashboard " SWITCHBOARD_VERSION);
}

void TestDashboard::withoutDisplay()
{
    // A headless machine: no platform chosen, no X11 or Wayland display. Loading the default
    // platform there aborts; --help and --version must not need it.
    QFETCH(QStringList, arguments);
    QFETCH(QString, expected);
    QProcess process;
    testsupport::dieWithTest(process);
    QProcessEnvironment environment = QProcessEnvironment::systemEnvironment();
    for (const char *name : {"QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORMTHEME"})
        environment.remove(QString::fromLatin1(name));
    process.setProcessEnvironment(environment);
    process.start(QStringLiteral(SWITCHBOARD_DASHBOARD_BIN), arguments);
    QVERIFY(process.waitForFinished(kWaitMs));
    const QString out = QString::fromLocal8Bit(process.readAllStandardOutput());
    const QString err = QString::fromLocal8Bit(process.readAllStandardError());
    QVERIFY2(process.exitStatus() == QProcess::NormalExit && process.exitCode() == 0,
             qPrintable(QStringLiteral("exit %1: %2").arg(process.exitCode()).arg(err)));
    QVERIFY2(out.contains(expected), qPrintable(out));
}

void TestDashboard::touchTargets()
{
    // Every control of the 800x480 layout (each tab of the narrow layout in turn) is at least
    // kTouchTargetPx high and wide.
    DashboardOptions options;
    options.port = 0;
    options.size = QSize(800, 480);
    options.channels = QStringList{QStringLiteral("alpha"), QStringLiteral("beta")};
    Dashboard dashboard;
    QString error;
    QVERIFY2(dashboard.start(options, error), qPrintable(error));
    QQuickWindow *window = dashboard.window();
    QVERIFY(QTest::qWaitForWindowExposed(window));
    QTRY_COMPARE_WITH_TIMEOUT(dashboard.find(QStringLiteral("channelList"))->property("count").toInt(), 2, kWaitMs);
    auto *client = qobject_cast<Client *>(dashboard.find(QStringLiteral("client")));
    QTRY_VERIFY_WITH_TIMEOUT(client->channel(QStringLiteral("alpha"))->subscribed(), kWaitMs);
    dashboard.gateway()->publish(QStringLiteral("alpha"), QStringLiteral("reading"), QVariantMap{{"value", 1}});
    QObject *stream = dashboard.find(QStringLiteral("streamModel"));
    QTRY_COMPARE_WITH_TIMEOUT(stream->property("count").toInt(), 1, kWaitMs);
    QObject *tabs = dashboard.find(QStringLiteral("tabs"));
    QVERIFY(tabs);
    QStringList tooSmall;
    QSet<QString> measured;
    for (int tab = 0; tab < 3; ++tab) {
        tabs->setProperty("currentIndex", tab);
        QTest::qWait(0);
        QList<QQuickItem *> controls;
        collectTouchControls(window->contentItem(), controls);
        QVERIFY(controls.size() >= 5);
        for (QQuickItem *control : std::as_const(controls)) {
            const QString text = describe(control);
            measured.insert(text);
            if (control->width() < kTouchTargetPx || control->height() < kTouchTargetPx)
                tooSmall << text;
        }
    }
    QStringList all(measured.begin(), measured.end());
    all.sort();
    qInfo("800x480 touch targets:\n  %s", qPrintable(all.join(QStringLiteral("\n  "))));
    tooSmall.removeDuplicates();
    QVERIFY2(tooSmall.isEmpty(), qPrintable(QStringLiteral("below %1 px: ").arg(kTouchTargetPx) + tooSmall.join(QStringLiteral("; "))));
    // The stream's rows are tapped to select a message: as tall as a touch target here too.
    auto *view = qobject_cast<QQuickItem *>(dashboard.find(QStringLiteral("streamView")));
    tabs->setProperty("currentIndex", 0);
    QQuickItem *row = nullptr;
    QTRY_VERIFY_WITH_TIMEOUT((row = view->property("contentItem").value<QQuickItem *>()->childItems().value(0)) != nullptr, kWaitMs);
    QVERIFY2(row->height() >= kTouchTargetPx, qPrintable(describe(row)));
}

int main(int argc, char *argv[])
{
    if (!qEnvironmentVariableIsSet("QT_QPA_PLATFORM"))
        qputenv("QT_QPA_PLATFORM", "offscreen");
    QGuiApplication app(argc, argv);
    QQuickStyle::setStyle(QStringLiteral("Fusion"));
    TestDashboard test;
    return QTest::qExec(&test, argc, argv);
}

#include "tst_dashboard.moc"
