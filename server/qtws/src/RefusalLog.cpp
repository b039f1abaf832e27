#include "RefusalLog.h"

#include <QAbstractSocket>
#include <QHostAddress>

#include <chrono>
#include <mutex>
#include <string>
#include <unordered_map>

namespace switchboard::qtws {

Q_LOGGING_CATEGORY(lcQtGateway, "switchboard.qtws")

namespace {

constexpr unsigned kLinesPerSecond = 10;

struct Window {
    std::chrono::steady_clock::time_point start;
    unsigned written = 0;
    std::uint64_t suppressed = 0;
};

/// True when a line of kind `what` may be written now; `suppressed` says how many were not
/// since the last one written.
bool take(std::string_view what, std::uint64_t &suppressed)
{
    static std::mutex mutex;
    static std::unordered_map<std::string, Window> windows;
    const auto now = std::chrono::steady_clock::now();
    std::lock_guard lock(mutex);
    Window &w = windows[std::string(what)];
    if (now - w.start >= std::chrono::seconds(1)) {
        w.start = now;
        w.written = 0;
    }
    if (w.written >= kLinesPerSecond) {
        ++w.suppressed;
        return false;
    }
    ++w.written;
    suppressed = w.suppressed;
    w.suppressed = 0;
    return true;
}

} // namespace

void logRefusal(std::string_view what, const QAbstractSocket *socket, std::string_view session, std::string_view reason,
                std::string_view user)
{
    if (!lcQtGateway().isInfoEnabled())
        return;
    std::uint64_t suppressed = 0;
    if (!take(what, suppressed))
        return;
    const QString peer = socket ? QStringLiteral("%1:%2").arg(socket->peerAddress().toString()).arg(socket->peerPort())
                                : QStringLiteral("?");
    const QString userPart = user.empty()
        ? QString()
        : QStringLiteral(", user ") + QString::fromUtf8(user.data(), qsizetype(user.size()));
    const QString sessionPart = session.empty()
        ? QString()
        : QStringLiteral(", session ") + QString::fromUtf8(session.data(), qsizetype(session.size()));
    const QString more = suppressed ? QStringLiteral(" (%1 more suppressed)").arg(suppressed) : QString();
    qCInfo(lcQtGateway).noquote() << QStringLiteral("refused %1: peer %2%3: %4%5")
                                         .arg(QString::fromUtf8(what.data(), qsizetype(what.size())), peer,
                                              userPart + sessionPart,
                                              QString::fromUtf8(reason.data(), qsizetype(reason.size())), more);
}

} // namespace switchboard::qtws
