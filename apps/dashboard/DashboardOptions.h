#pragma once
// DashboardOptions: what switchboard-dashboard is told on its command line.

#include <QSize>
#include <QString>
#include <QStringList>
#include <QUrl>

class QCommandLineParser;

namespace switchboard::dashboard {

/// An empty `url` means embedded mode: the dashboard hosts a Gateway on host:port and connects
/// to it.
struct DashboardOptions {
    QUrl url;                     ///< ws:// or wss:// gateway URL (remote mode)
    QString token;                ///< connect token (remote mode)
    QString apiKey;               ///< HTTP API key of a remote switchboard-gateway (channel list)
    QStringList channels;         ///< channels subscribed at start
    QString host = QStringLiteral("127.0.0.1");  ///< embedded mode: listening address
    int port = 8081;              ///< embedded mode: listening port (0: any free port)
    QString tokensFile;           ///< embedded mode: JSON object of connect tokens (Gateway.tokens)
    QSize size{1280, 800};        ///< initial window size (not with kiosk)
    bool kiosk = false;           ///< panel mode: full screen on the primary screen, no decorations
    bool showCursor = false;      ///< kiosk: keep the mouse cursor (hidden by default: touch panel)
    QString screenshot;           ///< grab the window to this PNG and quit
    int screenshotDelayMs = 2000; ///< how long to run before the screenshot

    bool embedded() const { return url.isEmpty(); }
};

/// Declares the options on `parser` (with --help and --version).
void addDashboardOptions(QCommandLineParser &parser);
/// True when the arguments ask for --help, --help-all or --version (-h, -?, -v): main() answers
/// those with a QCoreApplication, so they work without a display or a QPA platform.
bool asksForHelpOrVersion(int argc, const char *const *argv);
/// Reads the options from a parser that has processed the arguments. False with `error` set when
/// a value is invalid.
bool readDashboardOptions(const QCommandLineParser &parser, DashboardOptions &options, QString &error);

} // namespace switchboard::dashboard
