#include "switchboard/PusherSignature.h"

namespace switchboard {

std::string pusherStringToSign(std::string_view socketId, std::string_view channel, std::string_view channelData)
{
    std::string out;
    out.reserve(socketId.size() + channel.size() + channelData.size() + 2);
    out += socketId;
    out += ':';
    out += channel;
    if (!channelData.empty()) {
        out += ':';
        out += channelData;
    }
    return out;
}

std::string toHex(std::string_view bytes)
{
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string out;
    out.reserve(bytes.size() * 2);
    for (char c : bytes) {
        const auto u = static_cast<unsigned char>(c);
        out += kDigits[u >> 4];
        out += kDigits[u & 0x0F];
    }
    return out;
}

std::string pusherAuth(const HmacSha256 &hmac, std::string_view key, std::string_view secret,
                       std::string_view socketId, std::string_view channel, std::string_view channelData)
{
    std::string out(key);
    out += ':';
    out += toHex(hmac(secret, pusherStringToSign(socketId, channel, channelData)));
    return out;
}

bool verifyPusherAuth(const HmacSha256 &hmac, std::string_view key, std::string_view secret,
                      std::string_view socketId, std::string_view channel, std::string_view channelData,
                      std::string_view auth)
{
    if (!hmac)
        return false;
    return constantTimeEquals(pusherAuth(hmac, key, secret, socketId, channel, channelData), auth);
}

bool constantTimeEquals(std::string_view a, std::string_view b) noexcept
{
    if (a.size() != b.size())
        return false;
    unsigned char difference = 0;
    for (std::size_t i = 0; i < a.size(); ++i)
        difference |= static_cast<unsigned char>(a[i] ^ b[i]);
    // volatile: keep the compiler from turning the loop back into an early exit.
    volatile unsigned char result = difference;
    return result == 0;
}

} // namespace switchboard
