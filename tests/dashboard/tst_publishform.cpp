// Qt Quick Test of the dashboard's publish form (qml/tst_*.qml).

#include <QQmlEngine>
#include <QQuickStyle>
#include <QtQml/qqmlextensionplugin.h>
#include <QtQuickTest>

Q_IMPORT_QML_PLUGIN(SwitchboardDashboardPlugin)

class Setup : public QObject
{
    Q_OBJECT

public:
    Setup()
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

QUICK_TEST_MAIN_WITH_SETUP(publishform, Setup)

#include "tst_publishform.moc"
