#pragma once
// Dashboard: the switchboard-dashboard window (QML engine, and the Gateway in embedded mode).

#include "DashboardOptions.h"

#include <QObject>
#include <QPointer>

#include <memory>

class QQmlApplicationEngine;
class QQuickWindow;

namespace switchboard::qt {
class Gateway;
}

namespace switchboard::dashboard {

/// Loads the dashboard's QML (qrc:/SwitchboardDashboard/Main.qml) with the options as initial
/// properties. In embedded mode it first starts a Gateway and gives the dashboard's own client a
/// token for every channel. Used by main() and by the tests, which drive it in-process.
/// Thread safety: GUI thread only.
class Dashboard : public QObject
{
    Q_OBJECT

public:
    explicit Dashboard(QObject *parent = nullptr);
    ~Dashboard() override;

    /// False with `error` set when the gateway cannot listen or the QML does not load.
    bool start(const DashboardOptions &options, QString &error);

    QQuickWindow *window() const;
    QQmlApplicationEngine *engine() const;
    qt::Gateway *gateway() const;           ///< embedded mode only, else null
    /// The object called `objectName` in the window's object tree or, for view delegates, its
    /// item tree (null when there is none).
    QObject *find(const QString &objectName) const;

    /// http(s)://host:port/api/channels for a ws(s):// gateway URL.
    static QUrl channelsApiUrl(const QUrl &gatewayUrl);

private:
    std::unique_ptr<QQmlApplicationEngine> m_engine;
    QPointer<qt::Gateway> m_gateway;
    QPointer<QQuickWindow> m_window;
};

} // namespace switchboard::dashboard
