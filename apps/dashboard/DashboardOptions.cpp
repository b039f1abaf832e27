#include "DashboardOptions.h"

#include <QCommandLineParser>
#include <QRegularExpression>

namespace switchboard::dashboard {

void addDashboardOptions(QCommandLineParser &parser)
{
    parser.setApplicationDescription(QStringLiteral(
        "Switchboard live dashboard. With --url it watches a gateway; without, it hosts one "
        "in-process (embedded panel) and watches that."));
    parser.addHelpOption();
    parser.addVersionOption();
    parser.addOptions({
        {QStringLiteral("url"), QStringLiteral("Gateway WebSocket URL, e.g. ws://127.0.0.1:8080/ws."), QStringLiteral("URL")},
        {QStringLiteral("token"), QStringLiteral("Connect token for --url."), QStringLiteral("TOKEN")},
        {QStringLiteral("api-key"), QStringLiteral("HTTP API key of the gateway at --url: lists every channel with its subscribers."), QStringLiteral("KEY")},
        {QStringLiteral("channel"), QStringLiteral("Channel to subscribe at start (repeatable)."), QStringLiteral("NAME")},
        {QStringLiteral("host"), QStringLiteral("Embedded gateway: listening address (default 127.0.0.1)."), QStringLiteral("ADDRESS")},
        {QStringLiteral("port"), QStringLiteral("Embedded gateway: listening port, 0 for any (default 8081)."), QStringLiteral("PORT")},
        {QStringLiteral("tokens"), QStringLiteral("Embedded gateway: JSON file of connect tokens, "
                                                  "{\"TOKEN\": {\"user\": ID, \"info\": {...}, \"channels\": [FILTER...]}}."),
         QStringLiteral("FILE")},
        {QStringLiteral("size"), QStringLiteral("Window size WxH (default 1280x800)."), QStringLiteral("WxH")},
        {QStringLiteral("kiosk"), QStringLiteral("Panel mode: full screen on the primary screen, no window decorations, "
                                                 "no mouse cursor (run with QT_QPA_PLATFORM=eglfs or linuxfb). "
                                                 "Does not go with --size.")},
        {QStringLiteral("show-cursor"), QStringLiteral("With --kiosk: keep the mouse cursor visible.")},
        {QStringLiteral("screenshot"), QStringLiteral("Save the window to this PNG after --screenshot-delay ms, then quit."), QStringLiteral("FILE")},
        {QStringLiteral("screenshot-delay"), QStringLiteral("Milliseconds to run before --screenshot (default 2000)."), QStringLiteral("MS")},
    });
}

bool asksForHelpOrVersion(int argc, const char *const *argv)
{
    static const QStringList asking{QStringLiteral("-h"), QStringLiteral("--help"), QStringLiteral("-?"),
                                    QStringLiteral("--help-all"), QStringLiteral("-v"), QStringLiteral("--version")};
    for (int i = 1; i < argc; ++i) {
        const QString argument = QString::fromLocal8Bit(argv[i]);
        if (argument == QLatin1String("--"))
            return false;
        if (asking.contains(argument))
            return true;
    }
    return false;
}

bool readDashboardOptions(const QCommandLineParser &parser, DashboardOptions &options, QString &error)
{
    if (parser.isSet(QStringLiteral("url"))) {
        options.url = QUrl(parser.value(QStringLiteral("url")), QUrl::StrictMode);
        const QString scheme = options.url.scheme();
        if (!options.url.isValid() || options.url.host().isEmpty()
            || (scheme != QLatin1String("ws") && scheme != QLatin1String("wss"))) {
            error = QStringLiteral("--url must be a ws:// or wss:// URL with a host");
            return false;
        }
    }
    options.token = parser.value(QStringLiteral("token"));
    options.apiKey = parser.value(QStringLiteral("api-key"));
    options.channels = parser.values(QStringLiteral("channel"));
    if (parser.isSet(QStringLiteral("host")))
        options.host = parser.value(QStringLiteral("host"));
    if (parser.isSet(QStringLiteral("port"))) {
        bool ok = false;
        options.port = parser.value(QStringLiteral("port")).toInt(&ok);
        if (!ok || options.port < 0 || options.port > 65535) {
            error = QStringLiteral("--port must be a number from 0 to 65535");
            return false;
        }
    }
    options.tokensFile = parser.value(QStringLiteral("tokens"));
    if (parser.isSet(QStringLiteral("size"))) {
        static const QRegularExpression pattern(QStringLiteral("^(\\d{2,5})x(\\d{2,5})$"));
        const auto match = pattern.match(parser.value(QStringLiteral("size")));
        if (!match.hasMatch()) {
            error = QStringLiteral("--size must look like 1280x800");
            return false;
        }
        options.size = QSize(match.captured(1).toInt(), match.captured(2).toInt());
    }
    options.kiosk = parser.isSet(QStringLiteral("kiosk"));
    options.showCursor = parser.isSet(QStringLiteral("show-cursor"));
    if (options.kiosk && parser.isSet(QStringLiteral("size"))) {
        error = QStringLiteral("--kiosk fills the screen; it does not go with --size");
        return false;
    }
    if (options.showCursor && !options.kiosk) {
        error = QStringLiteral("--show-cursor only applies to --kiosk");
        return false;
    }
    options.screenshot = parser.value(QStringLiteral("screenshot"));
    if (parser.isSet(QStringLiteral("screenshot-delay"))) {
        bool ok = false;
        options.screenshotDelayMs = parser.value(QStringLiteral("screenshot-delay")).toInt(&ok);
        if (!ok || options.screenshotDelayMs < 0) {
            error = QStringLiteral("--screenshot-delay must be a number of milliseconds");
            return false;
        }
    }
    if (!options.embedded() && (parser.isSet(QStringLiteral("tokens")) || parser.isSet(QStringLiteral("port")))) {
        error = QStringLiteral("--port and --tokens configure the embedded gateway; they do not go with --url");
        return false;
    }
    return true;
}

} // namespace switchboard::dashboard
