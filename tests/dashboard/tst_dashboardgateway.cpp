// The dashboard in-process against a real switchboard-gateway child process on 127.0.0.1 port 0:
// the channel list from the HTTP API (`--api-key`), and the errors the dashboard shows when the
// gateway refuses its token or its API key.

#include "Dashboard.h"
#include "DashboardOptions.h"
#include "../server/GatewayProcess.h"

#include <switchboard/qt/Client.h>

#include <QGuiApplication>
#include <QQuickStyle>
#include <QQuickWindow>
#include <QTest>
#include <QtQml/qqmlextensionplugin.h>

Q_IMPORT_QML_PLUGIN(SwitchboardDashboardPlugin)

using switchboard::dashboard::Dashboard;
using switchboard::dashboard::DashboardOptions;
using switchboard::qt::Client;
using namespace gatewaytest;

namespace {

constexpr int kWaitMs = 10000;

QString textOf(QObject *item)
{
    return item ? item->property("text").toString() : QString();
}

/// Saves the window as `name` in $SWITCHBOARD_TEST_ARTIFACTS (default: the test's directory).
void grabTo(QQuickWindow *window, const QString &name)
{
    QTest::qWait(50); // one frame with the newest texts (grabWindow renders synchronously)
    const QImage image = window->grabWindow();
    QVERIFY(!image.isNull());
    QString dir = qEnvironmentVariable("SWITCHBOARD_TEST_ARTIFACTS");
    if (dir.isEmpty())
        dir = QCoreApplication::applicationDirPath();
    QDir().mkpath(dir);
    const QString path = QDir(dir).filePath(name);
    QVERIFY2(image.save(path), qPrintable(path));
    qInfo("screenshot: %s", qPrintable(path));
}

/// A token for every channel, signed with the gateway's secret.
QString dashboardToken()
{
    return makeToken(QJsonObject{{"sub", "dashboard"}, {"channels", QJsonArray{"**"}}});
}

} // namespace

class TestDashboardGateway : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void channelsWithHistoryAreListed();
    void refusedTokenIsShown();
    void refusedApiKeyIsShown();
};

/// Starts the dashboard against `gateway` with `token` and `apiKey`, no channels subscribed.
static bool startDashboard(Dashboard &dashboard, const GatewayProcess &gateway, const QString &token, const QString &apiKey)
{
    DashboardOptions options;
    options.url = gateway.url(QStringLiteral("/ws"), QStringLiteral("ws"));
    options.token = token;
    options.apiKey = apiKey;
    options.size = QSize(1280, 800);
    QString error;
    if (!dashboard.start(options, error)) {
        qWarning("dashboard: %s", qPrintable(error));
        return false;
    }
    return QTest::qWaitForWindowExposed(dashboard.window());
}

void TestDashboardGateway::channelsWithHistoryAreListed()
{
    // `news` has history (the default rule keeps 100 per channel) and no subscriber; `live`
    // has a subscriber. With the API key the dashboard lists both.
    GatewayProcess gateway;
    QVERIFY(gateway.start());
    QNetworkAccessManager nam;
    for (int i = 0; i < 3; ++i)
        QCOMPARE(publish(nam, gateway, QJsonObject{{"channel", "news"}, {"event", "tick"}, {"data", i}}).status, 200);
    Client subscriber;
    subscriber.setUrl(gateway.url(QStringLiteral("/ws"), QStringLiteral("ws")));
    subscriber.setToken(makeToken(QJsonObject{{"sub", "sub"}, {"channels", QJsonArray{"live"}}}));
    subscriber.subscribe(QStringLiteral("live"));
    subscriber.open();
    QTRY_VERIFY_WITH_TIMEOUT(subscriber.channel(QStringLiteral("live"))->subscribed(), kWaitMs);

    Dashboard dashboard;
    QVERIFY(startDashboard(dashboard, gateway, dashboardToken(), QString::fromLatin1(kApiKey)));
    QTRY_VERIFY_WITH_TIMEOUT(dashboard.find(QStringLiteral("channelRow_live")) != nullptr, kWaitMs);
    QTRY_VERIFY_WITH_TIMEOUT(dashboard.find(QStringLiteral("channelRow_news")) != nullptr, kWaitMs);
    QObject *news = dashboard.find(QStringLiteral("channelRow_news"));
    QCOMPARE(textOf(news->findChild<QObject *>(QStringLiteral("subscribers"))), QStringLiteral("0"));
    QCOMPARE(textOf(dashboard.find(QStringLiteral("apiError"))), QString());
}

void TestDashboardGateway::refusedTokenIsShown()
{
    GatewayProcess gateway;
    QVERIFY(gateway.start());
    Dashboard dashboard;
    QVERIFY(startDashboard(dashboard, gateway, QStringLiteral("not-a-valid-token"), QStringLiteral("wrong-key")));
    // What the gateway sends: close code 3501 with its reason text.
    QTRY_VERIFY_WITH_TIMEOUT(textOf(dashboard.find(QStringLiteral("connectionError"))).contains(QStringLiteral("3501")), kWaitMs);
    const QString shown = textOf(dashboard.find(QStringLiteral("connectionError")));
    qInfo("shown: %s", qPrintable(shown));
    QVERIFY2(shown.contains(QStringLiteral("3501: malformed token")), qPrintable(shown));
    QVERIFY(dashboard.find(QStringLiteral("connectionError"))->property("visible").toBool());
    // The API error beside it (the channel list is polled whether or not the socket is up).
    QTRY_VERIFY_WITH_TIMEOUT(textOf(dashboard.find(QStringLiteral("apiError"))).contains(QStringLiteral("API 401")), kWaitMs);
    grabTo(dashboard.window(), QStringLiteral("dashboard-errors.png"));
}

void TestDashboardGateway::refusedApiKeyIsShown()
{
    GatewayProcess gateway;
    QVERIFY(gateway.start());
    Dashboard dashboard;
    QVERIFY(startDashboard(dashboard, gateway, dashboardToken(), QStringLiteral("wrong-key")));
    auto *client = qobject_cast<Client *>(dashboard.find(QStringLiteral("client")));
    QTRY_COMPARE_WITH_TIMEOUT(client->state(), Client::Connected, kWaitMs);
    // The HTTP API's status and the message of its JSON body.
    QTRY_VERIFY_WITH_TIMEOUT(textOf(dashboard.find(QStringLiteral("apiError"))).contains(QStringLiteral("401")), kWaitMs);
    const QString shown = textOf(dashboard.find(QStringLiteral("apiError")));
    qInfo("shown: %s", qPrintable(shown));
    QVERIFY2(shown.contains(QStringLiteral("missing or wrong API key")), qPrintable(shown));
    QVERIFY(dashboard.find(QStringLiteral("apiError"))->property("visible").toBool());
    QCOMPARE(textOf(dashboard.find(QStringLiteral("connectionError"))), QString());
}

int main(int argc, char *argv[])
{
    if (!qEnvironmentVariableIsSet("QT_QPA_PLATFORM"))
        qputenv("QT_QPA_PLATFORM", "offscreen");
    QGuiApplication app(argc, argv);
    QQuickStyle::setStyle(QStringLiteral("Fusion"));
    TestDashboardGateway test;
    return QTest::qExec(&test, argc, argv);
}

#include "tst_dashboardgateway.moc"
