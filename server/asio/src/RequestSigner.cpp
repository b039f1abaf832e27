#include "RequestSigner.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

namespace switchboard::asio {

std::string hmacSha256(std::string_view key, std::string_view data)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char *>(data.data()),
         data.size(), mac, &length);
    return std::string(reinterpret_cast<const char *>(mac), length);
}

std::string hmacSha256Hex(std::string_view key, std::string_view data)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char *>(data.data()),
         data.size(), mac, &length);
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    out.reserve(2 * length);
    for (unsigned int i = 0; i < length; ++i) {
        out.push_back(digits[mac[i] >> 4]);
        out.push_back(digits[mac[i] & 0xf]);
    }
    return out;
}

RequestSignature signRequest(std::string_view secret, std::string_view body, std::chrono::system_clock::time_point now)
{
    RequestSignature out;
    out.timestamp = std::to_string(std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count());
    std::string material;
    material.reserve(out.timestamp.size() + 1 + body.size());
    material.append(out.timestamp).append(".").append(body);
    out.signature = "sha256=" + hmacSha256Hex(secret, material);
    return out;
}

} // namespace switchboard::asio
