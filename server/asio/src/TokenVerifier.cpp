// JWT HS256 with OpenSSL (HMAC, base64, constant-time compare) and Boost.JSON for the claims.
#include "switchboard/asio/TokenVerifier.h"

#include <switchboard/JsonParse.h>
#include <switchboard/TokenAuthorizer.h>
#include <switchboard/TopicFilter.h>

#include <boost/json.hpp>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <algorithm>
#include <optional>
#include <stdexcept>

namespace json = boost::json;

namespace switchboard::asio {

namespace {

/// base64url without padding (RFC 7515): OpenSSL's standard alphabet, then translated.
std::string base64UrlEncode(std::string_view in)
{
    std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
    const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char *>(out.data()),
                                  reinterpret_cast<const unsigned char *>(in.data()), static_cast<int>(in.size()));
    out.resize(static_cast<std::size_t>(n));
    while (!out.empty() && out.back() == '=')
        out.pop_back();
    std::replace(out.begin(), out.end(), '+', '-');
    std::replace(out.begin(), out.end(), '/', '_');
    return out;
}

std::optional<std::string> base64UrlDecode(std::string_view in)
{
    if (in.size() % 4 == 1)
        return std::nullopt;
    std::string std(in);
    for (char &c : std) {
        if (c == '-') c = '+';
        else if (c == '_') c = '/';
        else if (c == '+' || c == '/' || c == '=') return std::nullopt; // not base64url
    }
    const std::size_t pad = (4 - std.size() % 4) % 4;
    std.append(pad, '=');
    std::string out(std.size() / 4 * 3, '\0');
    const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char *>(out.data()),
                                  reinterpret_cast<const unsigned char *>(std.data()), static_cast<int>(std.size()));
    if (n < 0)
        return std::nullopt;
    out.resize(static_cast<std::size_t>(n) - pad); // EVP_DecodeBlock counts padding as zero bytes
    return out;
}

std::string hmacSha256(std::string_view key, std::string_view data)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char *>(data.data()),
         data.size(), mac, &len);
    return std::string(reinterpret_cast<const char *>(mac), len);
}

TokenCheck invalid(std::string reason)
{
    TokenCheck c;
    c.reason = std::move(reason);
    return c;
}

} // namespace

TokenVerifier::TokenVerifier(std::string secret) : m_secret(std::move(secret)) {}

TokenCheck TokenVerifier::verify(std::string_view token, std::int64_t nowSeconds) const
{
    const auto dot1 = token.find('.');
    const auto dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
    if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos)
        return invalid("malformed token");
    const auto header = base64UrlDecode(token.substr(0, dot1));
    const auto payload = base64UrlDecode(token.substr(dot1 + 1, dot2 - dot1 - 1));
    const auto signature = base64UrlDecode(token.substr(dot2 + 1));
    if (!header || !payload || !signature)
        return invalid("malformed token");

    boost::system::error_code ec;
    const json::value h = json::parse(*header, ec);
    if (ec || !h.is_object())
        return invalid("malformed token header");
    const auto *alg = h.get_object().if_contains("alg");
    if (!alg || !alg->is_string() || alg->get_string() != "HS256")
        return invalid("unsupported token algorithm (HS256 only)");

    const std::string expected = hmacSha256(m_secret, token.substr(0, dot2));
    if (signature->size() != expected.size() || CRYPTO_memcmp(signature->data(), expected.data(), expected.size()) != 0)
        return invalid("bad token signature");

    // parseJson: `info` is relayed to presence subscribers, so it must hold only numbers JSON can carry.
    json::value p;
    if (const auto problem = parseJson(*payload, p))
        return invalid("malformed token claims: " + problem->message);
    if (!p.is_object())
        return invalid("malformed token claims");
    const auto &claims = p.get_object();
    TokenCheck check;
    if (const auto *sub = claims.if_contains("sub")) {
        if (!sub->is_string())
            return invalid("claim 'sub' must be a string");
        check.principal.userId = std::string(sub->get_string());
    }
    if (const auto *info = claims.if_contains("info"); info && !info->is_null())
        check.principal.userInfo = json::serialize(*info);
    if (const auto *channels = claims.if_contains("channels")) {
        if (!channels->is_array())
            return invalid("claim 'channels' must be an array of channel patterns");
        for (const auto &pattern : channels->get_array()) {
            if (!pattern.is_string() || validateTopicFilter(pattern.get_string()))
                return invalid("claim 'channels' holds an invalid channel pattern");
            check.principal.channelPatterns.emplace_back(pattern.get_string());
        }
    }
    if (const auto *exp = claims.if_contains("exp")) {
        if (!exp->is_number())
            return invalid("claim 'exp' must be a number");
        // Seconds whose milliseconds fit in 64 bits (about 292 million years); beyond, the
        // conversions below would overflow.
        constexpr double kMaxExpSeconds = 9'223'372'036'854'775.0;
        const double expValue = exp->to_number<double>();
        if (!(expValue > -kMaxExpSeconds && expValue < kMaxExpSeconds))
            return invalid("claim 'exp' out of range");
        const auto expSeconds = static_cast<std::int64_t>(expValue);
        if (expSeconds <= nowSeconds) {
            TokenCheck expired = invalid("token expired");
            expired.expired = true;
            return expired;
        }
        check.expiresAtMs = expSeconds * 1000;
    }
    check.valid = true;
    return check;
}

std::string TokenVerifier::issue(const TokenClaims &claims) const
{
    json::object payload;
    payload["sub"] = claims.subject;
    if (!claims.infoJson.empty()) {
        // parseJson() as verify() does, so that a principal's info survives issue() -> verify().
        json::value info;
        if (const auto problem = parseJson(claims.infoJson, info))
            throw std::invalid_argument("token info: " + problem->message);
        payload["info"] = std::move(info);
    }
    json::array channels;
    for (const auto &c : claims.channels)
        channels.emplace_back(c);
    payload["channels"] = std::move(channels);
    if (claims.expiresAt != 0)
        payload["exp"] = claims.expiresAt;
    const std::string signingInput = base64UrlEncode(R"({"alg":"HS256","typ":"JWT"})") + '.'
        + base64UrlEncode(json::serialize(payload));
    return signingInput + '.' + base64UrlEncode(hmacSha256(m_secret, signingInput));
}

bool TokenVerifier::allows(const Principal &principal, std::string_view channel)
{
    return principalAllows(principal, channel);
}

std::string randomHex(std::size_t bytes)
{
    std::string raw(bytes, '\0');
    if (RAND_bytes(reinterpret_cast<unsigned char *>(raw.data()), static_cast<int>(bytes)) != 1)
        throw std::runtime_error("OpenSSL RAND_bytes failed");
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    out.reserve(bytes * 2);
    for (unsigned char c : raw) {
        out.push_back(digits[c >> 4]);
        out.push_back(digits[c & 15]);
    }
    return out;
}

} // namespace switchboard::asio
