#include "switchboard/qtws/QtPusherAuth.h"

#include <QJsonDocument>
#include <QMessageAuthenticationCode>

namespace switchboard::qtws {

namespace {
/// No copy: the bytes stay `s`'s (valid for the call that uses them).
QByteArray raw(std::string_view s)
{
    return QByteArray::fromRawData(s.data(), static_cast<qsizetype>(s.size()));
}

std::string_view view(const QByteArray &bytes)
{
    return std::string_view(bytes.constData(), static_cast<std::size_t>(bytes.size()));
}
} // namespace

HmacSha256 qtHmacSha256()
{
    return [](std::string_view key, std::string_view message) {
        const QByteArray mac = QMessageAuthenticationCode::hash(raw(message), raw(key), QCryptographicHash::Sha256);
        return mac.toStdString();
    };
}

QString pusherChannelAuth(const PusherApp &app, const QString &socketId, const QString &channel, const QByteArray &channelData)
{
    const QByteArray socket = socketId.toUtf8();
    const QByteArray name = channel.toUtf8();
    return QString::fromStdString(pusherAuth(qtHmacSha256(), app.key, app.secret, view(socket), view(name), view(channelData)));
}

QJsonObject pusherAuthResponse(const PusherApp &app, const QString &socketId, const QString &channel, const QByteArray &channelData)
{
    QJsonObject response{{QStringLiteral("auth"), pusherChannelAuth(app, socketId, channel, channelData)}};
    if (!channelData.isEmpty())
        response.insert(QStringLiteral("channel_data"), QString::fromUtf8(channelData));
    return response;
}

QByteArray pusherChannelData(const QString &userId, const QJsonObject &info)
{
    QJsonObject member{{QStringLiteral("user_id"), userId}};
    if (!info.isEmpty())
        member.insert(QStringLiteral("user_info"), info);
    return QJsonDocument(member).toJson(QJsonDocument::Compact);
}

} // namespace switchboard::qtws
