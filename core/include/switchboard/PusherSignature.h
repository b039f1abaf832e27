#pragma once
// PusherSignature: the Pusher Channels subscription signature, without a crypto library.
//
// A private channel's `auth` is `<key>:<hex HMAC-SHA256(secret, "<socket_id>:<channel>")>`; a
// presence channel's signs `"<socket_id>:<channel>:<channel_data>"`. Core builds the string to
// sign, encodes and compares; the HMAC itself comes from the transport (OpenSSL in
// switchboard-gateway, QMessageAuthenticationCode in Qt), so core and the browser build stay free
// of crypto libraries. Applications that authorize subscriptions themselves (a Laravel backend
// does it for pusher-js) use pusherAuth() to sign.

#include <functional>
#include <string>
#include <string_view>

namespace switchboard {

/// HMAC-SHA256 of `message` under `key`: the 32 raw bytes. Must be thread-safe when the
/// protocol using it is driven from several threads (one at a time is enough otherwise).
using HmacSha256 = std::function<std::string(std::string_view key, std::string_view message)>;

/// "<socket_id>:<channel>" or, with channel data (presence), "<socket_id>:<channel>:<data>".
std::string pusherStringToSign(std::string_view socketId, std::string_view channel, std::string_view channelData = {});
/// Lowercase hex of `bytes`.
std::string toHex(std::string_view bytes);
/// The `auth` value a Pusher client sends: "<key>:<hex signature>".
std::string pusherAuth(const HmacSha256 &hmac, std::string_view key, std::string_view secret,
                       std::string_view socketId, std::string_view channel, std::string_view channelData = {});
/// True when `auth` is exactly pusherAuth(...) of the same arguments. The comparison takes the
/// same time wherever the first difference is (constantTimeEquals).
bool verifyPusherAuth(const HmacSha256 &hmac, std::string_view key, std::string_view secret,
                      std::string_view socketId, std::string_view channel, std::string_view channelData,
                      std::string_view auth);
/// Compares without an early exit on the first differing byte (only the lengths leak).
bool constantTimeEquals(std::string_view a, std::string_view b) noexcept;

} // namespace switchboard
