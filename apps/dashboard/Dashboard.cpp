#include "Dashboard.h"

#include <switchboard/qt/Gateway.h>

#include <QCoreApplication>
#include <QDir>
#include <QFile>
#include <QGuiApplication>
#include <QJsonDocument>
#include <QJsonObject>
#include <QQmlApplicationEngine>
#include <QQuickItem>
#include <QQuickWindow>
#include <QRandomGenerator>
#include <QScreen>

namespace switchboard::dashboard {

namespace {

QString randomToken()
{
    QByteArray bytes(16, Qt::Uninitialized);
    QRandomGenerator::system()->generate(bytes.begin(), bytes.end());
    return QString::fromLatin1(bytes.toHex());
}

} // namespace

Dashboard::Dashboard(QObject *parent) : QObject(parent) {}

Dashboard::~Dashboard()
{
    // The window and its Client go before the gateway they are connected to.
    m_engine.reset();
    delete m_gateway.data();
}

bool Dashboard::start(const DashboardOptions &options, QString &error)
{
    QVariantMap properties;
    if (options.kiosk) {
        // Full screen from the first frame, with no frame to drag or close. The window also gets
        // the screen's geometry itself: the framebuffer platforms (linuxfb, vnc) record the
        // full-screen state of a window but size it to the screen only in some cases.
        properties.insert(QStringLiteral("flags"), QVariant::fromValue(Qt::Window | Qt::FramelessWindowHint));
        properties.insert(QStringLiteral("visibility"), QVariant::fromValue(QWindow::FullScreen));
        if (const QScreen *screen = QGuiApplication::primaryScreen()) {
            const QRect area = screen->geometry();
            properties.insert(QStringLiteral("x"), area.x());
            properties.insert(QStringLiteral("y"), area.y());
            properties.insert(QStringLiteral("width"), area.width());
            properties.insert(QStringLiteral("height"), area.height());
        }
    } else {
        properties.insert(QStringLiteral("width"), options.size.width());
        properties.insert(QStringLiteral("height"), options.size.height());
    }
    properties.insert(QStringLiteral("initialChannels"), options.channels);

    if (options.embedded()) {
        QVariantMap tokens;
        if (!options.tokensFile.isEmpty()) {
            QFile file(options.tokensFile);
            if (!file.open(QIODevice::ReadOnly)) {
                error = QStringLiteral("cannot read %1: %2").arg(options.tokensFile, file.errorString());
                return false;
            }
            QJsonParseError parseError;
            const QJsonDocument document = QJsonDocument::fromJson(file.readAll(), &parseError);
            if (!document.isObject()) {
                error = QStringLiteral("%1 is not a JSON object: %2").arg(options.tokensFile, parseError.errorString());
                return false;
            }
            tokens = document.object().toVariantMap();
        }
        // The dashboard's own connection may watch every channel, presence ones included.
        const QString ownToken = randomToken();
        tokens.insert(ownToken, QVariantMap{{QStringLiteral("user"), QStringLiteral("dashboard")},
                                            {QStringLiteral("channels"), QStringList{QStringLiteral("**")}}});
        m_gateway = new qt::Gateway;
        m_gateway->setHost(options.host);
        m_gateway->setPort(options.port);
        m_gateway->setTokens(tokens);
        if (!m_gateway->start()) {
            error = QStringLiteral("the embedded gateway cannot listen on %1:%2: %3")
                        .arg(options.host)
                        .arg(options.port)
                        .arg(m_gateway->errorString());
            return false;
        }
        properties.insert(QStringLiteral("gateway"), QVariant::fromValue(m_gateway.data()));
        properties.insert(QStringLiteral("serverUrl"), m_gateway->url());
        properties.insert(QStringLiteral("token"), ownToken);
    } else {
        properties.insert(QStringLiteral("serverUrl"), options.url.toString());
        properties.insert(QStringLiteral("token"), options.token);
        if (!options.apiKey.isEmpty()) {
            properties.insert(QStringLiteral("channelsApiUrl"), channelsApiUrl(options.url).toString());
            properties.insert(QStringLiteral("apiKey"), options.apiKey);
        }
    }

    m_engine = std::make_unique<QQmlApplicationEngine>();
    // qrc:/ holds this app's module; the Switchboard module is in the build tree or installed
    // next to the executable's lib directory.
    m_engine->addImportPath(QStringLiteral("qrc:/"));
    const QString installed = QDir(QCoreApplication::applicationDirPath()).filePath(QStringLiteral(SWITCHBOARD_INSTALLED_QML_DIR));
    if (QDir(installed).exists())
        m_engine->addImportPath(installed);
#ifdef SWITCHBOARD_QML_IMPORT_DIR
    m_engine->addImportPath(QStringLiteral(SWITCHBOARD_QML_IMPORT_DIR));
#endif
    QStringList warnings;
    const auto collect = connect(m_engine.get(), &QQmlApplicationEngine::warnings, this,
                                 [&warnings](const QList<QQmlError> &list) {
                                     for (const QQmlError &e : list)
                                         warnings << e.toString();
                                 });
    m_engine->setInitialProperties(properties);
    m_engine->load(QUrl(QStringLiteral("qrc:/SwitchboardDashboard/Main.qml")));
    disconnect(collect);
    const auto roots = m_engine->rootObjects();
    m_window = roots.isEmpty() ? nullptr : qobject_cast<QQuickWindow *>(roots.constFirst());
    if (!m_window) {
        error = QStringLiteral("the dashboard QML did not load: %1").arg(warnings.join(QLatin1Char('\n')));
        return false;
    }
    if (options.kiosk && m_window->screen()) {
        // Follows the screen (a mode set later, a rotated output).
        const auto fill = [window = m_window.data()] {
            if (window->screen())
                window->setGeometry(window->screen()->geometry());
        };
        fill();
        connect(m_window->screen(), &QScreen::geometryChanged, m_window, fill);
    }
    if (options.kiosk && !options.showCursor)
        m_window->setCursor(Qt::BlankCursor); // a touch panel: no arrow left in the middle of the screen
    return true;
}

QQuickWindow *Dashboard::window() const { return m_window; }
QQmlApplicationEngine *Dashboard::engine() const { return m_engine.get(); }
qt::Gateway *Dashboard::gateway() const { return m_gateway; }

namespace {

// Delegates of views have no QObject parent: they are found through the visual tree.
QQuickItem *findItem(QQuickItem *item, const QString &objectName)
{
    if (item->objectName() == objectName)
        return item;
    const auto children = item->childItems();
    for (QQuickItem *child : children)
        if (QQuickItem *found = findItem(child, objectName))
            return found;
    return nullptr;
}

} // namespace

QObject *Dashboard::find(const QString &objectName) const
{
    if (!m_window)
        return nullptr;
    if (m_window->objectName() == objectName)
        return m_window;
    if (QObject *found = m_window->findChild<QObject *>(objectName))
        return found;
    return findItem(m_window->contentItem(), objectName);
}

QUrl Dashboard::channelsApiUrl(const QUrl &gatewayUrl)
{
    QUrl url = gatewayUrl;
    url.setScheme(gatewayUrl.scheme() == QLatin1String("wss") ? QStringLiteral("https") : QStringLiteral("http"));
    url.setPath(QStringLiteral("/api/channels"));
    url.setQuery(QString());
    url.setFragment(QString());
    return url;
}

} // namespace switchboard::dashboard
