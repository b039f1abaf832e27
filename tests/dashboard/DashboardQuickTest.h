#pragma once
// Setup shared by the dashboard's Qt Quick Tests (tst_<unit>.cpp running qml/tst_<unit>.qml):
// offscreen unless a platform is chosen, the Fusion style, and the import paths of the
// SwitchboardDashboard (qrc) and Switchboard (build tree) QML modules.

#include <QQmlEngine>
#include <QQuickStyle>
#include <QtQml/qqmlextensionplugin.h>
#include <QtQuickTest>

Q_IMPORT_QML_PLUGIN(SwitchboardDashboardPlugin)

class DashboardQuickTestSetup : public QObject
{
    Q_OBJECT

public:
    DashboardQuickTestSetup()
    {
        if (!qEnvironmentVariableIsSet("QT_QPA_PLATFORM"))
            qputenv("QT_QPA_PLATFORM", "offscreen");
    }

public Q_SLOTS:
    void applicationAvailable() { QQuickStyle::setStyle(QStringLiteral("Fusion")); }
    void qmlEngineAvailable(QQmlEngine *engine)
    {
        engine->addImportPath(QStringLiteral("qrc:/"));
        engine->addImportPath(QStringLiteral(SWITCHBOARD_QML_IMPORT_DIR));
    }
};
