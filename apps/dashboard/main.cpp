// switchboard-dashboard: a live view of a Switchboard gateway (or of one it hosts itself).

#include "Dashboard.h"
#include "DashboardOptions.h"

#include <QCommandLineParser>
#include <QGuiApplication>
#include <QQuickStyle>
#include <QQuickWindow>
#include <QScreen>
#include <QTimer>
#include <QtQml/qqmlextensionplugin.h>

#include <cstdio>

Q_IMPORT_QML_PLUGIN(SwitchboardDashboardPlugin)

namespace {

void setApplicationNames()
{
    QCoreApplication::setApplicationName(QStringLiteral("switchboard-dashboard"));
    QCoreApplication::setApplicationVersion(QStringLiteral(SWITCHBOARD_VERSION));
}

} // namespace

int main(int argc, char *argv[])
{
    // --help and --version need no display: answered before a QPA platform is loaded (which would
    // abort on a headless machine without QT_QPA_PLATFORM), by the same parser.
    if (switchboard::dashboard::asksForHelpOrVersion(argc, argv)) {
        QCoreApplication app(argc, argv);
        setApplicationNames();
        QCommandLineParser parser;
        switchboard::dashboard::addDashboardOptions(parser);
        parser.process(app); // prints and exits
        return 0;
    }

    QGuiApplication app(argc, argv);
    setApplicationNames();
    QQuickStyle::setStyle(QStringLiteral("Fusion"));

    QCommandLineParser parser;
    switchboard::dashboard::addDashboardOptions(parser);
    parser.process(app);
    switchboard::dashboard::DashboardOptions options;
    QString error;
    if (!switchboard::dashboard::readDashboardOptions(parser, options, error)) {
        std::fprintf(stderr, "switchboard-dashboard: %s\n", qPrintable(error));
        return 2;
    }

    switchboard::dashboard::Dashboard dashboard;
    if (!dashboard.start(options, error)) {
        std::fprintf(stderr, "switchboard-dashboard: %s\n", qPrintable(error));
        return 1;
    }
    if (options.embedded())
        std::printf("switchboard-dashboard: embedded gateway at %s\n",
                    qPrintable(dashboard.find(QStringLiteral("dashboard"))->property("serverUrl").toString()));
    if (options.kiosk) {
        QQuickWindow *window = dashboard.window();
        const QScreen *screen = window->screen();
        std::printf("switchboard-dashboard: kiosk, full screen %dx%d on %s %dx%d (%s)\n", window->width(), window->height(),
                    screen ? qPrintable(screen->name()) : "no screen", screen ? screen->size().width() : 0,
                    screen ? screen->size().height() : 0, qPrintable(QGuiApplication::platformName()));
    }
    std::fflush(stdout);

    if (!options.screenshot.isEmpty()) {
        QTimer::singleShot(options.screenshotDelayMs, &app, [&dashboard, &options] {
            const QImage image = dashboard.window()->grabWindow();
            const bool saved = image.save(options.screenshot);
            if (!saved)
                std::fprintf(stderr, "switchboard-dashboard: cannot write %s\n", qPrintable(options.screenshot));
            QCoreApplication::exit(saved ? 0 : 1);
        });
    }
    return app.exec();
}
