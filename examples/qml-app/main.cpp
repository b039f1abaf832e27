// Loads Main.qml (by qrc: URL: Qt 6.4 has no QQmlApplicationEngine::loadFromModule). The QML
// module Switchboard is found on Qt's import path: installed into Qt's QML directory (the
// Debian packages) it needs nothing; installed elsewhere, set QML_IMPORT_PATH to
// <prefix>/lib/<triplet>/qt6/qml.
//
// --check: quit with exit code 0 once the window's client is connected, present in the roster
// and has received a publication (1 after 20 s without): how CI runs it (offscreen).
#include <QGuiApplication>
#include <QQmlApplicationEngine>
#include <QQmlContext>
#include <QTimer>

int main(int argc, char *argv[])
{
    QGuiApplication app(argc, argv);
    const bool check = app.arguments().contains(QStringLiteral("--check"));
    QQmlApplicationEngine engine;
    engine.rootContext()->setContextProperty(QStringLiteral("checkMode"), check);
    QObject::connect(&engine, &QQmlApplicationEngine::objectCreationFailed, &app, [] { QCoreApplication::exit(2); },
                     Qt::QueuedConnection);
    engine.load(QUrl(QStringLiteral("qrc:/Main.qml")));
    if (check)
        QTimer::singleShot(20000, &app, [] {
            qWarning("switchboard-qml-app: not connected with a publication within 20 s");
            QCoreApplication::exit(1);
        });
    return app.exec();
}
