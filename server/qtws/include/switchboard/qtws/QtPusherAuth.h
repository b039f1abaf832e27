#pragma once
// QtPusherAuth: Pusher Channels signatures on Qt (QMessageAuthenticationCode, Qt Core), for the
// Qt gateway's PusherProtocol and for applications that answer pusher-js's auth endpoint
// themselves (what Laravel's /broadcasting/auth does for a Laravel backend).

#include <switchboard/PusherProtocol.h>
#include <switchboard/PusherSignature.h>

#include <QByteArray>
#include <QJsonObject>
#include <QString>

namespace switchboard::qtws {

/// HMAC-SHA256 with QMessageAuthenticationCode: what PusherProtocol needs from its transport.
/// Thread-safe (no shared state).
HmacSha256 qtHmacSha256();

/// The `auth` value that authorizes `socketId` (the `socket_id` pusher-js sends to its auth
/// endpoint) on `channel`: "KEY:hex(HMAC-SHA256(SECRET, "SOCKET_ID:CHANNEL"))". For a presence
/// channel pass the member as `channelData` (JSON text with `user_id`, and `user_info`): it is
/// signed as "SOCKET_ID:CHANNEL:CHANNEL_DATA" and must reach the client byte for byte (use
/// pusherAuthResponse(), which carries it). Deciding whether the user may join is the caller's
/// job; this only signs. Thread-safe.
QString pusherChannelAuth(const PusherApp &app, const QString &socketId, const QString &channel,
                          const QByteArray &channelData = {});

/// The JSON body an auth endpoint answers pusher-js (or laravel-echo) with: {"auth": ...} and, for
/// presence, "channel_data" holding the signed text. Send it as application/json, or hand it to
/// the callback of pusher-js's `channelAuthorization.customHandler` / Echo's `authorizer`.
QJsonObject pusherAuthResponse(const PusherApp &app, const QString &socketId, const QString &channel,
                               const QByteArray &channelData = {});

/// The presence member as pusher-js expects it in channel_data: {"user_id": userId,
/// "user_info": info} (no user_info when `info` is empty), compact JSON.
QByteArray pusherChannelData(const QString &userId, const QJsonObject &info = {});

} // namespace switchboard::qtws
